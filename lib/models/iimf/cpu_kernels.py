"""CPU kernels of the inference paths: Linear layers on oneDNN or on MKL's packed sgemm, and a ViT
block that fuses its residual adds into the matrix products.

All of them compute what the modules they replace compute, in float32, to float32 rounding:

  OneDNNLinear       oneDNN's fused linear (+ exact GELU, or + a residual); about twice as fast as
                     the BLAS product on AMD CPUs
  MKLPackedLinear    MKL's sgemm on weights packed once (Intel CPUs: ~5-10% faster than oneDNN there);
                     bitwise the BLAS product
  InferenceBlock     a timm ViT block: LN, qkv, scaled_dot_product_attention, proj + residual, LN,
                     fc1 + GELU, fc2 + residual (same child names, so the same state_dict)
"""
import copy
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from torch import nn


@lru_cache(maxsize=None)
def cpu_vendor():
    """'GenuineIntel', 'AuthenticAMD', ... from /proc/cpuinfo; '' where it cannot be read."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("vendor_id"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


@lru_cache(maxsize=None)
def cpu_flags():
    """The CPU's feature flags from /proc/cpuinfo (e.g. 'avx512_vnni', 'amx_int8'); empty where unreadable."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def bf16_fast_on_cpu():
    """True when the CPU computes bfloat16 products natively (AVX512-BF16 or AMX-BF16)."""
    return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})


def int8_fast_on_cpu():
    """True when the CPU has int8 dot-product instructions (or its flags cannot be read)."""
    flags = cpu_flags()
    return not flags or bool(flags & {"avx512_vnni", "avx_vnni", "amx_int8"})


def attention_uses_flash():
    """Reduced-precision attention: the flash kernel (scaled_dot_product_attention) on CPUs with AMX,
    where it is ~1.5x faster than two bf16 matrix products; those products elsewhere, where the flash
    kernel was measured ~2.5x slower (an AMD EPYC with AVX512-BF16)."""
    return "amx_bf16" in cpu_flags()


@lru_cache(maxsize=None)
def onednn_linear_available():
    """True when this torch build has oneDNN's fused linear kernel and it runs here."""
    if not (torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")):
        return False
    try:
        torch.ops.mkldnn._linear_pointwise(torch.ones(1, 2), torch.ones(3, 2), torch.zeros(3), "none", [], "")
    except (RuntimeError, NotImplementedError):
        return False
    return True


@lru_cache(maxsize=None)
def mkl_packed_linear_available():
    """True when this torch build has MKL's packed sgemm (torch.ops.mkl._mkl_linear) and it runs here."""
    if not hasattr(torch.ops.mkl, "_mkl_linear"):
        return False
    try:
        weight = torch.ones(3, 2)
        packed = torch.ops.mkl._mkl_reorder_linear_weight(weight, 1)
        torch.ops.mkl._mkl_linear(torch.ones(1, 2), packed, weight, torch.zeros(3), 1)
    except (RuntimeError, NotImplementedError):
        return False
    return True


class OneDNNLinear(nn.Module):
    """Inference-only nn.Linear computed by oneDNN; same weights. ``gelu``: followed by exact GELU,
    fused into the kernel. ``forward(x, residual)`` returns linear(x) (+ GELU) (+ residual)."""

    def __init__(self, linear, gelu=False):
        super().__init__()
        self.weight = linear.weight
        self.bias = linear.bias
        self.activation = "gelu" if gelu else "none"

    def forward(self, x, residual=None):
        if residual is not None and self.activation == "none":
            return torch.ops.mkldnn._linear_pointwise.binary(x, residual, self.weight, self.bias, "add")
        out = torch.ops.mkldnn._linear_pointwise(x, self.weight, self.bias, self.activation, [],
                                                 "none" if self.activation == "gelu" else "")
        return out if residual is None else out + residual


class MKLPackedLinear(OneDNNLinear):
    """OneDNNLinear whose product runs on MKL's sgemm with the weights packed once (GELU and the
    residual as in-place passes): bitwise the BLAS result, and faster than oneDNN on Intel CPUs."""

    PACKED_ROWS = 1024  # the row count MKL packs for; any other count gives the same result

    def __init__(self, linear, gelu=False):
        super().__init__(linear, gelu)
        self.packed_weight = torch.ops.mkl._mkl_reorder_linear_weight(linear.weight.detach(), self.PACKED_ROWS)

    def __deepcopy__(self, memo):
        """Packed weights are opaque to copy: pack the copied weights again."""
        plain = SimpleNamespace(weight=copy.deepcopy(self.weight, memo), bias=copy.deepcopy(self.bias, memo))
        return type(self)(plain, gelu=self.activation == "gelu")

    def forward(self, x, residual=None):
        out = torch.ops.mkl._mkl_linear(x, self.packed_weight, self.weight, self.bias, self.PACKED_ROWS)
        if self.activation == "gelu":
            out = torch.ops.aten.gelu_(out)
        return out if residual is None else out.add_(residual)


def exact_linear_class():
    """The fastest float32 linear kernel for this CPU, or None (keep nn.Linear): MKL's packed sgemm
    on Intel CPUs, oneDNN elsewhere (MKL takes slow code paths on other vendors' CPUs)."""
    if cpu_vendor() == "GenuineIntel" and mkl_packed_linear_available():
        return MKLPackedLinear
    return OneDNNLinear if onednn_linear_available() else None


def use_cpu_linear(module, linear_class):
    """Swap every nn.Linear inside ``module`` for ``linear_class``, fusing an MLP's fc1 with its exact
    GELU. Returns the number of swapped layers."""
    count = 0
    for name, child in list(module.named_children()):
        if isinstance(child, nn.Linear):
            setattr(module, name, linear_class(child))
            count += 1
            continue
        fc1, act = getattr(child, "fc1", None), getattr(child, "act", None)
        if isinstance(fc1, nn.Linear) and isinstance(act, nn.GELU) and act.approximate == "none":
            child.fc1, child.act = linear_class(fc1, gelu=True), nn.Identity()
            count += 1
        count += use_cpu_linear(child, linear_class)
    return count


class InferenceBlock(nn.Module):
    """A timm pre-norm ViT block (eval) whose Linear layers take a ``residual`` to add to their output
    (OneDNNLinear and its kind): x + proj(attn(LN(x))), then x + fc2(GELU(fc1(LN(x)))).
    The children are the block's own (norm1, attn, norm2, mlp), so the state_dict is unchanged.

    attention_dtype: None computes attention in the qkv layer's dtype (the exact path: float32);
    torch.bfloat16 casts q, k, v to bf16 first. ``flash``: scaled_dot_product_attention, else the two
    products as plain matrix products around a softmax (faster without AMX, see attention_uses_flash)."""

    def __init__(self, block, attention_dtype=None, flash=True):
        super().__init__()
        self.norm1, self.attn, self.norm2, self.mlp = block.norm1, block.attn, block.norm2, block.mlp
        self.num_heads = block.attn.num_heads
        self.attention_dtype = attention_dtype
        self.flash = flash

    def attention(self, qkv):
        """Multi-head self-attention of (B, N, 3C) q|k|v features -> (B, N, C)."""
        batch, tokens, dim3 = qkv.shape
        head_dim = dim3 // (3 * self.num_heads)
        if self.attention_dtype is not None:
            qkv = qkv.to(self.attention_dtype)
        q, k, v = qkv.view(batch, tokens, 3, self.num_heads, head_dim).permute(2, 0, 3, 1, 4)
        if self.flash:
            out = F.scaled_dot_product_attention(q, k, v)
        else:
            out = torch.softmax((q * head_dim ** -0.5) @ k.transpose(-2, -1), dim=-1) @ v
        return out.transpose(1, 2).reshape(batch, tokens, dim3 // 3)

    def forward(self, x):
        x = self.attn.proj(self.attention(self.attn.qkv(self.norm1(x))), residual=x)
        return self.mlp.fc2(self.mlp.fc1(self.norm2(x)), residual=x)

