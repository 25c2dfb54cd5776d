"""The training actor: runs the network on a batch and computes the loss (docs/training.md#objective)."""
from __future__ import annotations

import inspect
from typing import Dict, Tuple

import torch

from .losses import compute_losses

__all__ = ["TBSITrackActor", "split_modalities"]


def split_modalities(images: torch.Tensor):
    """(B, 6, H, W) [RGB | TIR] -> [(B, 3, H, W) RGB, (B, 3, H, W) TIR]."""
    if images.dim() != 4 or images.shape[1] != 6:
        raise ValueError(f"expected (B, 6, H, W) RGB-T images, got shape {tuple(images.shape)}")
    return [images[:, :3], images[:, 3:]]


class TBSITrackActor:
    """``forward(batch)`` -> network output; ``loss(out, batch)`` -> (total, stats).

    The batch holds ``template_images`` and ``search_images`` (B, 6, H, W) normalised and
    ``search_anno`` (B, 4) normalised x, y, w, h. The heatmap size is
    ``DATA.SEARCH.SIZE // MODEL.BACKBONE.STRIDE``; the weights are ``TRAIN.GIOU_WEIGHT``,
    ``TRAIN.L1_WEIGHT`` and 1 for the focal loss (hard-coded in the original).
    """

    def __init__(self, net: torch.nn.Module, cfg):
        self.net = net
        self.giou_weight = float(cfg.TRAIN.GIOU_WEIGHT)
        self.l1_weight = float(cfg.TRAIN.L1_WEIGHT)
        self.feat_sz = int(cfg.DATA.SEARCH.SIZE) // int(cfg.MODEL.BACKBONE.STRIDE)
        inner = net.module if hasattr(net, "module") else net
        # The loss uses only the head outputs: ask the network not to return (and not to
        # compute) the backbone features it does not need. When the last TBSI layer follows the
        # last block (in1k), its shared-template block then gets no gradient, as in the original;
        # the trainer's DDP runs with static_graph=True for that.
        try:
            params = inspect.signature(inner.forward).parameters
        except (TypeError, ValueError):
            params = {}
        self.forward_kwargs = {"return_features": False} if "return_features" in params else {}

    def forward(self, batch: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        return self.net(template=split_modalities(batch["template_images"]),
                        search=split_modalities(batch["search_images"]), **self.forward_kwargs)

    def loss(self, out: Dict[str, torch.Tensor], batch: Dict[str, torch.Tensor]) -> Tuple[torch.Tensor, Dict[str, float]]:
        return compute_losses(out, batch["search_anno"], giou_weight=self.giou_weight,
                              l1_weight=self.l1_weight, focal_weight=1.0, feat_sz=self.feat_sz)
