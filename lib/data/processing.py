"""Joint RGB-T processing of one template/search pair (the original's STARKProcessing,
``mode='sequence'``, docs/training.md#processing-pipeline).

Steps, in order:

1. Joint transform on the raw ``H x W x 6`` frames: one horizontal-flip roll (p = 0.5) shared by
   the template and the search frame, so RGB and TIR, and template and search, flip together.
2. Jitter per frame: ``size' = wh * exp(N(0,1) * SCALE_JITTER)`` (w and h independent),
   ``centre' = centre + (U(0,1) - 1/2) * sqrt(w' h') * CENTER_JITTER`` (x and y independent).
3. Invalid if ``ceil(sqrt(w' h') * FACTOR) < 1``.
4. Crop around the jittered box with ``sample_target`` (factor, output size from the config).
5. GT in the crop: ``centre = (sz-1)/2 + (c_gt - c_jit) * rf``, ``wh = wh * rf``, divided by sz.
6. Per-frame transform (independent rolls for template and search): brightness x U(0.8, 1.2)
   (one factor for all 6 channels), /255, clamp; a second horizontal flip (p = 0.5) of image,
   mask and normalised box; normalise with the 6-channel mean/std.
7. Invalid if the crop's attention mask (True = padding) is all padding, or if its
   nearest-neighbour downsampling to the feature grid (size // stride) is all padding.

Randomness comes from the ``numpy.random.Generator`` passed in (one per sample).
"""
from __future__ import annotations

import math
from typing import Dict, Optional, Sequence

import numpy as np
import torch

from lib.utils.crops import sample_target

from .transforms import (brightness_jitter, downsample_nearest, flip_frame_and_box, flip_normalised, normalize,
                         to_chw_tensor)

__all__ = ["RGBTProcessing", "jitter_box", "box_in_crop"]


def jitter_box(box: np.ndarray, scale_jitter: float, center_jitter: float, rng: np.random.Generator) -> np.ndarray:
    """Jittered x, y, w, h box (the original's ``_get_jittered_box``)."""
    box = np.asarray(box, dtype=np.float64)
    size = box[2:4] * np.exp(rng.standard_normal(2) * scale_jitter)
    max_offset = math.sqrt(max(float(size[0] * size[1]), 0.0)) * center_jitter
    centre = box[0:2] + 0.5 * box[2:4] + max_offset * (rng.random(2) - 0.5)
    return np.concatenate([centre - 0.5 * size, size])


def box_in_crop(box_gt: np.ndarray, box_crop: np.ndarray, resize_factor: float, out_sz: int) -> np.ndarray:
    """GT box in the crop's normalised coordinates (the original's ``transform_image_to_crop``,
    ``normalize=True``): centre ``(sz-1)/2 + (c_gt - c_crop) * rf``, size ``wh * rf``, / sz."""
    box_gt = np.asarray(box_gt, dtype=np.float64)
    box_crop = np.asarray(box_crop, dtype=np.float64)
    c_crop = box_crop[0:2] + 0.5 * box_crop[2:4]
    c_gt = box_gt[0:2] + 0.5 * box_gt[2:4]
    centre = (out_sz - 1) / 2 + (c_gt - c_crop) * resize_factor
    wh = box_gt[2:4] * resize_factor
    return np.concatenate([centre - 0.5 * wh, wh]) / out_sz


class RGBTProcessing:
    """Turn a raw template/search frame pair into network inputs (see the module docstring).

    ``__call__(template_frame, template_box, search_frame, search_box, rng)`` -> dict with
    ``valid`` (bool) and, when valid: ``template_images`` (6, Ht, Ht) float32 normalised,
    ``template_anno`` (4,) float32 normalised x, y, w, h, ``template_att`` (Ht, Ht) bool, and the
    same three for ``search``, and ``flips`` (3,) bool: the joint flip, then the template's and
    the search crop's own flips. When invalid, ``reason`` says why.
    """

    def __init__(self, template_size: int, search_size: int, template_factor: float, search_factor: float,
                 template_center_jitter: float = 0.0, template_scale_jitter: float = 0.0,
                 search_center_jitter: float = 3.0, search_scale_jitter: float = 0.25,
                 mean: Sequence[float] = (0.485, 0.456, 0.406, 0.449, 0.449, 0.449),
                 std: Sequence[float] = (0.229, 0.224, 0.225, 0.226, 0.226, 0.226),
                 stride: int = 16, brightness_jitter: float = 0.2, joint_flip_prob: float = 0.5,
                 frame_flip_prob: float = 0.5):
        self.params = {
            "template": dict(size=int(template_size), factor=float(template_factor),
                             center_jitter=float(template_center_jitter), scale_jitter=float(template_scale_jitter)),
            "search": dict(size=int(search_size), factor=float(search_factor),
                           center_jitter=float(search_center_jitter), scale_jitter=float(search_scale_jitter)),
        }
        self.mean = [float(v) for v in mean]
        self.std = [float(v) for v in std]
        if len(self.mean) != 6 or len(self.std) != 6:
            raise ValueError(f"DATA.MEAN and DATA.STD need 6 values (RGB then TIR), got {len(self.mean)} and {len(self.std)}")
        self.stride = int(stride)
        self.brightness_jitter = float(brightness_jitter)
        self.joint_flip_prob = float(joint_flip_prob)
        self.frame_flip_prob = float(frame_flip_prob)

    @classmethod
    def from_cfg(cls, cfg) -> "RGBTProcessing":
        d = cfg.DATA
        return cls(template_size=d.TEMPLATE.SIZE, search_size=d.SEARCH.SIZE,
                   template_factor=d.TEMPLATE.FACTOR, search_factor=d.SEARCH.FACTOR,
                   template_center_jitter=d.TEMPLATE.CENTER_JITTER, template_scale_jitter=d.TEMPLATE.SCALE_JITTER,
                   search_center_jitter=d.SEARCH.CENTER_JITTER, search_scale_jitter=d.SEARCH.SCALE_JITTER,
                   mean=d.MEAN, std=d.STD, stride=cfg.MODEL.BACKBONE.STRIDE)

    def _one(self, mode: str, frame: np.ndarray, box: np.ndarray, rng: np.random.Generator, out: Dict) -> Optional[str]:
        p = self.params[mode]
        jit = jitter_box(box, p["scale_jitter"], p["center_jitter"], rng)
        w, h = jit[2], jit[3]
        if not (w * h > 0) or math.ceil(math.sqrt(w * h) * p["factor"]) < 1:
            return f"{mode}: jittered box {np.round(jit, 2).tolist()} gives an empty crop"
        crop, resize_factor, att = sample_target(frame, jit, p["factor"], p["size"])
        att = np.asarray(att) != 0
        anno = box_in_crop(box, jit, float(resize_factor), p["size"])

        factor = rng.uniform(max(0.0, 1.0 - self.brightness_jitter), 1.0 + self.brightness_jitter)
        img = brightness_jitter(crop, factor)
        flipped = rng.random() < self.frame_flip_prob
        if flipped:
            img, att, anno = flip_normalised(img, att, anno)
        img = normalize(img, self.mean, self.std)

        if att.all():
            return f"{mode}: the crop is entirely padding"
        feat = p["size"] // self.stride
        if downsample_nearest(att, feat).all():
            return f"{mode}: the crop's {feat}x{feat} feature-grid mask is entirely padding"
        out[f"{mode}_images"] = to_chw_tensor(img)
        out[f"{mode}_anno"] = torch.from_numpy(anno.astype(np.float32))
        out[f"{mode}_att"] = torch.from_numpy(np.ascontiguousarray(att))
        out.setdefault("flips", []).append(bool(flipped))
        return None

    def __call__(self, template_frame: np.ndarray, template_box, search_frame: np.ndarray, search_box,
                 rng: np.random.Generator) -> Dict:
        for name, frame in (("template", template_frame), ("search", search_frame)):
            if frame.ndim != 3 or frame.shape[2] != 6:
                raise ValueError(f"{name} frame must be H x W x 6 [RGB | TIR], got shape {tuple(frame.shape)}")
        template_box = np.asarray(template_box, dtype=np.float64)
        search_box = np.asarray(search_box, dtype=np.float64)
        # 1. joint flip: one roll for both frames (the original's new_roll=False)
        joint_flip = rng.random() < self.joint_flip_prob
        if joint_flip:
            template_frame, template_box = flip_frame_and_box(template_frame, template_box)
            search_frame, search_box = flip_frame_and_box(search_frame, search_box)
        out: Dict = {}
        for mode, frame, box in (("template", template_frame, template_box), ("search", search_frame, search_box)):
            reason = self._one(mode, frame, box, rng, out)
            if reason is not None:
                return {"valid": False, "reason": reason}
        # (joint flip, template's own flip, search's own flip), for tests and debugging
        out["flips"] = torch.tensor([bool(joint_flip)] + out["flips"], dtype=torch.bool)
        out["valid"] = True
        return out
