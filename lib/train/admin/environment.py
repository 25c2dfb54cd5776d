"""Training-side local settings: ``lib/train/admin/local.py`` or ``--data_dir``.

    settings = env_settings()                                  # from local.py (error if missing)
    settings = env_settings(data_dir="DATA", save_dir="out")   # overrides; local.py optional
    settings = settings_from_data_dir("DATA", save_dir="out")  # folders only, local.py never read
    root = dataset_dir(settings, "lasher_train")               # error naming setting + path if missing

``local.py`` is written by ``python tracking/create_default_local_file.py --workspace_dir .
--data_dir DATA --save_dir ./output`` (git-ignored) and defines ``class EnvironmentSettings``
with the attributes below (the pytracking shape).

Attributes: ``workspace_dir``, ``save_dir``, ``tensorboard_dir`` (``<save_dir>/tensorboard``),
``pretrained_networks`` (``<workspace_dir>/pretrained_models``), ``lasher_dir`` (the folder
holding ``trainingset/``, ``testingset/`` and the list files), ``rgbt234_dir``, ``rgbt210_dir``,
``gtot_dir``, ``source`` (where they came from, for error messages).
"""
from __future__ import annotations

from pathlib import Path

from lib.test.evaluation.environment import (
    CREATE_COMMAND,
    DATA_SUBDIRS,
    PRJ_DIR,
    SettingsError,
    dataset_dir,
    default_paths,
    load_module_from_file,
)

__all__ = ["EnvironmentSettings", "env_settings", "settings_from_data_dir", "dataset_dir", "SettingsError",
           "LOCAL_FILE"]

LOCAL_FILE = PRJ_DIR / "lib" / "train" / "admin" / "local.py"
_ATTRS = ("workspace_dir", "save_dir", "tensorboard_dir", "pretrained_networks") + tuple(DATA_SUBDIRS)


class EnvironmentSettings:
    """Paths for training; unset attributes are empty strings."""

    def __init__(self):
        for attr in _ATTRS:
            setattr(self, attr, "")
        self.source = "defaults"

    def __repr__(self) -> str:
        items = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"EnvironmentSettings({items})"


def settings_from_data_dir(data_dir, save_dir=None, workspace_dir=None) -> EnvironmentSettings:
    """Settings from folders alone (local.py is not read): datasets at ``DATA/lasher``,
    ``DATA/rgbt234`` ...; ``save_dir`` defaults to ``<workspace_dir>/output`` and
    ``workspace_dir`` to the repository."""
    s = EnvironmentSettings()
    paths = default_paths(workspace_dir, data_dir, save_dir)
    for attr in _ATTRS:
        setattr(s, attr, str(paths[attr]))
    s.source = f"--data_dir {data_dir}"
    return s


def _load_local() -> EnvironmentSettings:
    if not LOCAL_FILE.is_file():
        raise SettingsError(
            f"{LOCAL_FILE} does not exist. Create it with\n    {CREATE_COMMAND}\n"
            f"(from the repository root, DATA being the folder that holds lasher/), or pass --data_dir DATA.")
    module = load_module_from_file(LOCAL_FILE, "lib.train.admin.local")
    if not hasattr(module, "EnvironmentSettings"):
        raise SettingsError(f"{LOCAL_FILE} defines no EnvironmentSettings; recreate it with\n    {CREATE_COMMAND}")
    local = module.EnvironmentSettings()
    s = EnvironmentSettings()
    for attr in _ATTRS:
        setattr(s, attr, str(getattr(local, attr, "") or ""))
    if s.save_dir and not s.tensorboard_dir:
        s.tensorboard_dir = str(Path(s.save_dir) / "tensorboard")
    s.source = str(LOCAL_FILE)
    return s


def env_settings(data_dir=None, save_dir=None) -> EnvironmentSettings:
    """Training settings from local.py; ``data_dir`` replaces the dataset folders (then local.py
    is optional), ``save_dir`` replaces ``save_dir`` and ``tensorboard_dir``."""
    if data_dir is not None:
        try:
            base = _load_local()
        except SettingsError:
            base = EnvironmentSettings()
        return settings_from_data_dir(data_dir, save_dir=save_dir or base.save_dir or None,
                                      workspace_dir=base.workspace_dir or None)
    s = _load_local()
    if save_dir is not None:
        save = Path(save_dir).expanduser().absolute()
        s.save_dir = str(save)
        s.tensorboard_dir = str(save / "tensorboard")
    return s
