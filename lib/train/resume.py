"""What a training checkpoint holds, and reading one back to resume (docs/checkpoints.md#training-checkpoints).

A checkpoint is ``{'net' (no 'module.' prefix, CPU tensors), 'optimizer', 'scheduler', 'scaler',
'epoch', 'rng', 'seed', 'world_size', 'cfg', 'config_name', 'stats', 'net_type', 'actor_type'}``,
loadable with ``torch.load(..., weights_only=True)``; its ``net`` alone is also what tracking
loads (the official ``{'net': state_dict}`` format).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Union

import torch

from lib.utils.checkpoint_files import NET_TYPE
from lib.utils.io import atomic_write

__all__ = ["training_state", "atomic_torch_save", "read_training_checkpoint", "config_changes"]


def training_state(trainer, epoch: int, stats: Dict) -> Dict:
    """Everything needed to continue ``trainer``'s run after ``epoch``."""
    rng = {"torch": torch.get_rng_state()}   # a record: every epoch reseeds from (seed, epoch, rank) anyway
    return {"epoch": int(epoch), "net_type": NET_TYPE, "actor_type": "TBSITrackActor",
            "net": _to_cpu(trainer.net.state_dict()), "optimizer": _to_cpu(trainer.optimizer.state_dict()),
            "scheduler": trainer.scheduler.state_dict(), "scaler": trainer.step.state_dict(), "rng": rng,
            "seed": trainer.seed, "world_size": trainer.world_size, "cfg": trainer.cfg.to_dict(),
            "config_name": trainer.config_name, "stats": dict(stats)}


def atomic_torch_save(obj, path: Union[str, os.PathLike]) -> Path:
    """``torch.save(obj, path)`` done atomically (a crash never leaves a truncated checkpoint)."""
    return atomic_write(path, lambda f: torch.save(obj, f))


def read_training_checkpoint(path: Path) -> Dict:
    """The checkpoint at ``path``; RuntimeError naming it when it cannot be read or lacks what a
    resume needs."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise RuntimeError(f"cannot load checkpoint {path} to resume from: {e} (move the file away to "
                           f"resume from the one before)") from e
    missing = [k for k in ("net", "optimizer", "scheduler", "epoch") if k not in ckpt]
    if missing:
        raise RuntimeError(f"checkpoint {path} cannot be resumed from: it lacks {missing} (a weights-only "
                           f"file such as an official release?)")
    return ckpt


def config_changes(old: Dict, new: Dict, prefix: str = "") -> List[str]:
    """``key: old -> new`` for every config value that changed."""
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k, "<absent>"), new.get(k, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            out += config_changes(a, b, f"{prefix}{k}.")
        elif a != b:
            out.append(f"{prefix}{k}: {a!r} -> {b!r}")
    return out


def _to_cpu(obj):
    if torch.is_tensor(obj):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj
