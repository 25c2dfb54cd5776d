"""ONNX export of the tracking forward, and an ONNX Runtime backend with the network's interface.

    export_onnx(net, cfg, "iimf.onnx")
    net = OnnxRuntimeNet("iimf.onnx", threads=2)
    out = net(template=[z_rgb, z_tir], search=[x_rgb, x_tir])   # score/size/offset maps, pred_boxes
"""
import copy
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

INPUT_NAMES = ["template_rgb", "template_tir", "search_rgb", "search_tir"]
OUTPUT_NAMES = ["pred_boxes", "score_map", "size_map", "offset_map"]


class _TrackingForward(nn.Module):
    """Positional-argument wrapper: four images in, the four head outputs out."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, template_rgb, template_tir, search_rgb, search_tir):
        out = self.net(template=[template_rgb, template_tir], search=[search_rgb, search_tir],
                       return_features=False)
        return tuple(out[name] for name in OUTPUT_NAMES)


def export_onnx(net, cfg, path, opset=18):
    """Write the batch-1 tracking forward of a network (a CPU copy of it) to an ONNX file, atomically."""
    from .inference import fold_batchnorm

    wrapper = _TrackingForward(fold_batchnorm(copy.deepcopy(net).cpu().eval()))
    z = torch.zeros(1, 3, cfg.TEST.TEMPLATE_SIZE, cfg.TEST.TEMPLATE_SIZE)
    x = torch.zeros(1, 3, cfg.TEST.SEARCH_SIZE, cfg.TEST.SEARCH_SIZE)
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        # The TorchScript exporter: the torch.export-based one (torch 2.14) gave outputs 1e-2 off here.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(wrapper, (z, z, x, x), tmp, input_names=INPUT_NAMES, output_names=OUTPUT_NAMES,
                              opset_version=opset, dynamo=False)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


class OnnxRuntimeNet:
    """An ONNX Runtime session that the tracker can call like the PyTorch network."""

    def __init__(self, path, threads=None, device="cpu"):
        try:
            import onnxruntime as ort
        except ImportError:
            raise ImportError("the onnxruntime backend needs the onnxruntime package: pip install onnxruntime") \
                from None
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"ONNX model {path} not found; write it with tracking/export_onnx.py")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        # no busy-waiting between frames: it would take CPU time from the other tracking workers
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers = ["CPUExecutionProvider"]
        if str(device).startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        self.session = ort.InferenceSession(str(path), options, providers=providers)

    def eval(self):
        return self

    def to(self, device):
        return self

    def forward(self, template, search, return_features=False):
        feeds = {name: np.ascontiguousarray(t.detach().cpu().float().numpy())
                 for name, t in zip(INPUT_NAMES, [*template, *search])}
        outputs = self.session.run(OUTPUT_NAMES, feeds)
        return {name: torch.from_numpy(value) for name, value in zip(OUTPUT_NAMES, outputs)}

    __call__ = forward
