"""Single-head cross-attention blocks used by the SpSh and TBSI layers.

Both blocks reproduce the original arithmetic exactly, including two oddities that change
the numbers (MODEL.md section 3):
  * the channel rearrangement R (rearrange_channels) applied to the attention output, which
    mixes channels of all query tokens into each output token;
  * a single attention head over all C channels, scaled by head_dim ** -0.5 of the ViT
    (1/8 for ViT-B), and no q/k/v projections.
Only the query tokens' results are computed: the original also transforms the key tokens and
throws the result away.
"""
import torch
from torch import nn
from timm.layers import DropPath, Mlp

from .vit import ViTNorm


def rearrange_channels(tokens):
    """R: read the (B, C, L) transpose of (B, L, C) tokens back as (B, L, C), row-major."""
    batch, length, dim = tokens.shape
    return tokens.transpose(1, 2).reshape(batch, length, dim)


def fuse_layer(dim):
    """Channel concatenation of two token sets -> one: Linear(2C, C), LayerNorm(eps 1e-5), GELU."""
    return nn.Sequential(nn.Linear(2 * dim, dim), nn.LayerNorm(dim), nn.GELU())


class CrossAttention(nn.Module):
    """softmax(q k^T * scale) k, rearranged by R, then projected. Keys are also the values."""

    def __init__(self, dim, scale):
        super().__init__()
        self.scale = scale
        self.proj = nn.Linear(dim, dim)

    def forward(self, query, key):
        attn = torch.softmax(query @ key.transpose(1, 2) * self.scale, dim=-1)
        return self.proj(rearrange_channels(attn @ key))


class CrossBlock(nn.Module):
    """query <- key tokens: u = q + attn(LN(q), LN(k)); returns u + MLP(LN(u)).

    The attention module keeps the original name `attn_reshape`, so checkpoints load unchanged.
    """

    def __init__(self, dim, scale, mlp_ratio=4.0, drop_path=0.0):
        super().__init__()
        self.norm1 = ViTNorm(dim)
        self.attn_reshape = CrossAttention(dim, scale)
        self.norm2 = ViTNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, query, key):
        u = query + self.drop_path(self.attn_reshape(self.norm1(query), self.norm1(key)))
        return u + self.drop_path(self.mlp(self.norm2(u)))


class JointCrossAttention(nn.Module):
    """Attention between one template token set and an RGB/TIR pair of token sets.

    `proj` projects the RGB (first) branch, `proj_2` the TIR (second) branch and `proj_3`
    fuses the two; one softmax covers both branches' logits.
    """

    def __init__(self, dim, scale):
        super().__init__()
        self.scale = scale
        self.proj = nn.Linear(dim, dim)
        self.proj_2 = nn.Linear(dim, dim)
        self.proj_3 = nn.Linear(2 * dim, dim)

    def _fuse(self, first, second):
        return self.proj_3(torch.cat([self.proj(rearrange_channels(first)),
                                      self.proj_2(rearrange_channels(second))], dim=-1))

    def template_queries(self, template, first, second):
        """Template tokens attend to both sets with one softmax over all their keys."""
        logits = torch.cat([template @ first.transpose(1, 2), template @ second.transpose(1, 2)], dim=-1)
        attn_first, attn_second = torch.softmax(logits * self.scale, dim=-1).split(
            [first.shape[1], second.shape[1]], dim=-1)
        return self._fuse(attn_first @ first, attn_second @ second)

    def pair_queries(self, template, first, second):
        """Each position's RGB and TIR queries share one softmax over the template keys (2 x Nz)."""
        logits = torch.cat([first @ template.transpose(1, 2), second @ template.transpose(1, 2)], dim=-1)
        attn_first, attn_second = torch.softmax(logits * self.scale, dim=-1).chunk(2, dim=-1)
        return self._fuse(attn_first @ template, attn_second @ template)


class JointCrossBlock(nn.Module):
    """A template and an RGB/TIR token pair interact through JointCrossAttention.

    to_template: template <- (first, second), residual base the template.
    to_pair:     (first, second) <- template, residual base first + second.
    Both return u + MLP(LN(u)).
    """

    def __init__(self, dim, scale, mlp_ratio=4.0, drop_path=0.0):
        super().__init__()
        self.norm1 = ViTNorm(dim)
        self.attn_reshape = JointCrossAttention(dim, scale)
        self.norm2 = ViTNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def _finish(self, u):
        return u + self.drop_path(self.mlp(self.norm2(u)))

    def to_template(self, template, first, second):
        attn = self.attn_reshape.template_queries(self.norm1(template), self.norm1(first), self.norm1(second))
        return self._finish(template + self.drop_path(attn))

    def to_pair(self, template, first, second):
        attn = self.attn_reshape.pair_queries(self.norm1(template), self.norm1(first), self.norm1(second))
        return self._finish(first + second + self.drop_path(attn))
