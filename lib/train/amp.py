"""Mixed precision and the optimiser step: one code path on every device (docs/training.md#amp-and-gradient-clipping).

AMP is the original's float16 autocast with a GradScaler. It is on when ``TRAIN.AMP`` is set and
training runs on a GPU, as in the original; ``OptimizerStep(enabled=True)`` on the CPU runs the
same code through torch's CPU autocast and CPU GradScaler (the tests do, so no part of it is
GPU-only). Without AMP the scaler is disabled and every call below is a plain backward/step.
"""
from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Iterable, Optional, Tuple

import torch

from lib.config import Config

from .optim import clip_active

__all__ = ["amp_policy", "OptimizerStep"]

AMP_DTYPE = torch.float16


def amp_policy(cfg: Config, device: torch.device, force: Optional[bool] = None) -> Tuple[bool, Optional[str]]:
    """``(enabled, message)``: AMP per ``TRAIN.AMP`` on GPUs (the original), or as ``force`` says."""
    if force is not None:
        enabled = bool(force)
        return enabled, f"AMP is {'on' if enabled else 'off'} on {device.type} (forced)"
    if cfg.TRAIN.AMP and device.type != "cuda":
        return False, ("TRAIN.AMP is on in the config, but training runs on the CPU: AMP (float16 autocast + "
                       "GradScaler) is OFF, training in float32")
    if cfg.TRAIN.AMP:
        return True, "AMP is on (float16 autocast + GradScaler)"
    return False, None


class OptimizerStep:
    """Backward, (unscale and) clip, step and scaler update for one loss.

    Args:
        optimizer: the optimiser whose parameters get the gradients.
        device: where the network runs (its type picks the autocast and GradScaler backend).
        amp: float16 autocast and loss scaling.
        grad_clip_norm: ``TRAIN.GRAD_CLIP_NORM``; applied per ``clip_active`` (not under AMP unless
            ``fix_grad_clip_amp``), to the gradients after unscaling.
        init_scale: the loss scale to start from (GradScaler's default, as the original).
    """

    def __init__(self, optimizer: torch.optim.Optimizer, device: torch.device, amp: bool, grad_clip_norm: float,
                 fix_grad_clip_amp: bool = False, init_scale: float = 2.0 ** 16):
        self.optimizer = optimizer
        self.device_type = torch.device(device).type
        self.amp = bool(amp)
        self.grad_clip_norm = float(grad_clip_norm)
        self.clip = clip_active(grad_clip_norm, self.amp, fix_grad_clip_amp)
        self.scaler = torch.amp.GradScaler(self.device_type, init_scale=init_scale, enabled=self.amp)
        self.skipped = 0   # steps the scaler skipped (inf/nan gradients)

    def autocast(self) -> AbstractContextManager:
        """The forward's precision context: float16 autocast under AMP, a no-op otherwise."""
        return torch.autocast(device_type=self.device_type, dtype=AMP_DTYPE, enabled=self.amp)

    def __call__(self, loss: torch.Tensor, params: Iterable[torch.nn.Parameter]) -> bool:
        """One update from ``loss``; False when the scaler skipped it (inf/nan gradients)."""
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.clip:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(params, self.grad_clip_norm)
        scale = self.scaler.get_scale() if self.amp else None
        self.scaler.step(self.optimizer)
        self.scaler.update()
        applied = not self.amp or self.scaler.get_scale() >= scale
        self.skipped += not applied
        return applied

    def state_dict(self) -> Optional[dict]:
        return self.scaler.state_dict() if self.amp else None

    def load_state_dict(self, state: Optional[dict]) -> None:
        if self.amp and state:
            self.scaler.load_state_dict(state)
