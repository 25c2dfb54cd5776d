"""Inference variants of a loaded IIMF network: the exact float32 path and opt-in fast paths.

    net = prepare_for_inference(net, precision="fp32", device="cpu")   # exact (default)
    out = net(template=[z_rgb, z_tir], search=[x_rgb, x_tir], return_features=False)

precision:
  fp32  exact: the official model's arithmetic; on the CPU the Linear layers (and the GELU after
        each MLP's first layer) run as oneDNN kernels, which are about twice as fast as the BLAS
        matrix product on many CPUs and agree with it to float32 rounding (~1e-6)
  bf16  the backbone in bfloat16 (CPUs with AVX512-BF16/AMX, and GPUs)
  fp16  the backbone in float16 (GPU only)
  int8  the backbone's Linear layers as dynamic int8 (CPU only)

Only the backbone (~98% of the FLOPs) runs in reduced precision. The search fusion and the box
head always run the exact float32 path: rounding the head's size and offset maps to 8 mantissa
bits alone moves boxes by up to a pixel, and keeping them in float32 costs ~3% of the time.
"""
import warnings

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

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


def onednn_linear_available():
    """True when this torch build has oneDNN's fused linear kernel and it runs here."""
    if not (torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")):
        return False
    try:
        torch.ops.mkldnn._linear_pointwise(torch.ones(1, 2), torch.ones(3, 2), torch.zeros(3), "none", [], "")
    except (RuntimeError, NotImplementedError):
        return False
    return True


class OneDNNLinear(nn.Module):
    """Inference-only nn.Linear (optionally followed by exact GELU) computed by oneDNN; same weights."""

    def __init__(self, linear, gelu=False):
        super().__init__()
        self.weight = linear.weight
        self.bias = linear.bias
        self.activation = "gelu" if gelu else "none"

    def forward(self, x):
        return torch.ops.mkldnn._linear_pointwise(x, self.weight, self.bias, self.activation, [],
                                                  "none" if self.activation == "gelu" else "")


def use_onednn_linear(module):
    """Swap every nn.Linear for OneDNNLinear, fusing an MLP's fc1 with its exact GELU. Returns the count."""
    count = 0
    for name, child in list(module.named_children()):
        if isinstance(child, nn.Linear):
            setattr(module, name, OneDNNLinear(child))
            count += 1
            continue
        fc1, act = getattr(child, "fc1", None), getattr(child, "act", None)
        if isinstance(fc1, nn.Linear) and isinstance(act, nn.GELU) and act.approximate == "none":
            child.fc1, child.act = OneDNNLinear(fc1, gelu=True), nn.Identity()
            count += 1
        count += use_onednn_linear(child)
    return count


def use_exact_head(net, device):
    """The search fusion and box head of ``net`` on the exact float32 path (in place)."""
    if device.type == "cpu" and onednn_linear_available():
        for part in (net.tbsi_fuse_search, net.tbsi_fuse_middle, net.box_head):
            use_onednn_linear(part)


class ReducedPrecisionNet(nn.Module):
    """IIMFTrack whose backbone runs under autocast in ``dtype`` with its Linear weights stored in
    that dtype (no per-frame cast of ~170M weights); fusion and head in float32.

    On the CPU, the ViT blocks' attention runs as two plain bf16 matrix products around a softmax
    instead of scaled_dot_product_attention: for streams of 320 tokens this is ~2.5x faster than
    the CPU's flash-attention kernel, and the boxes stay as close to the exact path's."""

    def __init__(self, net, dtype, device):
        super().__init__()
        self.net = net
        self.dtype = dtype
        for module in net.backbone.modules():
            if isinstance(module, nn.Linear):
                module.to(dtype)
            if device.type == "cpu" and hasattr(module, "fused_attn"):  # timm's Attention
                module.fused_attn = False

    def forward(self, template, search, return_features=False):
        device_type = template[0].device.type
        with torch.autocast(device_type, dtype=self.dtype):
            feat = self.net.backbone(*template, *search, need_shared_template=return_features)
        feat = feat.float()
        out = self.net.forward_head(feat)
        if return_features:
            out["backbone_feat"] = feat
        return out


def quantize_linear_int8(module):
    """Dynamic int8 quantisation of the Linear layers of ``module``: int8 weights with one scale per
    output channel (several times closer to float32 than one scale per tensor), activations per batch."""
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's eager quantisation warns that it is deprecated
        return quantize_dynamic(module, {nn.Linear: per_channel_dynamic_qconfig})


def check_precision_device(precision, device):
    """ValueError when ``precision`` cannot run on ``device`` (fp16 needs a GPU, int8 the CPU); a
    warning when bf16 would be slow on this CPU. The one place these rules live."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    device = torch.device(device)
    if precision == "int8" and device.type != "cpu":
        raise ValueError("--precision int8 runs on the CPU only (--num_gpus 0); on a GPU use fp16 or bf16")
    if precision == "fp16" and device.type != "cuda":
        raise ValueError("--precision fp16 needs a GPU; on the CPU use bf16 or int8")
    if precision == "bf16" and device.type == "cpu" and not bf16_fast_on_cpu():
        warnings.warn("this CPU has no native bfloat16 (AVX512-BF16 or AMX): precision bf16 will be slow; "
                      "use int8 instead", stacklevel=3)


def prepare_for_inference(net, precision="fp32", device="cpu"):
    """Eval-mode network on `device` in the requested precision (see the module docstring)."""
    check_precision_device(precision, device)
    device = torch.device(device)
    net = net.eval().to(device)
    if precision == "fp32":
        if device.type == "cpu" and onednn_linear_available():
            use_onednn_linear(net)
        return net
    use_exact_head(net, device)
    if precision == "int8":
        net.backbone = quantize_linear_int8(net.backbone)
        return net
    return ReducedPrecisionNet(net, torch.bfloat16 if precision == "bf16" else torch.float16, device)


def bf16_fast_on_cpu():
    """True when oneDNN reports native bfloat16 support on this CPU."""
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    try:
        return bool(check()) if check is not None else False
    except RuntimeError:
        return False
