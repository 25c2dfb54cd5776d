"""Image/box transforms of the training pipeline (docs/training.md#processing-pipeline), RGB-T aware.

A frame is an ``H x W x 6`` uint8 array ``[R, G, B | T, T, T]``; every transform acts on all six
channels at once, so RGB and TIR stay registered. Randomness comes from an explicit
``numpy.random.Generator`` in the caller (one per sample), never from global state.
The per-crop work is done in numpy on HWC float32 arrays (single-threaded: torch's thread
pool costs more than the work on crops this small); ``to_chw_tensor`` converts at the end.

* ``flip_frame_and_box``: the raw-frame flip of the joint transform (box ``x -> (W-1) - (x+w)``).
* ``brightness_jitter``: ``ToTensorAndJitter``: ``clamp(crop * f / 255, 0, 1)`` with one factor
  ``f`` for all 6 channels.
* ``flip_normalised``: ``RandomHorizontalFlip_Norm``: image, attention mask and a normalised
  box (``x -> 1 - (x+w)``).
* ``normalize``: ``(x - mean) / std`` per channel (6 values).
* ``downsample_nearest``: PyTorch ``F.interpolate(mode='nearest')`` of a 2-D mask.
"""
from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np
import torch

__all__ = [
    "flip_frame_and_box",
    "brightness_jitter",
    "flip_normalised",
    "normalize",
    "to_chw_tensor",
    "downsample_nearest",
]


def flip_frame_and_box(frame: np.ndarray, box: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Mirror an ``H x W x C`` frame left-right and its x, y, w, h box (pixel coordinates).

    The box corners ``x`` and ``x + w`` map to ``(W-1) - x`` and ``(W-1) - (x + w)`` (pytracking's
    coordinate convention), so the new box is ``((W-1) - (x + w), y, w, h)``.
    """
    width = frame.shape[1]
    out = np.ascontiguousarray(frame[:, ::-1])
    box = np.asarray(box, dtype=np.float64)
    new_box = box.copy()
    new_box[0] = (width - 1) - (box[0] + box[2])
    return out, new_box


def brightness_jitter(crop: np.ndarray, factor: float) -> np.ndarray:
    """HWC uint8 -> HWC float32 ``clamp(crop * factor / 255, 0, 1)`` (one factor, all channels)."""
    img = crop.astype(np.float32)
    img *= np.float32(factor / 255.0)
    np.clip(img, 0.0, 1.0, out=img)
    return img


def flip_normalised(image: np.ndarray, att: np.ndarray, box: np.ndarray):
    """Mirror an HWC image, its HW mask and a normalised x, y, w, h box (``x -> 1 - (x + w)``)."""
    box = np.asarray(box, dtype=np.float64)
    new_box = box.copy()
    new_box[0] = 1.0 - (box[0] + box[2])
    return image[:, ::-1], att[:, ::-1], new_box


def normalize(image: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """``(image - mean) / std`` per channel of an HWC float32 image (one value per channel)."""
    c = image.shape[2]
    if len(mean) != c or len(std) != c:
        raise ValueError(f"normalize: image has {c} channels but DATA.MEAN has {len(mean)} and DATA.STD "
                         f"{len(std)} values (RGB-T frames need 6)")
    m = np.asarray(mean, dtype=np.float32)
    s = np.asarray(std, dtype=np.float32)
    return (image - m) / s


def to_chw_tensor(image: np.ndarray) -> torch.Tensor:
    """HWC float array -> contiguous CHW float32 tensor."""
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32))


def downsample_nearest(mask: np.ndarray, size: int) -> np.ndarray:
    """``F.interpolate(mask[None, None].float(), size=size)`` (nearest) of a 2-D mask, as bool:
    output pixel ``i`` takes input ``min(floor(i * in / size), in - 1)`` along each axis."""
    h, w = mask.shape
    iy = np.minimum(np.floor(np.arange(size) * (h / size)).astype(np.int64), h - 1)
    ix = np.minimum(np.floor(np.arange(size) * (w / size)).astype(np.int64), w - 1)
    return np.asarray(mask)[iy][:, ix].astype(bool)
