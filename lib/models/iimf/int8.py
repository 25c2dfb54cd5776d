"""Static int8 backbone: int8 weights (one scale per output channel) and int8 activations (one scale
per layer input, calibrated on crops the tracker has seen), on oneDNN's int8 kernels (AMX-INT8 or
AVX512-VNNI). The residual stream, LayerNorms and softmax stay in float32, the attention products run
in bfloat16, and each MLP's first layer hands its GELU output to the second already quantised.

The inputs of each ViT block's qkv and fc1 layers are LayerNorm outputs whose channels have different
ranges; one int8 range for all of them wastes most levels on the narrow channels. As in SmoothQuant
(Xiao et al., 2023), each input channel j is divided by s_j = absmax_j(x) ** alpha / absmax_j(W[:, j])
** (1 - alpha) and the weight column multiplied by it (the same product); the division is folded into
the LayerNorm's weight and bias, so it costs nothing per frame. That is why the calibration records
every layer input's range per channel.

    with RangeRecorder(net.backbone) as recorder:   # fp32 network; run the exact tracker on some frames
        ...
    save_calibration(path, recorder.ranges, cfg, config_name, checkpoint)
    ranges = load_calibration(path, cfg, checkpoint)   # refuses a file made for other settings
    use_static_int8_backbone(net, ranges)              # in place

A calibration file records what it was made from: the config (name and a fingerprint of its MODEL,
DATA and TEST settings), the checkpoint (path and sha256), the crop sizes and the frames it saw.
"""
import io
import warnings
from pathlib import Path

import torch
from torch import nn

from lib.utils.io import atomic_write, file_sha256

from .cpu_kernels import InferenceBlock, attention_uses_flash, bf16_fast_on_cpu
from .provenance import config_fingerprint

CALIBRATION_FORMAT = "iimf-int8-calibration-2"   # 1: one range per layer (before smoothing)

QMAX = 255  # activations: asymmetric uint8

# SmoothQuant's migration strength for the qkv and fc1 inputs: 1.0 scales every input channel to the
# same range (as RepQ-ViT does for post-LayerNorm activations). Measured with the tiny demo model,
# int8 boxes against exact ones on the same crops, max / mean px, on its 8 test sequences and on 12
# other synthetic sequences: no smoothing 0.383 / 0.0120 and 0.162 / 0.0102; alpha 0.5 0.332 / 0.0100
# and 0.311 / 0.0092; alpha 1.0 0.138 / 0.0086 and 0.181 / 0.0088 (the smallest mean on both sets,
# and the smallest worst case over both).
SMOOTHING_ALPHA = 1.0


def int8_kernels_available():
    """True when this torch build has oneDNN's int8 linear kernels and they run here."""
    if not hasattr(torch.ops.onednn, "qlinear_pointwise"):
        return False
    try:
        layer = StaticInt8Linear(nn.Linear(4, 2), -1.0, 1.0)
        layer(torch.ones(1, 4))
        layer(torch.ones(1, 4), residual=torch.ones(1, 2))   # the fused residual add (newer torch only)
    except (RuntimeError, NotImplementedError, AttributeError):
        return False
    return True


def activation_qparams(low, high):
    """(scale, zero point) mapping [low, high] (widened to include 0) onto uint8."""
    low, high = min(float(low), 0.0), max(float(high), 0.0)
    scale = max(high - low, 1e-8) / QMAX
    return scale, int(min(max(round(-low / scale), 0), QMAX))


class StaticInt8Linear(nn.Module):
    """nn.Linear with int8 weights (per output channel) and a calibrated uint8 input.

    forward(x, residual=None): x float (quantised here with the calibrated range) or uint8 (already
    quantised with this layer's input parameters, see ``emit_quantized_for``); returns float32
    linear(x) (+ GELU if ``gelu``) (+ residual), or uint8 for the next layer after emit_quantized_for.
    """

    def __init__(self, linear, input_low, input_high, gelu=False):
        super().__init__()
        weight = linear.weight.detach().float()
        weight_scale = weight.abs().amax(dim=1).clamp(min=1e-12) / 127
        weight_q = torch.round(weight / weight_scale[:, None]).clamp(-127, 127).to(torch.int8)
        self.register_buffer("packed_weight", torch.ops.onednn.qlinear_prepack(weight_q, None), persistent=False)
        self.register_buffer("weight_scale", weight_scale)
        self.register_buffer("weight_zero_point", torch.zeros(weight.shape[0], dtype=torch.int64))
        self.register_buffer("bias", None if linear.bias is None else linear.bias.detach().float())
        self.input_scale, self.input_zero_point = activation_qparams(input_low, input_high)
        self.activation = "gelu" if gelu else "none"
        self.output = (1.0, 0, torch.float32)  # output scale, zero point, dtype

    def emit_float(self, dtype):
        """Return float output in ``dtype`` (e.g. bfloat16 for the attention that reads it)."""
        self.output = (1.0, 0, dtype)

    def emit_quantized_for(self, consumer):
        """Return uint8 output quantised with ``consumer``'s input parameters (consumer takes it as is)."""
        self.output = (consumer.input_scale, consumer.input_zero_point, torch.uint8)

    def quantize(self, x):
        """float x -> uint8 with this layer's input parameters (a uint8 x is already quantised)."""
        if x.dtype == torch.uint8:
            return x
        with warnings.catch_warnings():  # quantised tensors are deprecated; this is their fastest kernel today
            warnings.simplefilter("ignore")
            quantized = torch.quantize_per_tensor(x.float(), self.input_scale, self.input_zero_point, torch.quint8)
        # its bytes as a plain uint8 tensor, without int_repr()'s copy (a third of the quantisation time)
        return torch.empty(0, dtype=torch.uint8, device=x.device).set_(
            quantized.untyped_storage(), quantized.storage_offset(), quantized.shape, quantized.stride())

    def forward(self, x, residual=None):
        qx = self.quantize(x)
        args = (qx, self.input_scale, self.input_zero_point, self.packed_weight, self.weight_scale,
                self.weight_zero_point)
        if residual is not None and self.activation == "none" and self.output[2] == torch.float32:
            return torch.ops.onednn.qlinear_pointwise.binary(*args, residual.float(), self.bias, 1.0, 0, torch.float32,
                                                             1.0, 0, "add", 1.0, "none", [], "")
        scale, zero_point, dtype = self.output
        out = torch.ops.onednn.qlinear_pointwise(*args, self.bias, scale, zero_point, dtype, self.activation, [],
                                                 "none" if self.activation == "gelu" else "")
        return out if residual is None else out + residual


def layer_range(pair):
    """(low, high) floats of a layer's recorded input range, per channel or not."""
    low, high = pair
    return float(torch.as_tensor(low).min()), float(torch.as_tensor(high).max())


class RangeRecorder:
    """Context manager recording the smallest and largest value of every input channel of every
    Linear layer of ``backbone`` (``ranges``: {module name: (low, high)}, two float32 tensors of
    the layer's input width) while the network runs; ``frames`` counts the forward passes."""

    def __init__(self, backbone):
        self.backbone = backbone
        self.ranges = {}
        self.frames = 0
        self._hooks = []

    def _record(self, name, value):
        channels = value.detach().float().reshape(-1, value.shape[-1])
        low, high = channels.amin(dim=0), channels.amax(dim=0)
        if name in self.ranges:
            old_low, old_high = self.ranges[name]
            low, high = torch.minimum(old_low, low), torch.maximum(old_high, high)
        self.ranges[name] = (low, high)

    def __enter__(self):
        for name, module in self.backbone.named_modules():
            if isinstance(module, nn.Linear):
                self._hooks.append(module.register_forward_pre_hook(
                    lambda _module, inputs, name=name: self._record(name, inputs[0])))
        self._hooks.append(self.backbone.register_forward_pre_hook(lambda *_: self._count()))
        return self

    def _count(self):
        self.frames += 1

    def __exit__(self, *exc):
        for hook in self._hooks:
            hook.remove()
        self._hooks = []


def default_calibration_path(checkpoint):
    """Where calibrate_int8.py writes and the int8 path looks: beside the checkpoint, ``<name>.int8.pt``."""
    checkpoint = Path(checkpoint)
    stem = checkpoint.name.split(".pth")[0] if ".pth" in checkpoint.name else checkpoint.stem
    return checkpoint.with_name(f"{stem}.int8.pt")


def save_calibration(path, ranges, cfg, config_name, checkpoint, frames, sequences=()):
    """Write the calibrated ranges and what they were made from (atomically)."""
    record = {"format": CALIBRATION_FORMAT, "config": str(config_name), "config_fingerprint": config_fingerprint(cfg),
              "checkpoint": str(checkpoint), "checkpoint_sha256": file_sha256(checkpoint),
              "template_size": int(cfg.TEST.TEMPLATE_SIZE), "search_size": int(cfg.TEST.SEARCH_SIZE),
              "frames": int(frames), "sequences": list(sequences), "ranges": dict(ranges)}
    buffer = io.BytesIO()
    torch.save(record, buffer)
    return atomic_write(path, buffer.getvalue())


def load_calibration(path, cfg, checkpoint):
    """The ranges of a calibration file, after checking that it was made for these crop sizes, this
    config and this checkpoint (ValueError naming the difference otherwise)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"int8 calibration {path} not found; make it with: python tracking/calibrate_int8.py "
                                f"tbsi_track <config> --checkpoint {checkpoint}")
    try:
        record = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for files that are no checkpoint
        raise ValueError(f"{path} is not an int8 calibration file ({err})") from None
    if isinstance(record, dict) and str(record.get("format", "")).startswith("iimf-int8-calibration-") \
            and record["format"] != CALIBRATION_FORMAT:
        raise ValueError(f"{path} is an int8 calibration of an older format ({record['format']}, one range per "
                         f"layer); the int8 path now needs per-channel ranges: calibrate again with "
                         f"tracking/calibrate_int8.py")
    if not isinstance(record, dict) or record.get("format") != CALIBRATION_FORMAT:
        raise ValueError(f"{path} is not an int8 calibration file (written by tracking/calibrate_int8.py)")
    made_for = (record["template_size"], record["search_size"])
    wanted = (int(cfg.TEST.TEMPLATE_SIZE), int(cfg.TEST.SEARCH_SIZE))
    if made_for != wanted:
        raise ValueError(f"{path} was calibrated for template/search crops {made_for[0]}/{made_for[1]}, but the config "
                         f"uses {wanted[0]}/{wanted[1]}: calibrate again with this config")
    if record["config_fingerprint"] != config_fingerprint(cfg):
        raise ValueError(f"{path} was calibrated with config {record['config']}, whose MODEL/DATA/TEST settings differ "
                         f"from this config's: calibrate again with this config")
    sha = file_sha256(checkpoint)
    if record["checkpoint_sha256"] != sha:
        raise ValueError(f"{path} was calibrated for checkpoint {record['checkpoint']} (sha256 "
                         f"{record['checkpoint_sha256'][:12]}...), not {checkpoint} (sha256 {sha[:12]}...): "
                         f"calibrate again for this checkpoint")
    return {name: tuple(pair) for name, pair in record["ranges"].items()}


def smooth_block_inputs(backbone, ranges, alpha=SMOOTHING_ALPHA):
    """SmoothQuant on ``backbone``'s ViT blocks (in place, see the module docstring): for norm1 -> qkv
    and norm2 -> fc1, divide the LayerNorm's output channels by s and multiply the Linear's input
    columns by s, which leaves the float32 result unchanged up to rounding. Returns the ranges
    with those layers' per-channel input ranges divided by s; layers with one range (no channels)
    are left alone."""
    ranges = dict(ranges)
    for j, block in enumerate(backbone.blocks):
        for norm, linear, name in ((block.norm1, block.attn.qkv, f"blocks.{j}.attn.qkv"),
                                   (block.norm2, block.mlp.fc1, f"blocks.{j}.mlp.fc1")):
            if name not in ranges or torch.as_tensor(ranges[name][0]).dim() != 1:
                continue
            low, high = (torch.as_tensor(v, dtype=torch.float32) for v in ranges[name])
            act_absmax = torch.maximum(-low, high).clamp(min=1e-5)
            weight_absmax = linear.weight.detach().float().abs().amax(dim=0).clamp(min=1e-5)
            scale = (act_absmax ** alpha / weight_absmax ** (1 - alpha)).clamp(min=1e-5)
            with torch.no_grad():
                norm.weight.div_(scale)
                norm.bias.div_(scale)
                linear.weight.mul_(scale)
            ranges[name] = (low / scale, high / scale)
    return ranges


def use_static_int8_backbone(net, ranges):
    """The backbone of ``net`` on static int8 (in place): the qkv and fc1 inputs smoothed
    (smooth_block_inputs), its Linear layers quantised with the calibrated ranges, its ViT blocks
    as InferenceBlocks whose attention runs in bfloat16 on the qkv layer's bf16 output (in float32
    on CPUs without native bf16)."""
    ranges = smooth_block_inputs(net.backbone, ranges)
    quantize_backbone_static(net.backbone, ranges)
    bf16 = bf16_fast_on_cpu()
    blocks = [InferenceBlock(block, attention_dtype=torch.bfloat16, flash=attention_uses_flash()) if bf16
              else InferenceBlock(block) for block in net.backbone.blocks]
    for block in blocks:
        if isinstance(block.attn.qkv, StaticInt8Linear):   # an uncalibrated layer stays float32
            block.attn.qkv.emit_float(torch.bfloat16 if bf16 else torch.float32)
    net.backbone.blocks = nn.ModuleList(blocks)
    return net


def quantize_backbone_static(backbone, ranges):
    """Swap the nn.Linear layers of ``backbone`` (in place) for StaticInt8Linear with their calibrated
    input ranges; an MLP's fc1 gets its GELU fused and hands uint8 to fc2. ``ranges`` as RangeRecorder
    records them; a layer tracking never runs has none and stays in float32; a range for a layer this
    network does not have is an error."""
    linears = {name for name, m in backbone.named_modules() if isinstance(m, nn.Linear)}
    unknown = sorted(set(ranges) - linears)
    if unknown:
        raise ValueError(f"the int8 calibration names {len(unknown)} layers this network does not have "
                         f"(e.g. {unknown[0]}): it was made for another model")
    _swap(backbone, "", ranges)


def _swap(module, prefix, ranges):
    for name, child in list(module.named_children()):
        path = f"{prefix}{name}"
        if isinstance(child, nn.Linear):
            if path in ranges:
                setattr(module, name, StaticInt8Linear(child, *layer_range(ranges[path])))
            continue
        fc1, act, fc2 = (getattr(child, attr, None) for attr in ("fc1", "act", "fc2"))
        mlp = isinstance(fc1, nn.Linear) and isinstance(act, nn.GELU) and isinstance(fc2, nn.Linear)
        if mlp and f"{path}.fc1" in ranges and f"{path}.fc2" in ranges:
            child.fc1 = StaticInt8Linear(fc1, *layer_range(ranges[f"{path}.fc1"]), gelu=True)
            child.fc2 = StaticInt8Linear(fc2, *layer_range(ranges[f"{path}.fc2"]))
            child.act = nn.Identity()
            child.fc1.emit_quantized_for(child.fc2)
        _swap(child, f"{path}.", ranges)
