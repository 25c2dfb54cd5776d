"""The TBSI interaction layer: moves information from the RGB and TIR streams into the shared one."""
import torch
from torch import nn

from .cross_attention import CrossBlock, JointCrossBlock, fuse_layer


class TBSILayer(nn.Module):
    """Updates the shared stream from a fused RGB/TIR template (docs/model.md#tbsi-layer).

    Args: as SpShLayer (dim, scale, mlp_ratio, drop_path).
    """

    def __init__(self, dim: int, scale: float, mlp_ratio: float = 4.0, drop_path: float = 0.0):
        super().__init__()
        cross = dict(dim=dim, scale=scale, mlp_ratio=mlp_ratio, drop_path=drop_path)
        self.fused_t = fuse_layer(dim)                   # [rgb template || tir template] -> fused template
        self.ca_s2t_vi2sh = JointCrossBlock(**cross)     # fused template <- rgb + tir search
        self.ca_t2s_f2sh = CrossBlock(**cross)           # shared search <- fused template
        self.ca_t2t_f2f = CrossBlock(**cross)            # shared template <- fused template

    def forward(self, rgb: torch.Tensor, tir: torch.Tensor, shared: torch.Tensor, num_template: int,
                update_shared_template: bool = True) -> torch.Tensor:
        """Returns the new shared stream; rgb and tir are only read.

        update_shared_template=False skips the shared template update (and returns it as it
        was) where nothing downstream reads it, e.g. after the last ViT block in tracking.
        """
        rgb_template, rgb_search = rgb[:, :num_template], rgb[:, num_template:]
        tir_template, tir_search = tir[:, :num_template], tir[:, num_template:]
        shared_template, shared_search = shared[:, :num_template], shared[:, num_template:]

        fused = self.fused_t(torch.cat([rgb_template, tir_template], dim=-1))
        fused = self.ca_s2t_vi2sh.to_template(fused, rgb_search, tir_search)
        shared_search = self.ca_t2s_f2sh(shared_search, fused)
        if update_shared_template:
            shared_template = self.ca_t2t_f2f(shared_template, fused)
        return torch.cat([shared_template, shared_search], dim=1)
