"""The optimisation recipe of the original training (docs/training.md#optimiser-and-lr-groups).

* AdamW (``TRAIN.LR``, ``TRAIN.WEIGHT_DECAY``) over two parameter groups, ``param_groups``: the
  layers the pretrained weights do not cover train at ``TRAIN.LR``, the rest at
  ``TRAIN.LR * TRAIN.BACKBONE_MULTIPLIER``. The original's split (by the substring "tbsi" for
  SOT, by "backbone" for in1k) leaves some new layers at the low rate; ``TRAIN.FIX_LR_GROUPS``
  moves them up.
* ``StepLR(TRAIN.LR_DROP_EPOCH, gamma 0.1)`` stepped once per epoch (the original never reads
  ``SCHEDULER.DECAY_RATE``).
* Gradient clipping at ``TRAIN.GRAD_CLIP_NORM`` only without AMP, as the original; with
  ``TRAIN.FIX_GRAD_CLIP_AMP`` under AMP too (after unscaling).
"""
from __future__ import annotations

from typing import Dict, List, Tuple

import torch

from lib.config import Config

__all__ = ["param_groups", "build_optimizer", "clip_active"]

# Modules the pretrained files do not provide (FIX_LR_GROUPS trains them at the full LR).
_NEW_IN_SOT = ("tbsi", "sp_sh_layer", "box_head")
_NEW_IN_BACKBONE = ("tbsi_layers", "sp_sh_layer")


def _full_lr(name: str, cfg: Config) -> bool:
    """Does parameter ``name`` get TRAIN.LR (True) or TRAIN.LR * BACKBONE_MULTIPLIER (False)?"""
    fix = bool(cfg.TRAIN.FIX_LR_GROUPS)
    if cfg.TRAIN.SOT_PRETRAIN:
        # Original: only names containing "tbsi" (backbone.tbsi_layers, tbsi_fuse_search,
        # tbsi_fuse_middle); the new SpSh layer and the head get 0.1x.
        return any(k in name for k in (_NEW_IN_SOT if fix else ("tbsi",)))
    # in1k: everything outside the backbone, and with the fix the backbone's new layers.
    if "backbone" not in name:
        return True
    return fix and any(k in name for k in _NEW_IN_BACKBONE)


def param_groups(net: torch.nn.Module, cfg: Config) -> List[Dict]:
    """The two AdamW groups ``lr`` and ``lr_x_multiplier`` of the trainable parameters.

    Args:
        net: anything with ``named_parameters()``.
        cfg: the config (``TRAIN.LR``, ``BACKBONE_MULTIPLIER``, ``SOT_PRETRAIN``, ``FIX_LR_GROUPS``).

    Returns:
        ``[{'name', 'params', 'lr', 'param_names'}, ...]``; ``param_names`` lists the names that
        went into each group (for tests and logs; not passed to the optimiser). Parameters with
        ``requires_grad=False`` are left out, as in the original.
    """
    lr = float(cfg.TRAIN.LR)
    full: Tuple[list, list] = ([], [])
    low: Tuple[list, list] = ([], [])
    for name, param in net.named_parameters():
        if param.requires_grad:
            names, params = full if _full_lr(name, cfg) else low
            names.append(name)
            params.append(param)
    return [{"name": "lr", "params": full[1], "lr": lr, "param_names": full[0]},
            {"name": "lr_x_multiplier", "params": low[1], "lr": lr * float(cfg.TRAIN.BACKBONE_MULTIPLIER),
             "param_names": low[0]}]


def build_optimizer(net: torch.nn.Module, cfg: Config):
    """``(AdamW over param_groups, StepLR(LR_DROP_EPOCH, gamma 0.1))``.

    Raises:
        ValueError: an optimiser or scheduler type other than the original's.
    """
    if str(cfg.TRAIN.OPTIMIZER).upper() != "ADAMW":
        raise ValueError(f"TRAIN.OPTIMIZER {cfg.TRAIN.OPTIMIZER!r} is not supported (only 'ADAMW')")
    if str(cfg.TRAIN.SCHEDULER.TYPE).lower() != "step":
        raise ValueError(f"TRAIN.SCHEDULER.TYPE {cfg.TRAIN.SCHEDULER.TYPE!r} is not supported (only 'step')")
    groups = [{k: v for k, v in g.items() if k != "param_names"} for g in param_groups(net, cfg)]
    optimizer = torch.optim.AdamW([g for g in groups if g["params"]], lr=float(cfg.TRAIN.LR),
                                  weight_decay=float(cfg.TRAIN.WEIGHT_DECAY))
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=int(cfg.TRAIN.LR_DROP_EPOCH), gamma=0.1)
    return optimizer, scheduler


def clip_active(grad_clip_norm: float, amp: bool, fix_grad_clip_amp: bool = False) -> bool:
    """Is gradient clipping applied? Only without AMP (the original), or with the fix under AMP too."""
    return float(grad_clip_norm) > 0 and (not amp or bool(fix_grad_clip_amp))
