"""Inference variants of a loaded IIMF network: the exact float32 path and opt-in fast paths.

    net = prepare_for_inference(net, precision="fp32", device="cpu")   # exact (default)
    out = net(template=[z_rgb, z_tir], search=[x_rgb, x_tir], return_features=False)

precision:
  fp32  exact: the official model's arithmetic, to float32 rounding (~1e-6). On the CPU the Linear
        layers run on the fastest float32 kernel (cpu_kernels: MKL's packed sgemm on Intel CPUs,
        oneDNN elsewhere) and the ViT blocks add their residuals inside those products
  bf16  the backbone in bfloat16 (CPUs with AVX512-BF16/AMX, and GPUs)
  fp16  the backbone in float16 (GPU only)
  int8  the backbone's Linear layers in static int8 (CPU only; AMX-INT8 or VNNI): int8 weights per
        output channel, int8 activations with ranges calibrated by tracking (int8.py,
        tracking/calibrate_int8.py)

Only the backbone (~95% of the FLOPs) runs in reduced precision. The search fusion and the box
head always run the exact float32 path: rounding the head's size and offset maps to 8 mantissa
bits alone moves boxes by up to a pixel, and running its convolutions in bfloat16 moved the boxes of
the tiny demo model by up to 0.39 px (0.05 px with the float32 head).
"""
import warnings

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from lib.utils.system import reuse_freed_memory

from .cpu_kernels import (InferenceBlock, attention_uses_flash, bf16_fast_on_cpu, exact_linear_class, int8_fast_on_cpu,
                          use_cpu_linear)
from .int8 import use_static_int8_backbone

PRECISIONS = ("fp32", "bf16", "fp16", "int8")


def fold_batchnorm(module):
    """Fold every Conv2d -> BatchNorm2d pair inside nn.Sequential containers (eval mode only)."""
    for child in module.children():
        fold_batchnorm(child)
    if isinstance(module, nn.Sequential):
        for i in range(len(module) - 1):
            conv, bn = module[i], module[i + 1]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                module[i] = fuse_conv_bn_eval(conv, bn)
                module[i + 1] = nn.Identity()
    return module


def use_exact_head(net, device):
    """The search fusion and box head of ``net`` on the exact float32 path (in place): on CPUs the
    search fusion's Linear layer on the fastest float32 kernel (cpu_kernels.exact_linear_class). The
    convolutions and BatchNorms stay the original's modules: folding the BatchNorms and running the
    map fusion as one matrix product gained nothing measurable and doubled the boxes' float32 noise
    against the original (up to 1.3e-4 px against 6e-5 px when tracking)."""
    linear_class = exact_linear_class() if device.type == "cpu" else None
    if linear_class is not None:
        use_cpu_linear(net.tbsi_fuse_search, linear_class)


def use_exact_backbone(net, device):
    """The backbone of ``net`` on the fastest float32 CPU kernels (in place): Linear layers swapped,
    ViT blocks with their residual adds fused into the products (cpu_kernels.InferenceBlock)."""
    linear_class = exact_linear_class() if device.type == "cpu" else None
    if linear_class is None:
        return
    use_cpu_linear(net.backbone, linear_class)
    net.backbone.blocks = nn.ModuleList(InferenceBlock(block) for block in net.backbone.blocks)


class ReducedPrecisionNet(nn.Module):
    """IIMFTrack whose backbone runs under autocast in ``dtype`` with its Linear weights stored in
    that dtype (no per-frame cast of ~170M weights); fusion and head in float32.

    On CPUs without AMX, the ViT blocks' attention runs as two plain bf16 matrix products around a
    softmax instead of scaled_dot_product_attention (see cpu_kernels.attention_uses_flash)."""

    def __init__(self, net, dtype, device):
        super().__init__()
        self.net = net
        self.dtype = dtype
        for module in net.backbone.modules():
            if isinstance(module, nn.Linear):
                module.to(dtype)
            if device.type == "cpu" and hasattr(module, "fused_attn"):  # timm's Attention
                module.fused_attn = attention_uses_flash()

    def forward(self, template, search, return_features=False):
        device_type = template[0].device.type
        with torch.autocast(device_type, dtype=self.dtype):
            feat = self.net.backbone(*template, *search, need_shared_template=return_features)
        feat = feat.float()
        out = self.net.forward_head(feat)
        if return_features:
            out["backbone_feat"] = feat
        return out


def check_precision_device(precision, device):
    """ValueError when ``precision`` cannot run on ``device`` (fp16 needs a GPU, int8 the CPU); a
    warning when bf16 or int8 would be slow on this CPU, naming the path that works. The one place
    these rules live."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    device = torch.device(device)
    if precision == "int8" and device.type != "cpu":
        raise ValueError("--precision int8 runs on the CPU only (--num_gpus 0); on a GPU use fp16 or bf16")
    if precision == "fp16" and device.type != "cuda":
        raise ValueError("--precision fp16 needs a GPU; on the CPU use bf16 or int8")
    if precision == "bf16" and device.type == "cpu" and not bf16_fast_on_cpu():
        warnings.warn("this CPU has no native bfloat16 (AVX512-BF16 or AMX): precision bf16 will be slow; "
                      + ("use int8 instead" if int8_fast_on_cpu() else "use fp32 (the exact path) instead"),
                      stacklevel=3)
    if precision == "int8" and not int8_fast_on_cpu():
        warnings.warn("this CPU has no int8 dot-product instructions (AVX512-VNNI, AVX-VNNI or AMX-INT8): "
                      "precision int8 will be slow; use fp32 (the exact path) instead", stacklevel=3)


def use_ieee_float32_on_gpus():
    """Float32 matrix products and convolutions in full float32 on GPUs: no TF32 (cuDNN uses it for
    float32 convolutions by default on Ampere and newer GPUs, which moves boxes by up to ~0.1 px).
    A process-wide setting, made with torch's flags that every torch version reads (mixing them with
    the newer per-backend ``fp32_precision`` settings makes torch refuse to read either)."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False


def prepare_for_inference(net, precision="fp32", device="cpu", int8_ranges=None):
    """Eval-mode network on `device` in the requested precision (see the module docstring);
    int8 needs the calibrated activation ranges (lib.models.iimf.int8.load_calibration).
    On the CPU the process then keeps the memory it frees for reuse (lib.utils.system.reuse_freed_memory)."""
    check_precision_device(precision, device)
    device = torch.device(device)
    if device.type == "cpu":
        reuse_freed_memory()
    net = net.eval().to(device)
    if device.type == "cuda":  # the exact path, and the fast paths' float32 head
        use_ieee_float32_on_gpus()
    if precision == "fp32":
        use_exact_backbone(net, device)
        use_exact_head(net, device)
        return net
    use_exact_head(net, device)
    if precision == "int8":
        if int8_ranges is None:
            raise ValueError("precision int8 needs calibrated activation ranges (tracking/calibrate_int8.py)")
        return use_static_int8_backbone(net, int8_ranges)
    return ReducedPrecisionNet(net, torch.bfloat16 if precision == "bf16" else torch.float16, device)
