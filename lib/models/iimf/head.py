"""Fusion of the search streams into one map, and the center-based box head."""
from typing import Tuple

import torch
from torch import nn

from lib.utils.boxes import cal_bbox


def conv_bn_relu(in_planes: int, out_planes: int) -> nn.Sequential:
    """Conv3x3 (padding 1, biased), BatchNorm, ReLU."""
    return nn.Sequential(nn.Conv2d(in_planes, out_planes, kernel_size=3, padding=1),
                         nn.BatchNorm2d(out_planes), nn.ReLU(inplace=True))


def tokens_to_map(tokens: torch.Tensor, size: int) -> torch.Tensor:
    """(B, size*size, C) raster-order tokens -> (B, C, size, size)."""
    return tokens.transpose(1, 2).reshape(tokens.shape[0], tokens.shape[2], size, size)


def fuse_search_maps(dim: int) -> nn.Sequential:
    """[fused rgb/tir map ; shared map] -> Conv3x3(2C -> C), BatchNorm, ReLU."""
    return nn.Sequential(nn.Conv2d(2 * dim, dim, kernel_size=3, padding=1), nn.BatchNorm2d(dim), nn.ReLU(inplace=True))


class CenterPredictor(nn.Module):
    """Three conv branches on the search map: target-centre score, sub-cell offset and box size.

    Args:
        inplanes: channels of the search map (C).
        channels: width of each branch's first conv; the next three halve it, a 1x1 conv ends it.
    """

    def __init__(self, inplanes: int, channels: int):
        super().__init__()
        widths = [inplanes, channels, channels // 2, channels // 4, channels // 8]
        for branch, out in (("ctr", 1), ("offset", 2), ("size", 2)):
            for k in range(4):
                setattr(self, f"conv{k + 1}_{branch}", conv_bn_relu(widths[k], widths[k + 1]))
            setattr(self, f"conv5_{branch}", nn.Conv2d(widths[4], out, kernel_size=1))
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def _branch(self, name: str, x: torch.Tensor) -> torch.Tensor:
        for k in range(1, 6):
            x = getattr(self, f"conv{k}_{name}")(x)
        return x

    def forward(self, search_map: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, C, F, F) -> score (B, 1, F, F), size (B, 2, F, F) and offset (B, 2, F, F) maps."""
        score_map = torch.clamp(torch.sigmoid(self._branch("ctr", search_map)), 1e-4, 1 - 1e-4)
        size_map = torch.clamp(torch.sigmoid(self._branch("size", search_map)), 1e-4, 1 - 1e-4)
        offset_map = self._branch("offset", search_map)
        return score_map, size_map, offset_map

    def boxes_from_maps(self, score_map: torch.Tensor, size_map: torch.Tensor, offset_map: torch.Tensor) -> torch.Tensor:
        """Box at the score argmax (first on ties): (B, 1, 4) cx, cy, w, h normalised to the crop."""
        return cal_bbox(score_map, size_map, offset_map).unsqueeze(1)
