"""Square crops around a box: the tracker's and the training pipeline's ``sample_target``.

This is the official cropping arithmetic (docs/tracker.md#sample_target), kept exactly because it changes
the boxes:

* ``crop_sz = ceil(sqrt(w * h) * factor)`` (an error when < 1);
* ``x1 = round(x + 0.5 * w - crop_sz * 0.5)`` with Python ``round`` (half to even), ``x2 = x1 +
  crop_sz``; likewise for y;
* the part outside the image is zero-padded, and the right/bottom padding is
  ``max(x2 - W + 1, 0)``: the ``+ 1`` is the original's off-by-one, so whenever the crop reaches
  the right (bottom) border the last image column (row) is dropped and replaced by padding;
* the padded crop is resized with ``cv2.resize`` (bilinear) to ``out_sz x out_sz``;
* ``resize_factor = out_sz / crop_sz``.

It works on any number of channels (the RGB-T frames are ``H x W x 6`` uint8). Resize the
6-channel array in one call, as the original does: OpenCV's 3-channel and generic paths can
round differently (seen with exact 2x downscales), so resizing the RGB and TIR halves
separately may change pixels by 1.

One deliberate difference: when the crop does not overlap the image at all (``x2 < 0``, or the
crop starts at or beyond the last column, likewise for y), the original slices with negative
or inverted indices and returns a crop of the wrong size; here the crop is all padding
(zeros) of the right size. The tracker never produces such a crop (``clip_box`` keeps the
state inside the image), so tracking results are unaffected.
"""
from __future__ import annotations

import math
from typing import NamedTuple, Optional, Sequence, Tuple

import cv2
import numpy as np

__all__ = ["CropGeometry", "crop_geometry", "sample_target"]


class CropGeometry(NamedTuple):
    """Where a square crop lies in the image (integer pixels).

    ``x1, y1``: top-left corner (may be negative), ``size``: side ``crop_sz``; the valid image
    region copied into the crop is rows ``[y1 + pad_top, y1 + size - pad_bottom)`` and columns
    ``[x1 + pad_left, x1 + size - pad_right)`` (empty when ``empty``).
    """

    x1: int
    y1: int
    size: int
    pad_left: int
    pad_right: int
    pad_top: int
    pad_bottom: int
    empty: bool


def _box_floats(box) -> Tuple[float, float, float, float]:
    try:
        vals = [float(v) for v in (box.tolist() if hasattr(box, "tolist") else box)]
    except (TypeError, ValueError) as e:
        raise ValueError(f"sample_target: box must be 4 numbers (x, y, w, h), got {box!r}") from e
    if len(vals) != 4:
        raise ValueError(f"sample_target: box must be 4 numbers (x, y, w, h), got {box!r}")
    if not all(math.isfinite(v) for v in vals):
        raise ValueError(f"sample_target: box {vals} has a NaN or infinite value")
    return vals[0], vals[1], vals[2], vals[3]


def crop_geometry(box: Sequence[float], factor: float, im_h: int, im_w: int) -> CropGeometry:
    """The official crop placement for ``box`` = (x, y, w, h) in an ``im_w x im_h`` image."""
    x, y, w, h = _box_floats(box)
    area = w * h
    if area < 0:
        raise ValueError(f"sample_target: box {[x, y, w, h]} has a negative width or height")
    crop_sz = math.ceil(math.sqrt(area) * factor)
    if crop_sz < 1:
        raise ValueError(f"sample_target: box {[x, y, w, h]} with factor {factor} gives crop size "
                         f"{crop_sz} < 1 (too small bounding box)")
    x1 = round(x + 0.5 * w - crop_sz * 0.5)
    y1 = round(y + 0.5 * h - crop_sz * 0.5)
    x2 = x1 + crop_sz
    y2 = y1 + crop_sz
    pad_left = max(0, -x1)
    pad_right = max(x2 - im_w + 1, 0)  # + 1: the original's off-by-one (drops column W - 1)
    pad_top = max(0, -y1)
    pad_bottom = max(y2 - im_h + 1, 0)
    empty = (x2 - pad_right <= x1 + pad_left) or (y2 - pad_bottom <= y1 + pad_top)
    return CropGeometry(x1, y1, crop_sz, pad_left, pad_right, pad_top, pad_bottom, empty)


def sample_target(im: np.ndarray, box_xywh: Sequence[float], factor: float,
                  out_sz: Optional[int] = None, mask: bool = True) -> Tuple[np.ndarray, float, Optional[np.ndarray]]:
    """Crop a square of side ``ceil(sqrt(w*h) * factor)`` centred on the box and resize it.

    ``im``: ``H x W x C`` uint8 (any C; 2-D images work too). ``box_xywh``: list, numpy array or
    tensor (x, y, w, h). ``out_sz``: output side (None: no resize, factor 1.0).
    Returns ``(crop, resize_factor, att_mask)``: ``crop`` is ``out_sz x out_sz x C`` of
    ``im``'s dtype, ``resize_factor = out_sz / crop_sz``, ``att_mask`` is an ``out_sz x
    out_sz`` bool array, True on padding (computed as the original does: a float mask resized
    bilinearly, then any non-zero value counts as padding), or None with ``mask=False`` (the
    tracker, which never reads it: the mask costs ~2 ms per frame on large crops).
    """
    if im.ndim not in (2, 3):
        raise ValueError(f"sample_target: expected an H x W (x C) image, got shape {im.shape}")
    im_h, im_w = im.shape[:2]
    g = crop_geometry(box_xywh, factor, im_h, im_w)
    if g.empty:
        # No overlap with the image: the crop is padding only (see the module docstring).
        crop = np.zeros((g.size, g.size) + im.shape[2:], dtype=im.dtype)
    else:
        region = im[g.y1 + g.pad_top:g.y1 + g.size - g.pad_bottom,
                    g.x1 + g.pad_left:g.x1 + g.size - g.pad_right]
        crop = cv2.copyMakeBorder(region, g.pad_top, g.pad_bottom, g.pad_left, g.pad_right,
                                  cv2.BORDER_CONSTANT, value=0)
    att_mask = None
    if mask:
        att_mask = np.ones((g.size, g.size))
        if not g.empty:
            att_mask[g.pad_top:g.size - g.pad_bottom, g.pad_left:g.size - g.pad_right] = 0
    if out_sz is None:
        resize_factor = 1.0
    else:
        resize_factor = out_sz / g.size
        crop = cv2.resize(crop, (out_sz, out_sz))
        if mask:
            att_mask = cv2.resize(att_mask, (out_sz, out_sz))
    if im.ndim == 3 and crop.ndim == 2:  # OpenCV drops a single channel axis
        crop = crop[:, :, None]
    return crop, resize_factor, None if att_mask is None else att_mask.astype(np.bool_)
