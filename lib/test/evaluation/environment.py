"""Where the datasets and results are: ``lib/test/evaluation/local.py`` or ``--data_dir``.

    settings = env_settings()                        # from local.py (error if missing)
    settings = env_settings(data_dir="DATA")         # DATA/lasher, DATA/rgbt234, ...; local.py optional
    root = dataset_dir(settings, "lasher_test")      # error naming the setting and path if missing

``local.py`` is written by ``python tracking/create_default_local_file.py --workspace_dir .
--data_dir DATA --save_dir ./output`` and ignored by git. It defines ``local_env_settings()``
returning an ``EnvSettings`` (the pytracking shape).

Attributes: ``workspace_dir``, ``save_dir``, ``results_path`` (``<save_dir>/test/tracking_results``),
``lasher_dir`` (the folder holding ``trainingset/``, ``testingset/`` and the list files, or the
``testingset`` folder itself), ``rgbt234_dir``, ``rgbt210_dir``, ``gtot_dir``, ``tensorboard_dir``,
``pretrained_networks``, ``prj_dir`` (the repository) and ``source`` (where they came from, for
error messages).

The helpers ``default_paths`` and ``dataset_subdir`` are shared with
``lib/train/admin/environment.py`` so both sides resolve ``--data_dir`` identically.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
from pathlib import Path
from typing import Dict, Optional, Union

__all__ = [
    "EnvSettings",
    "DATASET_SETTINGS",
    "SettingsError",
    "env_settings",
    "settings_from_data_dir",
    "dataset_dir",
    "default_paths",
    "dataset_subdir",
    "LOCAL_FILE",
    "CREATE_COMMAND",
    "PRJ_DIR",
]

PathLike = Union[str, os.PathLike]
PRJ_DIR = Path(__file__).resolve().parents[3]
LOCAL_FILE = PRJ_DIR / "lib" / "test" / "evaluation" / "local.py"
CREATE_COMMAND = ("python tracking/create_default_local_file.py --workspace_dir . --data_dir DATA "
                  "--save_dir ./output")

# dataset name -> settings attribute holding its folder
DATASET_SETTINGS = {
    "lasher_test": "lasher_dir",
    "lasher_train": "lasher_dir",
    "rgbt234": "rgbt234_dir",
    "rgbt210": "rgbt210_dir",
    "gtot": "gtot_dir",
}
# settings attribute -> sub-folder of DATA
DATA_SUBDIRS = {"lasher_dir": "lasher", "rgbt234_dir": "rgbt234", "rgbt210_dir": "rgbt210", "gtot_dir": "gtot"}
# names used by older local files (pytracking/OSTrack style) -> our attribute
_LEGACY = {"lasher_path": "lasher_dir", "rgbt234_path": "rgbt234_dir", "rgbt210_path": "rgbt210_dir",
           "gtot_path": "gtot_dir"}


class SettingsError(FileNotFoundError):
    """local.py missing, or a configured folder that does not exist."""


def _looks_like_lasher(folder: Path) -> bool:
    return any((folder / n).exists() for n in ("testingset", "trainingset", "testingsetList.txt",
                                               "trainingsetList.txt"))


def dataset_subdir(data_dir: PathLike, attr: str) -> Path:
    """``DATA/<name>`` for a settings attribute (``lasher_dir`` -> ``DATA/lasher``). The exact
    lower-case name is preferred, then a case-insensitive match (``LasHeR``, ``RGBT234``); for
    LasHeR, ``DATA`` itself when it has the LasHeR layout (``testingset/`` ...) and no
    ``lasher`` sub-folder. Otherwise the canonical (missing) path, reported when used."""
    data_dir = Path(data_dir).expanduser().absolute()
    name = DATA_SUBDIRS[attr]
    exact = data_dir / name
    if exact.is_dir():
        return exact
    try:
        for entry in sorted(os.listdir(data_dir)):
            if entry.lower() == name and (data_dir / entry).is_dir():
                return data_dir / entry
    except OSError:
        pass
    if attr == "lasher_dir" and data_dir.is_dir() and _looks_like_lasher(data_dir):
        return data_dir
    return exact


def default_paths(workspace_dir: Optional[PathLike], data_dir: PathLike,
                  save_dir: Optional[PathLike] = None) -> Dict[str, Path]:
    """All settings derived from the three folders (absolute paths): ``workspace_dir`` (default:
    the repository), ``save_dir`` (default ``<workspace_dir>/output``), the dataset folders under
    ``data_dir``, ``tensorboard_dir = <save_dir>/tensorboard``, ``pretrained_networks =
    <workspace_dir>/pretrained_models``, ``results_path = <save_dir>/test/tracking_results``."""
    ws = Path(workspace_dir).expanduser().absolute() if workspace_dir is not None else PRJ_DIR
    save = Path(save_dir).expanduser().absolute() if save_dir is not None else ws / "output"
    paths = {
        "workspace_dir": ws,
        "save_dir": save,
        "results_path": save / "test" / "tracking_results",
        "tensorboard_dir": save / "tensorboard",
        "pretrained_networks": ws / "pretrained_models",
    }
    for attr in DATA_SUBDIRS:
        paths[attr] = dataset_subdir(data_dir, attr)
    return paths


class EnvSettings:
    """Paths for testing. Unset attributes are empty strings (pytracking convention)."""

    def __init__(self):
        self.prj_dir = str(PRJ_DIR)
        self.workspace_dir = ""
        self.save_dir = ""
        self.results_path = ""
        self.tensorboard_dir = ""
        self.pretrained_networks = ""
        for attr in DATA_SUBDIRS:
            setattr(self, attr, "")
        self.source = "defaults"

    def __repr__(self) -> str:
        items = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"EnvSettings({items})"


def settings_from_data_dir(data_dir: PathLike, save_dir: Optional[PathLike] = None,
                           workspace_dir: Optional[PathLike] = None) -> EnvSettings:
    """Settings built from folders alone, without reading local.py (tests, the demo, --data_dir)."""
    s = EnvSettings()
    for k, v in default_paths(workspace_dir, data_dir, save_dir).items():
        setattr(s, k, str(v))
    s.source = f"--data_dir {data_dir}"
    return s


def load_module_from_file(path: Path, name: str):
    """Import a local settings file by path (freshly, so a just-written file is seen)."""
    spec = importlib.util.spec_from_file_location(name, str(path))
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        raise SettingsError(f"cannot load {path}: {type(e).__name__}: {e}; fix it or recreate it with\n"
                            f"    {CREATE_COMMAND}") from e
    return module


def _load_local():
    """The ``local_env_settings()`` result of local.py; SettingsError if the file is missing."""
    if not LOCAL_FILE.is_file():
        raise SettingsError(
            f"{LOCAL_FILE} does not exist. Create it with\n    {CREATE_COMMAND}\n"
            f"(from the repository root, DATA being the folder that holds lasher/, rgbt234/, ...), "
            f"or pass --data_dir DATA to the command.")
    module = load_module_from_file(LOCAL_FILE, "lib.test.evaluation.local")
    if not hasattr(module, "local_env_settings"):
        raise SettingsError(f"{LOCAL_FILE} defines no local_env_settings(); recreate it with\n    {CREATE_COMMAND}")
    s = module.local_env_settings()
    for old, new in _LEGACY.items():
        if getattr(s, old, "") and not getattr(s, new, ""):
            setattr(s, new, getattr(s, old))
    if getattr(s, "save_dir", "") and not getattr(s, "results_path", ""):
        s.results_path = str(Path(s.save_dir) / "test" / "tracking_results")
    s.source = str(LOCAL_FILE)
    return s


def env_settings(data_dir: Optional[PathLike] = None, save_dir: Optional[PathLike] = None) -> EnvSettings:
    """Test settings from local.py, with optional overrides.

    ``data_dir`` replaces the dataset folders (``DATA/lasher`` ...); then local.py is optional
    (used for ``save_dir``/``workspace_dir`` when present). ``save_dir`` replaces ``save_dir`` and
    the paths under it. Without ``data_dir``, a missing local.py is an error naming the file and
    the command that creates it.
    """
    if data_dir is not None:
        try:
            base = _load_local()
        except SettingsError:
            base = EnvSettings()
        ws = getattr(base, "workspace_dir", "") or None
        if save_dir is None:
            save_dir = getattr(base, "save_dir", "") or None
        return settings_from_data_dir(data_dir, save_dir=save_dir, workspace_dir=ws)
    s = _load_local()
    if save_dir is not None:
        save = Path(save_dir).expanduser().absolute()
        s.save_dir = str(save)
        s.results_path = str(save / "test" / "tracking_results")
        s.tensorboard_dir = str(save / "tensorboard")
        s.source = f"{s.source} (save_dir from --save_dir)"
    if not getattr(s, "save_dir", ""):
        raise SettingsError(f"save_dir is not set in {s.source}; set it there or pass --save_dir")
    return s


def dataset_dir(settings: EnvSettings, dataset_name: str) -> Path:
    """The folder of ``dataset_name`` per the settings; SettingsError naming the setting, the path
    tried and where the setting came from when it is unset or missing."""
    from lib.data.datasets import dataset_key
    attr = DATASET_SETTINGS[dataset_key(dataset_name)]
    value = getattr(settings, attr, "")
    if not value:
        raise SettingsError(f"{attr} is not set in {settings.source}; needed for dataset {dataset_name!r}. "
                            f"Set it there or pass --data_dir DATA (expects DATA/{DATA_SUBDIRS[attr]}).")
    path = Path(value).expanduser()
    if not path.is_dir():
        raise SettingsError(f"dataset folder for {dataset_name!r} not found: {attr} = {str(path)!r} "
                            f"(from {settings.source}) does not exist. Fix {attr} or pass --data_dir DATA "
                            f"(expects DATA/{DATA_SUBDIRS[attr]}).")
    return path
