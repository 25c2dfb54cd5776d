"""Where checkpoints live: the one definition of the layout that training writes and testing reads.

    <save_dir>/checkpoints/train/<script>/<config>/TBSITrack_ep0015.pth.tar

as in the original (``NET_TYPE`` ``TBSITrack``, epoch with four digits). The seed's training
command uses ``--save_dir ./output/<config>`` and its test command ``--save_dir ./output``, so
``find_checkpoint`` also looks one ``<config>`` folder deeper.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import List, Optional, Tuple, Union

__all__ = ["NET_TYPE", "checkpoint_dir", "checkpoint_path", "latest_checkpoint", "default_checkpoint_paths",
           "find_checkpoint"]

PathLike = Union[str, os.PathLike]
NET_TYPE = "TBSITrack"
_FILE_NAME = re.compile(rf"^{NET_TYPE}_ep(\d+)\.pth\.tar$")


def checkpoint_dir(save_dir: PathLike, config_name: str, script: str = "tbsi_track") -> Path:
    """``<save_dir>/checkpoints/train/<script>/<config>``: where training writes a config's checkpoints."""
    return Path(save_dir) / "checkpoints" / "train" / script / config_name


def checkpoint_path(folder: PathLike, epoch: int) -> Path:
    """``<folder>/TBSITrack_ep<NNNN>.pth.tar``."""
    return Path(folder) / f"{NET_TYPE}_ep{int(epoch):04d}.pth.tar"


def latest_checkpoint(folder: PathLike) -> Optional[Tuple[int, Path]]:
    """``(epoch, path)`` of the highest-epoch checkpoint file in ``folder``, or None."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    found = [(int(match.group(1)), path) for path in folder.iterdir()
             if (match := _FILE_NAME.match(path.name)) and path.is_file()]
    return max(found, default=None)


def default_checkpoint_paths(save_dir: PathLike, config_name: str, epoch: int,
                             script: str = "tbsi_track") -> List[Path]:
    """The checkpoint of ``epoch`` under ``<save_dir>/<config>`` (training run with ``--save_dir
    ./output/<config>``) and under ``<save_dir>``, in the order they are tried."""
    save_dir = Path(save_dir)
    return [checkpoint_path(checkpoint_dir(root, config_name, script), epoch)
            for root in (save_dir / config_name, save_dir)]


def find_checkpoint(save_dir: PathLike, config_name: str, epoch: int, script: str = "tbsi_track",
                    checkpoint: Optional[PathLike] = None, config_arg: Optional[str] = None) -> Path:
    """The checkpoint to test: ``checkpoint`` when given (it must exist), else the first existing
    default path; FileNotFoundError naming every path tried and how to get one."""
    if checkpoint is not None:
        path = Path(checkpoint).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint not found: {path} (given with --checkpoint)")
        return path
    tried = default_checkpoint_paths(save_dir, config_name, epoch, script)
    for path in tried:
        if path.is_file():
            return path
    listing = "\n  ".join(str(p) for p in tried)
    raise FileNotFoundError(
        f"no checkpoint for config {config_name!r} epoch {epoch}; tried:\n  {listing}\n"
        f"Train it (python tracking/train.py --script {script} --config {config_arg or config_name} --save_dir "
        f"{save_dir} ...), put an official checkpoint at one of these paths, or pass "
        f"--checkpoint PATH (--epoch N picks another epoch).")
