"""Where the datasets, checkpoints, results and pretrained weights are on this machine.

One set of paths serves training, testing and analysis:

    settings = env_settings()                                  # from lib/config/local.py
    settings = env_settings(data_dir="DATA", save_dir="out")   # folders given on the command line
    root = dataset_dir(settings, "lasher_test")                # error naming the setting if missing

``lib/config/local.py`` (ignored by git) is written by ``python tracking/create_default_local_file.py
--workspace_dir . --data_dir DATA --save_dir ./output`` and holds one assignment per path
(``lasher_dir = '/data/lasher'`` ...); edit it freely. The OSTrack locations
``lib/train/admin/local.py`` and ``lib/test/evaluation/local.py`` are written too, as shims that
re-export it, for scripts and habits that expect them.

Paths (all absolute): ``workspace_dir``, ``save_dir`` (checkpoints, logs, results),
``results_path`` (``<save_dir>/test/tracking_results``), ``tensorboard_dir``
(``<save_dir>/tensorboard``), ``pretrained_networks`` (``<workspace_dir>/pretrained_models``) and one
folder per dataset: ``lasher_dir`` (the folder holding ``trainingset/``, ``testingset/`` and the
list files, or the ``testingset`` folder itself), ``rgbt234_dir``, ``rgbt210_dir``, ``gtot_dir``.
"""
from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Dict, Optional, Union

__all__ = ["Settings", "SettingsError", "env_settings", "settings_from_data_dir", "load_local_file",
           "dataset_dir", "default_paths", "local_file_text", "LOCAL_FILE", "OSTRACK_LOCAL_FILES",
           "CREATE_COMMAND", "DATASET_SETTINGS", "PRJ_DIR"]

PathLike = Union[str, os.PathLike]
PRJ_DIR = Path(__file__).resolve().parents[2]
LOCAL_FILE = PRJ_DIR / "lib" / "config" / "local.py"
OSTRACK_LOCAL_FILES = (PRJ_DIR / "lib" / "train" / "admin" / "local.py",
                       PRJ_DIR / "lib" / "test" / "evaluation" / "local.py")
CREATE_COMMAND = "python tracking/create_default_local_file.py --workspace_dir . --data_dir DATA --save_dir ./output"

# dataset name -> the setting holding its folder; setting -> its sub-folder of DATA
DATASET_SETTINGS = {"lasher_test": "lasher_dir", "lasher_train": "lasher_dir", "rgbt234": "rgbt234_dir",
                    "rgbt210": "rgbt210_dir", "gtot": "gtot_dir"}
DATA_SUBDIRS = {"lasher_dir": "lasher", "rgbt234_dir": "rgbt234", "rgbt210_dir": "rgbt210", "gtot_dir": "gtot"}
# names in older (pytracking-style) local files -> ours
_LEGACY_NAMES = {"lasher_path": "lasher_dir", "rgbt234_path": "rgbt234_dir", "rgbt210_path": "rgbt210_dir",
                 "gtot_path": "gtot_dir"}
_LASHER_MARKERS = ("testingset", "trainingset", "testingsetList.txt", "trainingsetList.txt")


class SettingsError(FileNotFoundError):
    """The local file is missing or broken, or a configured folder does not exist."""


@dataclass
class Settings:
    """The paths of this machine (empty string: not set) and where they came from (``source``)."""

    workspace_dir: str = ""
    save_dir: str = ""
    results_path: str = ""
    tensorboard_dir: str = ""
    pretrained_networks: str = ""
    lasher_dir: str = ""
    rgbt234_dir: str = ""
    rgbt210_dir: str = ""
    gtot_dir: str = ""
    source: str = "defaults"

    def with_save_dir(self, save_dir: PathLike) -> "Settings":
        """These settings with ``save_dir`` and the folders under it replaced."""
        save = Path(save_dir).expanduser().absolute()
        return Settings(**{**self._paths(), "save_dir": str(save), "results_path": str(save / "test" / "tracking_results"),
                           "tensorboard_dir": str(save / "tensorboard")},
                        source=f"{self.source} (save_dir from --save_dir)")

    def _paths(self) -> Dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "source"}


PATH_NAMES = tuple(f.name for f in fields(Settings) if f.name != "source")


def dataset_subdir(data_dir: PathLike, setting: str) -> Path:
    """``DATA/<name>`` for a dataset setting (``lasher_dir`` -> ``DATA/lasher``): the exact name, else a
    case-insensitive match (``LasHeR``, ``RGBT234``); for LasHeR, ``DATA`` itself when it has the
    LasHeR layout and no ``lasher`` sub-folder. Otherwise the canonical (missing) path."""
    data_dir = Path(data_dir).expanduser().absolute()
    name = DATA_SUBDIRS[setting]
    if (data_dir / name).is_dir():
        return data_dir / name
    try:
        entries = sorted(os.listdir(data_dir))
    except OSError:
        entries = []
    for entry in entries:
        if entry.lower() == name and (data_dir / entry).is_dir():
            return data_dir / entry
    if setting == "lasher_dir" and any((data_dir / marker).exists() for marker in _LASHER_MARKERS):
        return data_dir
    return data_dir / name


def default_paths(workspace_dir: Optional[PathLike], data_dir: PathLike,
                  save_dir: Optional[PathLike] = None) -> Dict[str, Path]:
    """Every path derived from three folders: ``workspace_dir`` (default the repository), ``save_dir``
    (default ``<workspace_dir>/output``) and ``data_dir`` (the datasets' parent folder)."""
    workspace = Path(workspace_dir).expanduser().absolute() if workspace_dir is not None else PRJ_DIR
    save = Path(save_dir).expanduser().absolute() if save_dir is not None else workspace / "output"
    paths = {"workspace_dir": workspace, "save_dir": save, "results_path": save / "test" / "tracking_results",
             "tensorboard_dir": save / "tensorboard", "pretrained_networks": workspace / "pretrained_models"}
    paths.update({setting: dataset_subdir(data_dir, setting) for setting in DATA_SUBDIRS})
    return paths


def settings_from_data_dir(data_dir: PathLike, save_dir: Optional[PathLike] = None,
                           workspace_dir: Optional[PathLike] = None) -> Settings:
    """Settings from folders alone, without reading the local file (tests, the demo, ``--data_dir``)."""
    paths = default_paths(workspace_dir, data_dir, save_dir)
    return Settings(**{name: str(value) for name, value in paths.items()}, source=f"--data_dir {data_dir}")


def local_file_text(paths: Dict[str, PathLike]) -> str:
    """The content of ``lib/config/local.py`` for the given paths."""
    width = max(len(name) for name in PATH_NAMES)
    lines = [f"{name.ljust(width)} = {str(paths[name])!r}" for name in PATH_NAMES]
    return ('"""Paths of this machine for training, testing and analysis. Written by\n'
            'tracking/create_default_local_file.py; ignored by git; edit freely. lasher_dir: the folder\n'
            'holding trainingset/ and testingset/ (or, for testing, the testingset folder itself)."""\n'
            + "\n".join(lines) + "\n")


def load_local_file(path: PathLike = None) -> Settings:
    """The settings of the local file (default ``lib/config/local.py``); SettingsError if it is
    missing or cannot be run. Unset paths are derived from ``save_dir`` and ``workspace_dir``."""
    path = Path(path) if path is not None else LOCAL_FILE
    if not path.is_file():
        raise SettingsError(f"{path} does not exist. Create it with\n    {CREATE_COMMAND}\n(from the repository "
                            f"root, DATA being the folder that holds lasher/, rgbt234/, ...), or pass --data_dir DATA "
                            f"to the command.")
    spec = importlib.util.spec_from_file_location("lib_local_settings", str(path))
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        raise SettingsError(f"cannot load {path}: {type(err).__name__}: {err}; fix it or recreate it with\n"
                            f"    {CREATE_COMMAND}") from err
    values = {name: str(getattr(module, name, "") or "") for name in PATH_NAMES}
    for old, new in _LEGACY_NAMES.items():
        if getattr(module, old, "") and not values[new]:
            values[new] = str(getattr(module, old))
    if values["save_dir"]:
        save = Path(values["save_dir"])
        values["results_path"] = values["results_path"] or str(save / "test" / "tracking_results")
        values["tensorboard_dir"] = values["tensorboard_dir"] or str(save / "tensorboard")
    if values["workspace_dir"] and not values["pretrained_networks"]:
        values["pretrained_networks"] = str(Path(values["workspace_dir"]) / "pretrained_models")
    return Settings(**values, source=str(path))


def env_settings(data_dir: Optional[PathLike] = None, save_dir: Optional[PathLike] = None) -> Settings:
    """The local file's settings with the command line's overrides.

    ``data_dir`` replaces the dataset folders (``DATA/lasher`` ...); the local file is then optional
    (its ``save_dir`` and ``workspace_dir`` are used when it exists). ``save_dir`` replaces
    ``save_dir`` and the folders under it. Without ``data_dir`` a missing local file is an error
    naming the file and the command that creates it.
    """
    if data_dir is not None:
        try:
            base = load_local_file()
        except SettingsError:
            base = Settings()
        return settings_from_data_dir(data_dir, save_dir=save_dir or base.save_dir or None,
                                      workspace_dir=base.workspace_dir or None)
    settings = load_local_file()
    if save_dir is not None:
        settings = settings.with_save_dir(save_dir)
    if not settings.save_dir:
        raise SettingsError(f"save_dir is not set in {settings.source}; set it there or pass --save_dir")
    return settings


def dataset_dir(settings: Settings, dataset: str) -> Path:
    """The folder of ``dataset`` (a key of DATASET_SETTINGS); SettingsError naming the setting, the
    path and where the setting came from when it is unset or missing."""
    if dataset not in DATASET_SETTINGS:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASET_SETTINGS)}")
    setting = DATASET_SETTINGS[dataset]
    hint = f"pass --data_dir DATA (expects DATA/{DATA_SUBDIRS[setting]})"
    value = getattr(settings, setting)
    if not value:
        raise SettingsError(f"{setting} is not set in {settings.source}; needed for dataset {dataset!r}. "
                            f"Set it there or {hint}.")
    path = Path(value).expanduser()
    if not path.is_dir():
        raise SettingsError(f"dataset folder for {dataset!r} not found: {setting} = {str(path)!r} (from "
                            f"{settings.source}) does not exist. Fix {setting} or {hint}.")
    return path
