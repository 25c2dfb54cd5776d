"""Experiment configs: DEFAULTS (lib/config/defaults.py) overridden by a YAML file.

    cfg = load_config("vitb_256_tbsi_32x1_1e4_lasher_15ep_sot")   # experiments/tbsi_track/<name>.yaml
    cfg = load_config("path/to/my.yaml")
    cfg.MODEL.BACKBONE.TBSI_LOC, cfg.TRAIN.LR, cfg.TEST.EPOCH ...

A key that is not in DEFAULTS is an error naming the key and the file.
"""
import copy
import sys
from pathlib import Path
from typing import Optional

import yaml

from .defaults import DEFAULTS, INERT_KEYS

REPO_ROOT = Path(__file__).resolve().parents[2]
_warned_inert = set()


class Config(dict):
    """A nested dict whose keys can also be read as attributes (cfg.TRAIN.LR)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"config has no key {name!r}") from None

    def __setattr__(self, name, value):
        self[name] = value

    def __deepcopy__(self, memo):
        return Config({k: copy.deepcopy(v, memo) for k, v in self.items()})

    def to_dict(self):
        """Plain nested dicts and lists (for YAML dumps and checkpoints)."""
        return {k: v.to_dict() if isinstance(v, Config) else copy.deepcopy(v) for k, v in self.items()}


def _to_config(tree):
    return Config({k: _to_config(v) if isinstance(v, dict) else copy.deepcopy(v) for k, v in tree.items()})


def config_name(name: str) -> str:
    """The name a config's outputs are filed under: the stem of a YAML path, else ``name`` itself."""
    return Path(name).stem if Path(name).suffix in (".yaml", ".yml") else str(name)


def config_path(name: str, script: str = "tbsi_track") -> Path:
    """experiments/<script>/<name>.yaml, or `name` itself when it is a path to a file."""
    candidate = Path(name)
    if candidate.suffix in (".yaml", ".yml") or candidate.is_file():
        return candidate
    return REPO_ROOT / "experiments" / script / f"{name}.yaml"


def _checked_value(value, default, dotted, source):
    """value, in the type of the default (numbers written as '1e-4' become floats), or ValueError."""
    def wrong(expected):
        return ValueError(f"{source}: config key {dotted!r} expects {expected}, got {value!r}")

    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise wrong("true or false")
        return value
    if isinstance(default, (int, float)):
        if isinstance(value, bool):
            raise wrong("a number")
        if isinstance(value, str):  # YAML 1.1 reads 1e-4 (no dot) as a string
            try:
                return float(value)
            except ValueError:
                raise wrong("a number") from None
        if not isinstance(value, (int, float)):
            raise wrong("a number")
        return value
    if isinstance(default, list) and not isinstance(value, list):
        raise wrong("a list, e.g. [1, 2]")
    if isinstance(default, str) and not isinstance(value, str):
        raise wrong("a string")
    return value


def _merge(base, override, source, prefix="", inert=None):
    """Copy override into base; unknown keys are errors, inert keys are collected in `inert`."""
    inert = [] if inert is None else inert
    for key, value in override.items():
        dotted = f"{prefix}{key}"
        if key not in base:
            raise ValueError(f"{source}: unknown config key {dotted!r}; known keys at this level: "
                             f"{', '.join(sorted(base))}")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise ValueError(f"{source}: config key {dotted!r} must be a mapping, got {value!r}")
            _merge(base[key], value, source, dotted + ".", inert)
            continue
        if isinstance(value, dict):
            raise ValueError(f"{source}: config key {dotted!r} takes a value, not a mapping")
        if dotted in INERT_KEYS:
            inert.append(dotted)
        base[key] = _checked_value(value, base[key], dotted, source)


def _warn_inert(keys, source):
    new = [k for k in keys if (source, k) not in _warned_inert]
    if new:
        _warned_inert.update((source, k) for k in new)
        print(f"note: {source}: these keys are accepted for compatibility but have no effect "
              f"(see lib/config/defaults.py INERT_KEYS): {', '.join(new)}", file=sys.stderr)


def merge_overrides(cfg: Config, override: dict, source: str = "overrides") -> Config:
    """Apply a nested dict of overrides to cfg in place, with the same checks as a YAML file."""
    inert = []
    _merge(cfg, override, source, inert=inert)
    _warn_inert(inert, source)
    return cfg


def load_config(name: Optional[str] = None, script: str = "tbsi_track") -> Config:
    """The defaults (lib/config/defaults.py) updated by a YAML file.

    Args:
        name: a config name (``experiments/<script>/<name>.yaml``) or the path of a YAML file;
            None gives the defaults alone.
        script: the experiment family, the folder under ``experiments/``.

    Raises:
        FileNotFoundError: no such config (the message lists the configs there are).
        ValueError: not valid YAML, an unknown key (named, with the keys known at its level) or a
            value of the wrong type.
    """
    cfg = _to_config(DEFAULTS)
    if name is None:
        return cfg
    path = config_path(name, script)
    if not path.is_file():
        available = sorted(p.stem for p in (REPO_ROOT / "experiments" / script).glob("*.yaml"))
        raise FileNotFoundError(f"config file {path} not found; configs in experiments/{script}/: "
                                f"{', '.join(available) or 'none'}")
    with open(path) as fh:
        try:
            override = yaml.safe_load(fh) or {}
        except yaml.YAMLError as err:
            raise ValueError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(override, dict):
        raise ValueError(f"{path}: expected a mapping of config keys at the top level")
    return merge_overrides(cfg, override, str(path))
