"""Single-head cross-attention blocks used by the SpSh and TBSI layers (docs/model.md#cross-attention-blocks).

Both blocks reproduce the original arithmetic exactly, including two oddities that change
the numbers (docs/model.md#quirks-of-the-original-that-change-numbers):
  * the channel rearrangement R (rearrange_channels) applied to the attention output, which
    mixes channels of all query tokens into each output token;
  * a single attention head over all C channels, scaled by head_dim ** -0.5 of the ViT
    (1/8 for ViT-B), and no q/k/v projections.
Only the query tokens' results are computed: the original also transforms the key tokens and
throws the result away (docs/model.md#query-only-cross-blocks).
"""
import torch
from torch import nn
from timm.layers import DropPath, Mlp

from .vit import ViTNorm


def rearrange_channels(tokens: torch.Tensor) -> torch.Tensor:
    """R: read the (B, C, L) transpose of (B, L, C) tokens back as (B, L, C), row-major."""
    batch, length, dim = tokens.shape
    return tokens.transpose(1, 2).reshape(batch, length, dim)


def fuse_layer(dim: int) -> nn.Sequential:
    """Channel concatenation of two token sets -> one: Linear(2C, C), LayerNorm(eps 1e-5), GELU."""
    return nn.Sequential(nn.Linear(2 * dim, dim), nn.LayerNorm(dim), nn.GELU())


class CrossAttention(nn.Module):
    """softmax(q k^T * scale) k, rearranged by R, then projected. Keys are also the values.

    Args:
        dim: token channels C.
        scale: logit scale (the ViT's head_dim ** -0.5, not C ** -0.5).
    """

    def __init__(self, dim: int, scale: float):
        super().__init__()
        self.scale = scale
        self.proj = nn.Linear(dim, dim)

    def forward(self, query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
        attn = torch.softmax(query @ key.transpose(1, 2) * self.scale, dim=-1)   # (B, Nq, Nk)
        return self.proj(rearrange_channels(attn @ key))


class JointCrossAttention(nn.Module):
    """Attention between one template token set and an RGB/TIR pair of token sets.

    ``proj`` projects the RGB (first) branch, ``proj_2`` the TIR (second) branch and ``proj_3``
    fuses the two; one softmax covers both branches' logits.

    Args:
        dim: token channels C.
        scale: logit scale, as in CrossAttention.
    """

    def __init__(self, dim: int, scale: float):
        super().__init__()
        self.scale = scale
        self.proj = nn.Linear(dim, dim)
        self.proj_2 = nn.Linear(dim, dim)
        self.proj_3 = nn.Linear(2 * dim, dim)

    def _fuse(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        return self.proj_3(torch.cat([self.proj(rearrange_channels(first)),
                                      self.proj_2(rearrange_channels(second))], dim=-1))

    def template_queries(self, template: torch.Tensor, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        """Template tokens attend to both sets with one softmax over all their keys."""
        logits = torch.cat([template @ first.transpose(1, 2), template @ second.transpose(1, 2)], dim=-1)
        attn_first, attn_second = torch.softmax(logits * self.scale, dim=-1).split(
            [first.shape[1], second.shape[1]], dim=-1)
        return self._fuse(attn_first @ first, attn_second @ second)

    def pair_queries(self, template: torch.Tensor, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        """Each position's RGB and TIR queries share one softmax over the template keys (2 x Nz)."""
        logits = torch.cat([first @ template.transpose(1, 2), second @ template.transpose(1, 2)], dim=-1)
        attn_first, attn_second = torch.softmax(logits * self.scale, dim=-1).chunk(2, dim=-1)
        return self._fuse(attn_first @ template, attn_second @ template)


class _ResidualCrossBlock(nn.Module):
    """Pre-norm residual wrapper of an attention module: ``u = base + attn``, out ``u + MLP(LN(u))``.

    The attention module keeps the original name ``attn_reshape``, so checkpoints load unchanged.
    """

    def __init__(self, dim: int, attention: nn.Module, mlp_ratio: float, drop_path: float):
        super().__init__()
        self.norm1 = ViTNorm(dim)
        self.attn_reshape = attention
        self.norm2 = ViTNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def _finish(self, base: torch.Tensor, attended: torch.Tensor) -> torch.Tensor:
        u = base + self.drop_path(attended)
        return u + self.drop_path(self.mlp(self.norm2(u)))


class CrossBlock(_ResidualCrossBlock):
    """query <- key tokens: ``u = q + attn(LN(q), LN(k))``; returns ``u + MLP(LN(u))``.

    Args:
        dim: token channels C.
        scale: attention logit scale.
        mlp_ratio: MLP hidden width / C.
        drop_path: stochastic depth rate of both residual branches (training).
    """

    def __init__(self, dim: int, scale: float, mlp_ratio: float = 4.0, drop_path: float = 0.0):
        super().__init__(dim, CrossAttention(dim, scale), mlp_ratio, drop_path)

    def forward(self, query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
        return self._finish(query, self.attn_reshape(self.norm1(query), self.norm1(key)))


class JointCrossBlock(_ResidualCrossBlock):
    """A template and an RGB/TIR token pair interact through JointCrossAttention.

    ``to_template``: template <- (first, second), residual base the template.
    ``to_pair``: (first, second) <- template, residual base first + second.
    Both return ``u + MLP(LN(u))``. Args as CrossBlock.
    """

    def __init__(self, dim: int, scale: float, mlp_ratio: float = 4.0, drop_path: float = 0.0):
        super().__init__(dim, JointCrossAttention(dim, scale), mlp_ratio, drop_path)

    def to_template(self, template: torch.Tensor, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        attended = self.attn_reshape.template_queries(self.norm1(template), self.norm1(first), self.norm1(second))
        return self._finish(template, attended)

    def to_pair(self, template: torch.Tensor, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        attended = self.attn_reshape.pair_queries(self.norm1(template), self.norm1(first), self.norm1(second))
        return self._finish(first + second, attended)
