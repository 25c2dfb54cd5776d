"""The SpSh layer: runs once after an early ViT block and creates the shared token stream.

Member names are the original ones (so official checkpoints load); each says what it
computes: ca = cross-attention block, s2t = search-to-template (template queries),
t2s = template-to-search (search queries), t2t = template-to-template, v = RGB, i = TIR,
sp = modality-specific, sh = shared, f = fused template.
"""
from typing import Tuple

import torch
from torch import nn

from .cross_attention import CrossBlock, JointCrossBlock, fuse_layer


class SpShLayer(nn.Module):
    """Creates the shared stream from the RGB and TIR streams and crosses modality-specific templates
    into the other modality's search (docs/model.md#spsh-layer).

    Args:
        dim: token channels C.
        scale: attention logit scale of the cross blocks (the ViT's head_dim ** -0.5).
        mlp_ratio: MLP hidden width / C.
        drop_path: stochastic depth rate of every cross block (training).
    """

    def __init__(self, dim: int, scale: float, mlp_ratio: float = 4.0, drop_path: float = 0.0):
        super().__init__()
        cross = dict(dim=dim, scale=scale, mlp_ratio=mlp_ratio, drop_path=drop_path)
        self.t_fusion = fuse_layer(dim)                  # [rgb template || tir template] -> fused template
        self.ca_s2t_v2vsp = CrossBlock(**cross)          # rgb template <- rgb search: RGB-specific template
        self.ca_s2t_i2isp = CrossBlock(**cross)          # tir template <- tir search: TIR-specific template
        self.ca_s2t_vi2sh = JointCrossBlock(**cross)     # fused template <- rgb + tir search
        self.ca_t2s_vi2sh = JointCrossBlock(**cross)     # rgb + tir search <- fused template: shared search
        self.ca_t2s_isp2i = CrossBlock(**cross)          # tir search <- RGB-specific template
        self.ca_t2s_vsp2v = CrossBlock(**cross)          # rgb search <- TIR-specific template
        self.ca_t2t_vi2sh = JointCrossBlock(**cross)     # tir + rgb template <- fused template: shared template
        self.ca_t2t_f2i = CrossBlock(**cross)            # tir template <- fused template
        self.ca_t2t_f2v = CrossBlock(**cross)            # rgb template <- fused template

    def forward(self, rgb: torch.Tensor, tir: torch.Tensor,
                num_template: int) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """rgb, tir: (B, Nz + Nx, C) streams -> updated rgb, tir and the new shared stream."""
        rgb_template, rgb_search = rgb[:, :num_template], rgb[:, num_template:]
        tir_template, tir_search = tir[:, :num_template], tir[:, num_template:]

        fused = self.t_fusion(torch.cat([rgb_template, tir_template], dim=-1))
        rgb_specific = self.ca_s2t_v2vsp(rgb_template, rgb_search)
        tir_specific = self.ca_s2t_i2isp(tir_template, tir_search)
        fused = self.ca_s2t_vi2sh.to_template(fused, rgb_search, tir_search)

        shared_search = self.ca_t2s_vi2sh.to_pair(fused, rgb_search, tir_search)
        shared_template = self.ca_t2t_vi2sh.to_pair(fused, tir_template, rgb_template)

        rgb = torch.cat([self.ca_t2t_f2v(rgb_template, fused), self.ca_t2s_vsp2v(rgb_search, tir_specific)], dim=1)
        tir = torch.cat([self.ca_t2t_f2i(tir_template, fused), self.ca_t2s_isp2i(tir_search, rgb_specific)], dim=1)
        shared = torch.cat([shared_template, shared_search], dim=1)
        return rgb, tir, shared
