"""ONNX export of the tracking forward, and an ONNX Runtime backend with the network's interface.

    export_onnx(net, cfg, "iimf.onnx")
    net = OnnxRuntimeNet("iimf.onnx", threads=2)
    out = net(template=[z_rgb, z_tir], search=[x_rgb, x_tir])   # score/size/offset maps, pred_boxes
"""
import copy
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from lib.utils.io import atomic_write

from .inference import fold_batchnorm
from .provenance import config_fingerprint

INPUT_NAMES = ["template_rgb", "template_tir", "search_rgb", "search_tir"]
METADATA_PREFIX = "iimf."
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


def export_onnx(net, cfg, path, opset=18, metadata=None):
    """Write the batch-1 tracking forward of a network (a CPU copy of it) to an ONNX file, atomically.
    ``metadata`` (str -> str, e.g. the config and checkpoint) is stored in the file's metadata_props
    under ``iimf.<key>``; the crop sizes and the config's fingerprint are always stored."""
    import onnx  # optional dependency: only exporting needs it

    wrapper = _TrackingForward(fold_batchnorm(copy.deepcopy(net).cpu().eval()))
    z = torch.zeros(1, 3, cfg.TEST.TEMPLATE_SIZE, cfg.TEST.TEMPLATE_SIZE)
    x = torch.zeros(1, 3, cfg.TEST.SEARCH_SIZE, cfg.TEST.SEARCH_SIZE)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.name}.") as workdir:
        raw = Path(workdir) / "raw.onnx"
        # The TorchScript exporter: the torch.export-based one (torch 2.14) gave outputs 1e-2 off here.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(wrapper, (z, z, x, x), raw, input_names=INPUT_NAMES, output_names=OUTPUT_NAMES,
                              opset_version=opset, dynamo=False)
        model = onnx.load(raw)
    props = {"template_size": cfg.TEST.TEMPLATE_SIZE, "search_size": cfg.TEST.SEARCH_SIZE,
             "config_fingerprint": config_fingerprint(cfg), **(metadata or {})}
    onnx.helper.set_model_props(model, {f"{METADATA_PREFIX}{k}": str(v) for k, v in props.items()})
    return atomic_write(path, model.SerializeToString())


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
        device = torch.device(device)
        if device.type == "cuda":
            if "CUDAExecutionProvider" in ort.get_available_providers():
                # this worker's GPU, and full float32 (the provider's default TF32 would move boxes)
                providers.insert(0, ("CUDAExecutionProvider", {"device_id": device.index or 0, "use_tf32": 0}))
            else:
                warnings.warn("this onnxruntime has no CUDA support: the ONNX model runs on the CPU "
                              "(pip install onnxruntime-gpu for the GPU)", stacklevel=2)
        try:
            self.session = ort.InferenceSession(str(path), options, providers=providers)
        except Exception as err:  # onnxruntime raises its own exception types for unreadable files
            raise ValueError(f"{path} is not a readable ONNX model ({err}); write one with "
                             f"tracking/export_onnx.py") from None
        self.path = path
        self.input_shapes = {i.name: list(i.shape) for i in self.session.get_inputs()}
        meta = self.session.get_modelmeta().custom_metadata_map
        self.metadata = {k[len(METADATA_PREFIX):]: v for k, v in meta.items() if k.startswith(METADATA_PREFIX)}

    def check_config(self, cfg, config_name=None, warn=True):
        """ValueError when the model was exported for other crop sizes than cfg's TEST sizes, or from a
        config whose settings differ (files that record its fingerprint); with ``warn``, a warning when
        it was exported from a config of another name (files without a fingerprint) or without a
        checkpoint."""
        for part, name in (("TEMPLATE", "template_rgb"), ("SEARCH", "search_rgb")):
            want = int(cfg.TEST[f"{part}_SIZE"])
            shape = self.input_shapes.get(name)
            if shape is None or shape[-2:] != [want, want]:
                raise ValueError(f"{self.path} takes {name} of shape {shape}, but the config uses "
                                 f"TEST.{part}_SIZE {want}: export it with this config "
                                 f"(tracking/export_onnx.py)")
        exported_from = self.metadata.get("config")
        fingerprint = self.metadata.get("config_fingerprint")
        if fingerprint is not None and fingerprint != config_fingerprint(cfg):
            raise ValueError(f"{self.path} was exported from config {exported_from}, whose MODEL/DATA/TEST settings "
                             f"differ from this config's: export it with this config (tracking/export_onnx.py)")
        if not warn:
            return
        if config_name and exported_from and exported_from != config_name and fingerprint is None:
            warnings.warn(f"{self.path} was exported from config {exported_from}, not {config_name}", stacklevel=2)
        if self.metadata.get("checkpoint") == "":
            warnings.warn(f"{self.path} was exported without --checkpoint: random weights", stacklevel=2)

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
