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
    """Non-overlapping patches to tokens: (B, 3, H, W) -> (B, H/p * W/p, C), raster order."""

    def __init__(self, patch_size, embed_dim, in_chans=3):
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, image):
        return self.proj(image).flatten(2).transpose(1, 2)


def make_blocks(embed_dim, depth, num_heads, mlp_ratio, drop_path_rate):
    """`depth` ViT blocks with stochastic depth growing linearly from 0 to drop_path_rate."""
    rates = torch.linspace(0, drop_path_rate, depth, device="cpu").tolist()
    return nn.ModuleList(
        Block(embed_dim, num_heads, mlp_ratio=mlp_ratio, qkv_bias=True, drop_path=rate, norm_layer=ViTNorm)
        for rate in rates
    )
