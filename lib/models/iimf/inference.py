"""Inference variants of a loaded IIMF network: the exact float32 path and opt-in fast paths.

    net = prepare_for_inference(net, precision="fp32", device="cpu")   # exact (default)
    out = net(template=[z_rgb, z_tir], search=[x_rgb, x_tir], return_features=False)

precision:
  fp32  exact: the official model's arithmetic; on the CPU the Linear layers (and the GELU after
        each MLP's first layer) run as oneDNN kernels, which are about twice as fast as the BLAS
        matrix product on many CPUs and agree with it to float32 rounding (~1e-6)
  bf16  autocast to bfloat16 (CPUs with AVX512-BF16/AMX, and GPUs); maps returned in float32
  fp16  autocast to float16 (GPU only)
  int8  dynamic int8 quantisation of every Linear layer (CPU only)
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


class AutocastNet(nn.Module):
    """Runs the wrapped network under autocast and returns float32 outputs."""

    def __init__(self, net, device_type, dtype):
        super().__init__()
        self.net = net
        self.device_type = device_type
        self.dtype = dtype

    def forward(self, template, search, return_features=False):
        with torch.autocast(self.device_type, dtype=self.dtype):
            out = self.net(template=template, search=search, return_features=return_features)
        return {k: v.float() for k, v in out.items()}


def quantize_linear_int8(net):
    """Dynamic int8 quantisation of the Linear layers: int8 weights with one scale per output
    channel (several times closer to float32 than one scale per tensor), activations per batch."""
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's eager quantisation warns that it is deprecated
        return quantize_dynamic(net, {nn.Linear: per_channel_dynamic_qconfig})


def prepare_for_inference(net, precision="fp32", device="cpu"):
    """Eval-mode network on `device` in the requested precision (see the module docstring)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    device = torch.device(device)
    net = net.eval().to(device)
    if precision == "fp32":
        if device.type == "cpu" and onednn_linear_available():
            use_onednn_linear(net)
        return net
    if precision == "int8":
        if device.type != "cpu":
            raise ValueError("precision int8 runs on the CPU only; use fp16 or bf16 on a GPU")
        return quantize_linear_int8(net)
    if precision == "fp16" and device.type != "cuda":
        raise ValueError("precision fp16 needs a GPU; on the CPU use bf16 or int8")
    return AutocastNet(net, device.type, torch.bfloat16 if precision == "bf16" else torch.float16)
