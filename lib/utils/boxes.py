"""Box helpers shared by the tracker, training and analysis.

Conventions: ``xywh`` = (x, y, w, h) with (x, y) the top-left corner; ``xyxy`` = (x1, y1, x2, y2)
with ``x2 = x + w``; ``cxcywh`` = centre and size.

The two tracker helpers, ``map_box_back`` and ``clip_box``, reproduce the official tracker's
arithmetic operation for operation (Python floats, same order of operations) because the
result files are compared with the official boxes to 0.001 px (docs/tracker.md#tracking-step):

* ``map_box_back`` uses the *unrounded* previous centre although the crop origin was rounded
  (an inherited <= 0.5 px inconsistency, docs/tracker.md#map_box_back);
* ``clip_box`` computes ``x2 = x1 + w`` from the unclipped ``x1`` first, then clamps both ends,
  then enforces a minimum size of ``margin``.

The array conversions accept numpy arrays and torch tensors of shape (..., 4) and return the
same type; Python sequences of 4 numbers give a list.
"""
from __future__ import annotations

from typing import List, Sequence

import numpy as np
import torch

__all__ = [
    "xywh_to_xyxy",
    "xyxy_to_xywh",
    "xywh_to_cxcywh",
    "cxcywh_to_xywh",
    "map_box_back",
    "clip_box",
    "cal_bbox",
]


def _cat(parts, like):
    """Concatenate the last-axis parts in the container type of ``like``."""
    if isinstance(like, np.ndarray):
        return np.concatenate(parts, axis=-1)
    if isinstance(like, torch.Tensor):
        return torch.cat(parts, dim=-1)
    raise TypeError(f"expected a numpy array or torch tensor, got {type(like).__name__}")


def _convert(box, fn):
    if isinstance(box, (list, tuple)):
        if len(box) != 4:
            raise ValueError(f"expected a box of 4 numbers, got {len(box)}: {box!r}")
        a, b, c, d = (float(v) for v in box)
        return list(fn(a, b, c, d))
    if box.shape[-1] != 4:
        raise ValueError(f"expected boxes of shape (..., 4), got {tuple(box.shape)}")
    a, b, c, d = (box[..., k:k + 1] for k in range(4))
    return _cat(list(fn(a, b, c, d)), box)


def xywh_to_xyxy(box):
    """(x, y, w, h) -> (x1, y1, x2, y2) with x2 = x + w."""
    return _convert(box, lambda x, y, w, h: (x, y, x + w, y + h))


def xyxy_to_xywh(box):
    """(x1, y1, x2, y2) -> (x, y, w, h) with w = x2 - x1."""
    return _convert(box, lambda x1, y1, x2, y2: (x1, y1, x2 - x1, y2 - y1))


def xywh_to_cxcywh(box):
    """(x, y, w, h) -> (cx, cy, w, h) with cx = x + 0.5 * w."""
    return _convert(box, lambda x, y, w, h: (x + 0.5 * w, y + 0.5 * h, w, h))


def cxcywh_to_xywh(box):
    """(cx, cy, w, h) -> (x, y, w, h) with x = cx - 0.5 * w."""
    return _convert(box, lambda cx, cy, w, h: (cx - 0.5 * w, cy - 0.5 * h, w, h))


def map_box_back(pred_box: Sequence[float], prev_box: Sequence[float], resize_factor: float,
                 search_size: int) -> List[float]:
    """Map a predicted box from search-crop pixels to image pixels.

    ``pred_box`` = (cx, cy, w, h) in pixels of the *crop* (already multiplied by
    ``search_size / resize_factor``); ``prev_box`` = the previous state (x, y, w, h) the crop was
    centred on; ``resize_factor`` = ``search_size / crop_size`` as returned by ``sample_target``.
    Returns (x, y, w, h) in image pixels. The crop is assumed centred on the unrounded previous
    centre (the official behaviour), and half the crop side is computed as
    ``0.5 * search_size / resize_factor`` exactly as the original does.
    """
    cx_prev = prev_box[0] + 0.5 * prev_box[2]
    cy_prev = prev_box[1] + 0.5 * prev_box[3]
    cx, cy, w, h = pred_box
    half_side = 0.5 * search_size / resize_factor
    cx_real = cx + (cx_prev - half_side)
    cy_real = cy + (cy_prev - half_side)
    return [cx_real - 0.5 * w, cy_real - 0.5 * h, w, h]


def clip_box(box: Sequence[float], H: int, W: int, margin: int = 0) -> list:
    """Keep an (x, y, w, h) box inside a W x H image, at least ``margin`` px wide, high and
    inside the image.

    ``x2 = x1 + w`` is computed from the unclipped ``x1``; then ``x1`` is clamped to
    ``[0, W - margin]``, ``x2`` to ``[margin, W]`` and ``w = max(margin, x2 - x1)`` (likewise for
    y). Python ``min``/``max`` as in the original, so an int bound can come back as an int.
    """
    x1, y1, w, h = box
    x2, y2 = x1 + w, y1 + h
    x1 = min(max(0, x1), W - margin)
    x2 = min(max(margin, x2), W)
    y1 = min(max(0, y1), H - margin)
    y2 = min(max(margin, y2), H)
    w = max(margin, x2 - x1)
    h = max(margin, y2 - y1)
    return [x1, y1, w, h]


def cal_bbox(score_map: torch.Tensor, size_map: torch.Tensor, offset_map: torch.Tensor) -> torch.Tensor:
    """Box at the maximum of ``score_map`` (the first one on ties, row-major order).

    ``score_map`` (B, 1, F, F), ``size_map`` and ``offset_map`` (B, 2, F, F). Returns (B, 4)
    ``(cx, cy, w, h)`` normalised to the search crop: ``((col + offset_x) / F,
    (row + offset_y) / F, w, h)``, in float32 (or the maps' dtype when that is wider).
    """
    feat = score_map.shape[-1]
    if score_map.shape[-2] != feat:
        raise ValueError(f"cal_bbox: expected a square score map, got shape {tuple(score_map.shape)}")
    flat = score_map.flatten(1)
    idx = torch.argmax(flat, dim=1, keepdim=True)                      # first maximum on ties
    idx_y = torch.div(idx, feat, rounding_mode="floor")
    idx_x = idx % feat
    gather_idx = idx.unsqueeze(1).expand(idx.shape[0], 2, 1)
    size = size_map.flatten(2).gather(dim=2, index=gather_idx).squeeze(-1)   # (B, 2)
    offset = offset_map.flatten(2).gather(dim=2, index=gather_idx).squeeze(-1)
    # The cell index is made float32 before the offset is added, as in the original: under AMP the
    # float16 offsets then give float32 centres (and the float16 sizes are promoted by the cat).
    cx = (idx_x.to(torch.float32) + offset[:, :1]) / feat
    cy = (idx_y.to(torch.float32) + offset[:, 1:]) / feat
    return torch.cat([cx, cy, size], dim=1)
