"""The IIMF single-object tracker (docs/tracker.md), device-agnostic.

    tracker = IIMFTracker(net, cfg, device)        # or build_tracker(cfg, checkpoint, device)
    tracker.initialize(frame0, init_box_xywh)      # frame: H x W x 6 uint8 [R, G, B | T, T, T]
    box = tracker.track(frame)                     # [x, y, w, h] (Python floats) per later frame

Every step follows the official tracker in the same order and precision, so that given the
same network outputs the boxes are the official ones bit for bit (and within float32 noise,
far below 0.001 px, given the same weights):

1. ``sample_target`` (lib/utils/crops.py): template at ``TEST.TEMPLATE_FACTOR`` ->
   ``TEST.TEMPLATE_SIZE`` once at initialisation (never updated); search region at
   ``TEST.SEARCH_FACTOR`` -> ``TEST.SEARCH_SIZE`` around the previous state.
2. Normalisation in float32 on the device: ``(uint8 / 255.0 - mean) / std`` with the 6-channel
   ``DATA.MEAN``/``DATA.STD``; channels ``[:3]`` are the RGB input, ``[3:]`` the TIR input.
3. The network (under ``torch.inference_mode``), then ``response = hann * score_map`` with the
   centred cosine window of the feature map size ``TEST.SEARCH_SIZE // MODEL.BACKBONE.STRIDE``.
4. ``cal_bbox``: the cell of the first maximum of the response, its offset and size.
5. Scale by ``search_size / resize_factor`` in float32, map back to the image with the
   unrounded previous centre, ``clip_box(margin=10)``; the result is the new state.

Constants (mean, std, window) are created once on the tracker's device.
"""
from __future__ import annotations

import copy
import inspect
import math
import time
from typing import Optional, Sequence

import numpy as np
import torch

from lib.models.iimf import load_iimf
from lib.models.iimf.inference import prepare_for_inference
from lib.models.iimf.int8 import default_calibration_path, load_calibration
from lib.models.iimf.onnx_backend import OnnxRuntimeNet
from lib.utils.boxes import cal_bbox, clip_box, map_box_back
from lib.utils.crops import sample_target

from .options import InferenceOptions

__all__ = ["hann1d", "hann2d", "cal_bbox", "IIMFTracker", "TieCheckedNet", "build_network", "build_tracker",
           "fast_network", "response_window", "resolve_device", "TIE_MARGINS"]

CLIP_MARGIN = 10


def hann1d(size: int) -> torch.Tensor:
    """Centred cosine window, never zero: ``0.5 * (1 - cos(2 pi k / (size + 1)))``, k = 1..size
    (float32, computed in the same torch operations as the original)."""
    k = torch.arange(1, size + 1).float()
    return 0.5 * (1 - torch.cos((2 * math.pi / (size + 1)) * k))


def hann2d(size: int) -> torch.Tensor:
    """Outer product of two ``hann1d(size)`` windows, shape (1, 1, size, size), float32 (CPU)."""
    h = hann1d(size)
    return h.reshape(1, 1, -1, 1) * h.reshape(1, 1, 1, -1)


def response_window(cfg) -> torch.Tensor:
    """``hann2d`` of the score map size of a config, ``TEST.SEARCH_SIZE // MODEL.BACKBONE.STRIDE``."""
    return hann2d(int(cfg.TEST.SEARCH_SIZE) // int(cfg.MODEL.BACKBONE.STRIDE))


def resolve_device(device) -> torch.device:
    """``None`` -> ``cuda:0`` if available else ``cpu``; strings and devices pass through."""
    if device is None:
        return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class IIMFTracker:
    """Fixed-template RGB-T tracker around an IIMF network.

    ``net``: any module with ``forward(template=[z_rgb, z_tir], search=[x_rgb, x_tir])`` returning
    a dict with ``score_map`` (1, 1, F, F), ``size_map`` and ``offset_map`` (1, 2, F, F).
    ``cfg``: the experiment config (uses ``TEST.*``, ``DATA.MEAN``/``STD``,
    ``MODEL.BACKBONE.STRIDE``). ``device``: where the network runs (a module is moved there and
    put in eval mode). If the network's forward takes ``return_features``, it is called with
    ``return_features=False`` (skips backbone features tracking never reads; same boxes).
    After ``track``, ``last_score`` holds the maximum of the windowed response;
    ``network_seconds`` adds up the time spent in the network's forward (all ``track`` calls).
    """

    def __init__(self, net: torch.nn.Module, cfg, device=None):
        self.device = resolve_device(device)
        if hasattr(net, "to"):          # nn.Modules; other backends (onnxruntime) may have no .to/.eval
            net = net.to(self.device)
        if hasattr(net, "eval"):
            net = net.eval()
        self.net = net
        test = cfg.TEST
        self.template_factor = float(test.TEMPLATE_FACTOR)
        self.template_size = int(test.TEMPLATE_SIZE)
        self.search_factor = float(test.SEARCH_FACTOR)
        self.search_size = int(test.SEARCH_SIZE)
        stride = int(cfg.MODEL.BACKBONE.STRIDE)
        if self.search_size % stride or self.template_size % stride:
            raise ValueError(f"TEST.SEARCH_SIZE ({self.search_size}) and TEST.TEMPLATE_SIZE "
                             f"({self.template_size}) must be multiples of MODEL.BACKBONE.STRIDE ({stride})")
        self.feat_size = self.search_size // stride
        mean, std = list(cfg.DATA.MEAN), list(cfg.DATA.STD)
        if len(mean) != 6 or len(std) != 6:
            raise ValueError(f"DATA.MEAN and DATA.STD must have 6 values (RGB then TIR), got "
                             f"{len(mean)} and {len(std)}")
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, 6, 1, 1).to(self.device)
        self.std = torch.tensor(std, dtype=torch.float32).view(1, 6, 1, 1).to(self.device)
        self.window = response_window(cfg).to(self.device)
        try:
            params = inspect.signature(self.net.forward).parameters
        except (TypeError, ValueError):
            params = {}
        # Our network can skip the backbone features that tracking never reads (same boxes).
        self._forward_kwargs = {"return_features": False} if "return_features" in params else {}
        self.state: Optional[list] = None
        self.frame_id = 0
        self.last_score: Optional[float] = None
        self.network_seconds = 0.0
        self._template = None

    # ------------------------------------------------------------------ helpers
    def preprocess(self, crop: np.ndarray) -> torch.Tensor:
        """``H x W x 6`` uint8 crop -> normalised (1, 6, H, W) float32 tensor on the device."""
        if crop.ndim != 3 or crop.shape[2] != 6:
            raise ValueError(f"expected an H x W x 6 RGB-T crop, got shape {crop.shape}")
        t = torch.from_numpy(np.ascontiguousarray(crop)).to(self.device)
        t = t.float().permute(2, 0, 1).unsqueeze(0)
        return ((t / 255.0) - self.mean) / self.std

    @staticmethod
    def _check_frame(frame: np.ndarray) -> None:
        if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 6:
            shape = getattr(frame, "shape", None)
            raise ValueError(f"expected an H x W x 6 uint8 RGB-T frame [R, G, B | T, T, T], got shape {shape}")

    # ------------------------------------------------------------------ API
    def initialize(self, frame: np.ndarray, box: Sequence[float]) -> list:
        """Crop and store the template from the first frame; the state becomes ``box``."""
        self._check_frame(frame)
        box = [float(v) for v in (box.tolist() if hasattr(box, "tolist") else box)]
        if len(box) != 4 or not all(math.isfinite(v) for v in box):
            raise ValueError(f"initial box must be 4 finite numbers (x, y, w, h), got {box}")
        if not (box[2] > 0 and box[3] > 0):
            raise ValueError(f"initial box {box} has w or h <= 0")
        z_crop, _, _ = sample_target(frame, box, self.template_factor, self.template_size, mask=False)
        with torch.inference_mode():
            z = self.preprocess(z_crop)
            self._template = [z[:, :3], z[:, 3:]]
        self.state = box
        self.frame_id = 0
        self.last_score = None
        return list(box)

    def track(self, frame: np.ndarray) -> list:
        """Track in the next frame; returns the new state ``[x, y, w, h]``."""
        if self._template is None:
            raise RuntimeError("IIMFTracker.track called before initialize")
        self._check_frame(frame)
        im_h, im_w = frame.shape[:2]
        self.frame_id += 1
        x_crop, resize_factor, _ = sample_target(frame, self.state, self.search_factor, self.search_size,
                                                  mask=False)
        with torch.inference_mode():
            x = self.preprocess(x_crop)
            start = time.perf_counter()
            out = self.net(template=self._template, search=[x[:, :3], x[:, 3:]], **self._forward_kwargs)
            if self.device.type == "cuda":  # the box below waits for the GPU anyway
                torch.cuda.synchronize(self.device)
            self.network_seconds += time.perf_counter() - start
            score_map = out["score_map"].to(self.device)     # no-op unless a backend returns CPU maps
            if tuple(score_map.shape[-2:]) != (self.feat_size, self.feat_size):
                raise ValueError(f"network score map is {tuple(score_map.shape[-2:])}, expected "
                                 f"({self.feat_size}, {self.feat_size}) = TEST.SEARCH_SIZE // STRIDE")
            response = self.window * score_map
            boxes = cal_bbox(response, out["size_map"].to(self.device), out["offset_map"].to(self.device)).view(-1, 4)
            pred = (boxes.mean(dim=0) * self.search_size / resize_factor).tolist()
            self.last_score = float(response.max())
        box = map_box_back(pred, self.state, resize_factor, self.search_size)
        self.state = clip_box(box, im_h, im_w, margin=CLIP_MARGIN)
        return list(self.state)


# Fast paths: the exact network re-runs a frame whose windowed response has its two best cells
# closer than this (the fast path's error could swap them and move the box by a whole cell).
# About 4x the largest response error measured for each precision (int8 3e-3, bf16 1.3e-3).
TIE_MARGINS = {"bf16": 0.005, "fp16": 0.005, "int8": 0.02}


class TieCheckedNet(torch.nn.Module):
    """A fast-path network whose undecided frames are recomputed by the exact network.

    ``forward`` runs ``fast``; when the two highest cells of ``window * score_map`` differ by less
    than ``margin``, it returns ``exact``'s outputs for the same inputs instead. ``frames`` and
    ``rechecked`` count calls and recomputations."""

    def __init__(self, fast, exact, window: torch.Tensor, margin: float):
        super().__init__()
        self.fast, self.exact = fast, exact
        self.register_buffer("window", window, persistent=False)
        self.margin = float(margin)
        self.frames = self.rechecked = 0

    def forward(self, template, search, return_features=False):
        out = self.fast(template=template, search=search, return_features=return_features)
        best_two = (self.window * out["score_map"]).flatten(1).topk(2, dim=1).values
        self.frames += 1
        if bool((best_two[:, 0] - best_two[:, 1] < self.margin).any()):
            self.rechecked += 1
            out = self.exact(template=template, search=search, return_features=return_features)
        return out


def fast_network(net, cfg, precision: str, device, tie_check: bool = True, int8_ranges=None) -> torch.nn.Module:
    """``net`` (an eval-mode IIMFTrack) as the tracker's network for ``precision``: the exact path
    for fp32, else the fast path (int8 with the calibrated ``int8_ranges``), checked by a float32 copy
    on undecided frames (TieCheckedNet) unless ``tie_check`` is False."""
    device = resolve_device(device)
    if precision == "fp32" or not tie_check:
        return prepare_for_inference(net, precision, device, int8_ranges=int8_ranges)
    exact = prepare_for_inference(copy.deepcopy(net), "fp32", device)
    fast = prepare_for_inference(net, precision, device, int8_ranges=int8_ranges)
    return TieCheckedNet(fast, exact, response_window(cfg).to(device), TIE_MARGINS[precision])


def build_network(cfg, checkpoint=None, device=None, precision: str = "fp32", backend: str = "torch",
                  onnx=None, verbose: bool = False, tie_check: bool = True, calibration=None):
    """The network the tracker runs, on ``device``.

    Args:
        cfg: the experiment config.
        checkpoint: weights (the official ``{'net': state_dict}`` format, which our training writes
            too); needed by the torch backend.
        device: ``cpu``, ``cuda:N`` (default: the first GPU if any).
        precision: ``fp32`` is the exact path (the official arithmetic to float32 rounding);
            ``bf16``/``fp16``/``int8`` are the opt-in fast paths.
        backend: ``torch``, or ``onnxruntime`` to run the file ``onnx`` (tracking/export_onnx.py).
        verbose: print what was loaded.
        tie_check: fast paths: recompute exactly the frames whose best two cells the fast path
            cannot tell apart (see TIE_MARGINS).
        calibration: int8: the activation ranges file (default ``<checkpoint name>.int8.pt`` beside
            the checkpoint, where tracking/calibrate_int8.py writes it), made for this config, crop
            size and checkpoint.

    Raises:
        ValueError: options that cannot run on ``device`` (InferenceOptions.validate), crop sizes
            the network is not built for, a checkpoint that does not fit the config, an int8
            calibration made for something else.
    """
    device = resolve_device(device)
    InferenceOptions(precision, backend, None if onnx is None else str(onnx), tie_check).validate(device)
    for part in ("TEMPLATE", "SEARCH"):
        test_size, data_size = cfg.TEST[f"{part}_SIZE"], cfg.DATA[part].SIZE
        if test_size != data_size:
            raise ValueError(f"TEST.{part}_SIZE = {test_size} differs from the size the network is built for "
                             f"(DATA.{part}.SIZE = {data_size}); set them equal")
    if backend == "onnxruntime":
        net = OnnxRuntimeNet(onnx, threads=torch.get_num_threads(), device=device)
        net.check_config(cfg, warn=False)
        return net
    if checkpoint is None:
        raise ValueError("no checkpoint given")
    net = load_iimf(cfg, checkpoint, verbose=verbose)
    int8_ranges = None
    if precision == "int8":
        int8_ranges = load_calibration(calibration or default_calibration_path(checkpoint), cfg, checkpoint)
    return fast_network(net.eval(), cfg, precision, device, tie_check=tie_check, int8_ranges=int8_ranges)


def build_tracker(cfg, checkpoint=None, device=None, precision: str = "fp32", backend: str = "torch",
                  onnx=None, verbose: bool = False, tie_check: bool = True, calibration=None) -> IIMFTracker:
    """``IIMFTracker`` around ``build_network(...)`` on ``device`` (the arguments are build_network's)."""
    device = resolve_device(device)
    net = build_network(cfg, checkpoint, device, precision=precision, backend=backend, onnx=onnx, verbose=verbose,
                        tie_check=tie_check, calibration=calibration)
    return IIMFTracker(net, cfg, device)
