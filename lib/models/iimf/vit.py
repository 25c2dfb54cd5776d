"""The shared ViT pieces: patch embedding, positional embeddings and the transformer blocks.

RGB, TIR and the shared stream all go through the same weights. The blocks are timm's
pre-norm ViT blocks, whose attention runs on torch's scaled_dot_product_attention.
"""
from functools import partial

import torch
from torch import nn
from timm.models.vision_transformer import Block

ViTNorm = partial(nn.LayerNorm, eps=1e-6)


class PatchEmbed(nn.Module):
    """Non-overlapping patches to tokens: (B, 3, H, W) -> (B, H/p * W/p, C), raster order.

    Args:
        patch_size: patch side p in pixels.
        embed_dim: token channels C.
        in_chans: image channels (3: each modality is embedded on its own, with the same weights).
    """

    def __init__(self, patch_size: int, embed_dim: int, in_chans: int = 3):
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.proj(image).flatten(2).transpose(1, 2)


def make_blocks(embed_dim: int, depth: int, num_heads: int, mlp_ratio: float, drop_path_rate: float) -> nn.ModuleList:
    """``depth`` pre-norm ViT blocks (timm's, biased qkv, LayerNorm eps 1e-6) with stochastic depth
    growing linearly from 0 to ``drop_path_rate``."""
    rates = torch.linspace(0, drop_path_rate, depth, device="cpu").tolist()
    return nn.ModuleList(
        Block(embed_dim, num_heads, mlp_ratio=mlp_ratio, qkv_bias=True, drop_path=rate, norm_layer=ViTNorm)
        for rate in rates
    )
