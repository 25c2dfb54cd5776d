"""Synthetic RGB-T sequences written in the real LasHeR layout.

    generate_dataset(out, n_train=12, n_test=4, frames=None, size=(320, 256), seed=0)

writes::

    out/trainingset/<seq>/visible/v000001.jpg ...  infrared/i000001.jpg ...
                          init.txt  visible.txt  infrared.txt  absence.label
    out/testingset/<seq>/...
    out/trainingsetList.txt  out/testingsetList.txt  out/synthetic.json (generator parameters)
    out/AttriSeqsTxt/<seq>.txt  out/Attributes_order.txt  (LasHeR-style challenge attributes)

Each sequence: a textured, cluttered RGB background; a cool, smooth TIR background with a few
lukewarm blobs; one target (ellipse or rounded box with a two-colour pattern in RGB, a warm
blotchy body with a hot core in TIR) moving along a smooth random path that spans a large part
of the frame (so holding the first box fails) at a bounded speed, with a smooth scale change;
a moving occluder that partially covers the target around one frame; in some sequences a
dimming of the RGB frames (TIR unchanged), an RGB-only distractor of similar shape, and a few
frames where the target is gone (GT row ``0,0,0,0`` and ``absence.label`` 1, as LasHeR does).
GT rows are integer ``x,y,w,h`` with CRLF line endings, like the real files.

With ``traps=True`` (default) the real data's traps are reproduced: a sequence name with a
space in each split, a training name with a backtick and one with an apostrophe, and that last
sequence has no ``visible.txt`` (GT comes from ``init.txt``).

Deterministic: the same arguments give byte-identical files (per-sequence RNG streams derived
from ``seed``; sequence ``k`` does not depend on how many others are generated).
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List, Tuple, Union

import cv2
import numpy as np

from lib.data.datasets.lasher import LASHER_ATTRIBUTES

__all__ = ["SyntheticSequence", "render_sequence", "generate_dataset", "sequence_names", "GENERATOR_VERSION"]

GENERATOR_VERSION = 2
JPEG_QUALITY = 90
_SPLIT_CODE = {"train": 1, "test": 2}

_COLOURS = ["red", "blue", "green", "white", "black", "yellow", "pink", "grey", "orange", "purple"]
_THINGS = ["boy", "girl", "car", "bike", "man", "woman", "bag", "umbrella", "dog", "bus", "ball", "hat"]
_ACTIONS = ["go", "run", "walk", "turn", "left", "right", "coming", "cross", "up", "down", "ride", "away"]


@dataclass
class SyntheticSequence:
    """Rendered frames: ``rgb`` (N, H, W, 3) uint8, ``tir`` (N, H, W) uint8, ``gt`` (N, 4) int
    x, y, w, h (0,0,0,0 where absent), ``absent`` (N,) bool, ``occluded`` (N,) float: the
    fraction of the target box covered by the occluder; ``dimmed``: the RGB frames darken for a
    while; ``distractor``: an RGB look-alike moves around."""

    rgb: np.ndarray
    tir: np.ndarray
    gt: np.ndarray
    absent: np.ndarray
    occluded: np.ndarray
    dimmed: bool = False
    distractor: bool = False

    def attributes(self) -> dict:
        """LasHeR challenge attributes this sequence shows (name -> bool; the rest are False)."""
        present = ~self.absent
        worst = float(self.occluded.max())
        areas = self.gt[present, 2] * self.gt[present, 3]
        centres = self.gt[present, :2] + self.gt[present, 2:] / 2
        jumps = np.linalg.norm(np.diff(centres, axis=0), axis=1) if len(centres) > 1 else np.zeros(1)
        flags = {"NO": worst == 0 and not self.absent.any(), "PO": 0 < worst <= 0.5, "HO": worst > 0.5,
                 "LI": self.dimmed, "SA": self.distractor, "OV": bool(self.absent.any()),
                 "SV": areas.max() > 1.5 * areas.min(), "FM": jumps.max() > 20}
        return {name: bool(flags.get(name, False)) for name in LASHER_ATTRIBUTES}


# --------------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------------
def _smooth_field(rng, h, w, cells_y, cells_x, channels=1):
    """Low-frequency random field in [0, 1]: random grid upsampled with cubic interpolation."""
    grid = rng.random((cells_y, cells_x, channels)).astype(np.float32)
    up = cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
    if up.ndim == 2:
        up = up[:, :, None]
    return np.clip(up, 0.0, 1.0)


def _smooth_path(rng, n, lo, hi, vmax):
    """Smooth 1-D path in [lo, hi] that spans much of the range, speed <= vmax per frame."""
    t = np.linspace(0.0, 1.0, n)
    f1, f2 = rng.uniform(0.35, 0.75), rng.uniform(0.8, 1.4)
    a2 = rng.uniform(0.1, 0.3)
    p = np.sin(2 * np.pi * f1 * t + rng.uniform(0, 2 * np.pi)) + a2 * np.sin(2 * np.pi * f2 * t + rng.uniform(0, 2 * np.pi))
    p = p - 0.5 * (p.max() + p.min())
    p = p / max(np.abs(p).max(), 1e-6)  # [-1, 1], touching one end
    half = 0.5 * (hi - lo) * rng.uniform(0.75, 0.98)
    centre = 0.5 * (hi + lo)
    path = centre + p * half
    speed = np.abs(np.diff(path)).max() if n > 1 else 0.0
    if speed > vmax:  # slow down by shrinking the excursion around the start point
        path = path[0] + (path - path[0]) * (vmax / speed)
    return np.clip(path, lo, hi)


def _shape_mask(kind, h, w):
    """Float alpha mask of an ellipse or rounded box filling an h x w box (antialiased)."""
    s = 4  # draw at 4x, then area-downsample for soft edges
    m = np.zeros((h * s, w * s), np.uint8)
    if kind == 0:
        cv2.ellipse(m, (w * s // 2, h * s // 2), (w * s // 2 - 1, h * s // 2 - 1), 0, 0, 360, 255, -1)
    else:
        r = max(2, min(h, w) * s // 4)
        cv2.rectangle(m, (r, 0), (w * s - 1 - r, h * s - 1), 255, -1)
        cv2.rectangle(m, (0, r), (w * s - 1, h * s - 1 - r), 255, -1)
        for cx, cy in ((r, r), (w * s - 1 - r, r), (r, h * s - 1 - r), (w * s - 1 - r, h * s - 1 - r)):
            cv2.circle(m, (cx, cy), r, 255, -1)
    return cv2.resize(m, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def _pattern(rng, size, c1, c2):
    """size x size x 3 float texture: two colours in stripes, checks or rings, plus grain."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    kind = rng.integers(3)
    if kind == 0:
        ang = rng.uniform(0, np.pi)
        v = np.sin(2 * np.pi * rng.uniform(2, 4) * (xx * np.cos(ang) + yy * np.sin(ang)))
    elif kind == 1:
        k = rng.uniform(2, 4)
        v = np.sign(np.sin(2 * np.pi * k * xx)) * np.sign(np.sin(2 * np.pi * k * yy))
    else:
        r = np.hypot(xx - 0.5, yy - 0.5)
        v = np.sin(2 * np.pi * rng.uniform(2.5, 4.5) * r)
    a = (0.5 + 0.5 * np.tanh(3 * v))[:, :, None]
    tex = a * np.asarray(c1, np.float32) + (1 - a) * np.asarray(c2, np.float32)
    tex += rng.normal(0, 6, tex.shape).astype(np.float32)
    return tex


def _vivid(rng):
    """A saturated colour (one channel high, one low)."""
    c = rng.uniform(0, 70, 3)
    c[rng.integers(3)] = rng.uniform(200, 255)
    if rng.random() < 0.5:
        c[rng.integers(3)] = rng.uniform(150, 255)
    return c


def _blend(dst, src, alpha, x, y):
    """Alpha-blend src (h, w[, c]) into dst at (x, y), clipped to dst."""
    h, w = alpha.shape
    H, W = dst.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if x1 <= x0 or y1 <= y0:
        return
    a = alpha[y0 - y:y1 - y, x0 - x:x1 - x]
    s = src[y0 - y:y1 - y, x0 - x:x1 - x]
    d = dst[y0:y1, x0:x1]
    if d.ndim == 3:
        a = a[:, :, None]
    d *= 1 - a
    d += a * s


# --------------------------------------------------------------------------------------------
# One sequence: backgrounds, the target's path and look, an occluder, optional events, frames.
# The steps draw from the sequence's generator in this order; changing it changes every file.
# --------------------------------------------------------------------------------------------
TEXTURE_SIZE = 64                 # side of the target's (and distractor's) texture tile, pixels
MIN_TARGET_SIDE = 8               # pixels
CLUTTER_ITEMS = (8, 16)           # rectangles and discs on the RGB background
CLUTTER_OPACITY = 0.7
WARM_BLOBS = (2, 5)               # lukewarm objects in the TIR background
TARGET_TIR_BASE, TARGET_TIR_CORE = 175.0, 55.0
OCCLUDER_TIR = (80.0, 110.0)
P_DISTRACTOR, P_DIMMING, P_ABSENCE = 0.5, 0.35, 0.6
MIN_FRAMES_FOR_ABSENCE = 20
RGB_NOISE, TIR_NOISE, TIR_BLUR = 3.0, 2.0, 1.2


@dataclass
class _Path:
    """A box per frame: top-left ``xs, ys`` and size ``ws, hs`` (int arrays), centres ``cxs, cys``."""

    xs: np.ndarray
    ys: np.ndarray
    ws: np.ndarray
    hs: np.ndarray
    cxs: np.ndarray
    cys: np.ndarray


def _rgb_background(rng, width, height):
    """Smooth colour field plus finer variation, with opaque-ish clutter shapes on top."""
    short = min(width, height)
    rgb = 60 + 130 * _smooth_field(rng, height, width, 3, 4, 3)
    rgb += 50 * (_smooth_field(rng, height, width, max(2, height // 10), max(2, width // 10), 3) - 0.5)
    rgb = rgb.astype(np.float32)
    clutter = np.zeros((height, width, 3), np.uint8)
    mask = np.zeros((height, width), np.uint8)
    for _ in range(int(rng.integers(*CLUTTER_ITEMS))):
        colour = tuple(int(v) for v in rng.uniform(50, 200, 3))
        corner = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        if rng.random() < 0.5:
            far = (corner[0] + int(rng.integers(8, width // 4)), corner[1] + int(rng.integers(8, height // 4)))
            cv2.rectangle(clutter, corner, far, colour, -1)
            cv2.rectangle(mask, corner, far, 255, -1)
        else:
            radius = int(rng.integers(5, short // 8))
            cv2.circle(clutter, corner, radius, colour, -1)
            cv2.circle(mask, corner, radius, 255, -1)
    opacity = mask.astype(np.float32)[:, :, None] / 255.0 * CLUTTER_OPACITY
    return rgb * (1 - opacity) + clutter.astype(np.float32) * opacity


def _tir_background(rng, width, height):
    """Cool, smooth field with a gentle gradient and a few lukewarm Gaussian blobs."""
    short = min(width, height)
    tir = 45 + 40 * _smooth_field(rng, height, width, 2, 3)[:, :, 0]
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    slope = rng.uniform(-1, 1, 2)
    tir += 10 * (slope[0] * xx / width + slope[1] * yy / height)
    for _ in range(int(rng.integers(*WARM_BLOBS))):
        cx, cy, radius = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(8, short / 6)
        tir += rng.uniform(25, 55) * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * radius * radius))
    return tir.astype(np.float32)


def _target_path(rng, n, width, height):
    """The target's box per frame (smooth scale change and motion) and its speed limit."""
    short = min(width, height)
    w0 = rng.uniform(0.11, 0.2) * short * 1.2
    h0 = float(np.clip(w0 * np.exp(rng.uniform(-0.5, 0.6)), 0.08 * short, 0.32 * short))
    scale_range = rng.uniform(0.15, 0.35)
    scale = np.exp(scale_range * np.sin(2 * np.pi * rng.uniform(0.3, 0.8) * np.linspace(0, 1, n)
                                        + rng.uniform(0, 2 * np.pi)))
    scale = scale / scale[0] * rng.uniform(0.9, 1.1)
    ws = np.maximum(np.round(w0 * scale), MIN_TARGET_SIDE).astype(int)
    hs = np.maximum(np.round(h0 * scale), MIN_TARGET_SIDE).astype(int)
    margin_x, margin_y = ws.max() / 2 + 2, hs.max() / 2 + 2
    max_speed = max(4.0, 0.22 * float(np.sqrt(w0 * h0)))
    cxs = _smooth_path(rng, n, margin_x, width - margin_x, max_speed)
    cys = _smooth_path(rng, n, margin_y, height - margin_y, max_speed * 0.8)
    xs = np.clip(np.round(cxs - ws / 2), 0, width - ws).astype(int)
    ys = np.clip(np.round(cys - hs / 2), 0, height - hs).astype(int)
    return _Path(xs, ys, ws, hs, cxs, cys), (w0, h0), max_speed


def _target_look(rng):
    """(shape kind, RGB texture tile, TIR texture tile): a two-colour pattern; a warm body with a hot core."""
    shape_kind = int(rng.integers(2))
    rgb = _pattern(rng, TEXTURE_SIZE, _vivid(rng), _vivid(rng))
    yy, xx = np.mgrid[0:TEXTURE_SIZE, 0:TEXTURE_SIZE].astype(np.float32) / TEXTURE_SIZE
    core = np.exp(-((xx - 0.5) ** 2 + (yy - 0.45) ** 2) / (2 * 0.2 ** 2))
    blotches = _smooth_field(rng, TEXTURE_SIZE, TEXTURE_SIZE, 5, 5)[:, :, 0]
    tir = (TARGET_TIR_BASE + TARGET_TIR_CORE * core + 30 * (blotches - 0.5)).astype(np.float32)
    return shape_kind, rgb, tir


def _occluder(rng, n, target):
    """A flat box that passes over (part of) the target around one frame, never at frame 0.
    Returns (top-left per frame (n, 2), RGB texture, TIR value)."""
    t_occ = int(rng.integers(max(1, int(0.3 * n)), max(2, int(0.8 * n))))
    width = int(max(4, round(rng.uniform(0.35, 0.55) * target.ws[t_occ])))
    height = int(max(8, round(rng.uniform(1.2, 1.8) * target.hs[t_occ])))
    speed = rng.uniform(3, 7) * rng.choice([-1, 1])
    dy = rng.uniform(0.3, 0.6) * target.hs[t_occ] * rng.choice([-1, 1])
    cx = target.cxs[t_occ] + speed * (np.arange(n) - t_occ)
    if abs(cx[0] - target.cxs[0]) < (width + target.ws[0]) / 2 + 2:  # keep the first frame unoccluded
        cx = target.cxs[t_occ] - speed * (np.arange(n) - t_occ)
    cy = np.full(n, target.cys[t_occ] + dy)
    colour = rng.uniform(70, 150, 3).astype(np.float32)
    rgb = (colour + rng.normal(0, 10, (height, width, 3))).astype(np.float32)
    corners = np.stack([np.round(cx - width / 2), np.round(cy - height / 2)], axis=1).astype(int)
    return corners, rgb, np.float32(rng.uniform(*OCCLUDER_TIR))


def _distractor(rng, n, width, height, target_size, shape_kind, max_speed):
    """Maybe an RGB look-alike of the target (invisible in TIR): (alpha, RGB, top-left per frame) or None."""
    if not rng.random() < P_DISTRACTOR:
        return None
    texture = _pattern(rng, TEXTURE_SIZE, _vivid(rng), _vivid(rng))
    w0, h0 = target_size
    dw, dh = int(round(w0 * rng.uniform(0.8, 1.2))), int(round(h0 * rng.uniform(0.8, 1.2)))
    rgb = cv2.resize(texture, (dw, dh), interpolation=cv2.INTER_LINEAR)
    xs = _smooth_path(rng, n, dw / 2, width - dw / 2, max_speed) - dw / 2
    ys = _smooth_path(rng, n, dh / 2, height - dh / 2, max_speed) - dh / 2
    return _shape_mask(shape_kind, dh, dw), rgb, np.round(np.stack([xs, ys], axis=1)).astype(int)


def _rgb_gain(rng, n):
    """Per-frame brightness of the RGB camera: maybe a dimming for a while (TIR is unaffected)."""
    gain = np.ones(n, np.float32)
    if rng.random() < P_DIMMING:
        middle, width = rng.uniform(0.3, 0.9) * n, rng.uniform(0.08, 0.2) * n
        depth = np.float32(rng.uniform(0.35, 0.6))
        gain -= depth * np.exp(-((np.arange(n) - middle) ** 2) / (2 * width ** 2)).astype(np.float32)
    return gain


def _absent_frames(rng, n):
    """Maybe a few consecutive frames, late in the sequence, where the target is gone."""
    absent = np.zeros(n, bool)
    if n >= MIN_FRAMES_FOR_ABSENCE and rng.random() < P_ABSENCE:
        k = int(rng.integers(2, 5))
        first = int(rng.integers(int(0.4 * n), int(0.85 * n) - k + 1))
        absent[first:first + k] = True
    return absent


def render_sequence(rng: np.random.Generator, n_frames: int, size: Tuple[int, int] = (320, 256)) -> SyntheticSequence:
    """Render one RGB-T sequence of ``n_frames`` frames of ``size = (W, H)``."""
    width, height, n = int(size[0]), int(size[1]), int(n_frames)
    if n < 2 or width < 64 or height < 64:
        raise ValueError(f"synthetic sequence needs >= 2 frames and a size >= 64x64, got {n} frames, "
                         f"{width}x{height}")
    rgb_background = _rgb_background(rng, width, height)
    tir_background = _tir_background(rng, width, height)
    target, target_size, max_speed = _target_path(rng, n, width, height)
    shape_kind, target_rgb, target_tir = _target_look(rng)
    occluder_corners, occluder_rgb, occluder_tir = _occluder(rng, n, target)
    distractor = _distractor(rng, n, width, height, target_size, shape_kind, max_speed)
    gain = _rgb_gain(rng, n)
    absent = _absent_frames(rng, n)

    rgb_out = np.empty((n, height, width, 3), np.uint8)
    tir_out = np.empty((n, height, width), np.uint8)
    gt = np.zeros((n, 4), np.int64)
    occluded = np.zeros(n, np.float32)
    occluder_alpha = np.ones(occluder_rgb.shape[:2], np.float32)
    occluder_tir_patch = np.full(occluder_rgb.shape[:2], occluder_tir, np.float32)
    for t in range(n):
        rgb, tir = rgb_background.copy(), tir_background.copy()
        if distractor is not None:
            alpha, patch, corners = distractor
            _blend(rgb, patch, alpha, *corners[t])
        x, y, w, h = int(target.xs[t]), int(target.ys[t]), int(target.ws[t]), int(target.hs[t])
        if not absent[t]:
            alpha = _shape_mask(shape_kind, h, w)
            drift = (t * 2) % TEXTURE_SIZE  # slow texture drift: the appearance changes a little
            _blend(rgb, cv2.resize(np.roll(target_rgb, drift, axis=1), (w, h), interpolation=cv2.INTER_LINEAR),
                   alpha, x, y)
            _blend(tir, cv2.resize(target_tir, (w, h), interpolation=cv2.INTER_LINEAR), alpha, x, y)
            gt[t] = (x, y, w, h)
        ox, oy = occluder_corners[t]
        _blend(rgb, occluder_rgb, occluder_alpha, ox, oy)
        _blend(tir, occluder_tir_patch, occluder_alpha, ox, oy)
        if not absent[t]:
            overlap_x = max(0, min(x + w, ox + occluder_rgb.shape[1]) - max(x, ox))
            overlap_y = max(0, min(y + h, oy + occluder_rgb.shape[0]) - max(y, oy))
            occluded[t] = overlap_x * overlap_y / float(w * h)
        rgb *= gain[t]
        rgb += rng.normal(0, RGB_NOISE, (height, width, 1)).astype(np.float32)
        tir = cv2.GaussianBlur(tir, (0, 0), TIR_BLUR)
        tir += rng.normal(0, TIR_NOISE, (height, width)).astype(np.float32)
        rgb_out[t] = np.clip(rgb + 0.5, 0, 255).astype(np.uint8)
        tir_out[t] = np.clip(tir + 0.5, 0, 255).astype(np.uint8)
    return SyntheticSequence(rgb_out, tir_out, gt, absent, occluded, dimmed=bool(gain.min() < 1),
                             distractor=distractor is not None)


# --------------------------------------------------------------------------------------------
# Names and writing
# --------------------------------------------------------------------------------------------
def sequence_names(seed: int, split: str, n: int, traps: bool = True) -> List[str]:
    """LasHeR-like names (``2redboyrun``, ``leftbluebike``...), unique, deterministic."""
    rng = np.random.default_rng([int(seed), _SPLIT_CODE[split], 999])
    names, parts, seen = [], [], set()
    for k in range(n):
        while True:
            pre = str(rng.integers(1, 12)) if rng.random() < 0.4 else ""
            colour, thing, action = str(rng.choice(_COLOURS)), str(rng.choice(_THINGS)), str(rng.choice(_ACTIONS))
            name = f"{pre}{colour}{thing}{action}"
            if name not in seen:
                break
        seen.add(name)
        names.append(name)
        parts.append((pre, colour, thing, action))
    if traps:
        if n >= 1:  # a space, as in real LasHeR folder names
            k = 0 if split == "test" else min(1, n - 1)
            pre, colour, thing, action = parts[k]
            names[k] = f"{pre}{colour}{thing} {action}"
        if split == "train" and n >= 3:  # backtick, like blkboy`shead
            pre, colour, thing, action = parts[2]
            names[2] = f"{pre}{colour}{thing}`s{action}"
        if split == "train" and n >= 4:  # apostrophe, like comingboy'shead
            pre, colour, thing, action = parts[3]
            names[3] = f"{pre}{colour}{thing}'s{action}"
    return names


def _encode_jpg(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


def _write_sequence(folder: Path, seq: SyntheticSequence, write_visible_txt: bool = True) -> None:
    (folder / "visible").mkdir(parents=True)
    (folder / "infrared").mkdir()
    for t in range(len(seq.gt)):
        (folder / "visible" / f"v{t + 1:06d}.jpg").write_bytes(_encode_jpg(seq.rgb[t][:, :, ::-1]))
        (folder / "infrared" / f"i{t + 1:06d}.jpg").write_bytes(_encode_jpg(seq.tir[t]))
    rows = "".join(f"{x},{y},{w},{h}\r\n" for x, y, w, h in seq.gt.tolist())
    (folder / "init.txt").write_text(rows, newline="")
    if write_visible_txt:
        (folder / "visible.txt").write_text(rows, newline="")
    (folder / "infrared.txt").write_text(rows, newline="")
    (folder / "absence.label").write_text("".join(f"{int(a)}\r\n" for a in seq.absent), newline="")


def _params(n_train, n_test, frames, size, seed, traps):
    return {
        "generator": "lib.data.synthetic",
        "version": GENERATOR_VERSION,
        "train": int(n_train),
        "test": int(n_test),
        "frames": list(frames) if isinstance(frames, (tuple, list)) else frames,
        "size": [int(size[0]), int(size[1])],
        "seed": int(seed),
        "traps": bool(traps),
    }


def generate_dataset(
    out: Union[str, os.PathLike],
    n_train: int = 12,
    n_test: int = 4,
    frames: Union[None, int, Tuple[int, int]] = None,
    size: Tuple[int, int] = (320, 256),
    seed: int = 0,
    traps: bool = True,
    overwrite: bool = False,
    verbose: bool = False,
) -> dict:
    """Write a synthetic LasHeR-layout dataset to ``out``; return a summary dict.

    ``frames``: frames per sequence (int), a ``(lo, hi)`` range drawn per sequence, or None for
    40-60. ``size``: ``(W, H)``. If ``out`` already holds a dataset generated with the same
    parameters it is reused (``summary['reused'] = True``); a non-empty ``out`` with anything
    else is an error unless ``overwrite``. The dataset is built in a temporary folder beside
    ``out`` and moved into place at the end, so an interrupted run leaves no half dataset.
    """
    t0 = time.perf_counter()
    out = Path(out).expanduser()
    if frames is None:
        frames = (40, 60)
    if isinstance(frames, (tuple, list)):
        lo, hi = int(frames[0]), int(frames[1])
        if not 2 <= lo <= hi:
            raise ValueError(f"frames range must satisfy 2 <= lo <= hi, got {frames}")
    elif int(frames) < 2:
        raise ValueError(f"frames must be >= 2, got {frames}")
    if n_train < 0 or n_test < 0 or n_train + n_test == 0:
        raise ValueError(f"need at least one sequence, got train={n_train}, test={n_test}")
    params = _params(n_train, n_test, frames, size, seed, traps)
    meta_path = out / "synthetic.json"
    if out.exists():
        if not out.is_dir():
            raise FileExistsError(f"synthetic dataset output {out} exists and is not a folder")
        if any(out.iterdir()):
            if meta_path.is_file() and not overwrite:
                try:
                    old = json.loads(meta_path.read_text())
                except ValueError:
                    old = None
                if old is not None and old.get("params") == params:
                    return dict(old, root=str(out), reused=True, seconds=time.perf_counter() - t0)
            if not overwrite:
                raise FileExistsError(
                    f"synthetic dataset output {out} is not empty and was not generated with these parameters; "
                    f"choose another folder, or overwrite it (--overwrite on the command line)"
                )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=str(out.parent)))
    try:
        summary = {"params": params, "splits": {}}
        for split, n, folder_name, list_name in (
            ("train", n_train, "trainingset", "trainingsetList.txt"),
            ("test", n_test, "testingset", "testingsetList.txt"),
        ):
            names = sequence_names(seed, split, n, traps)
            (tmp / folder_name).mkdir()
            info = []
            for k, name in enumerate(names):
                rng = np.random.default_rng([int(seed), _SPLIT_CODE[split], k])
                nf = int(frames) if not isinstance(frames, (tuple, list)) else int(rng.integers(lo, hi + 1))
                seq = render_sequence(rng, nf, size)
                no_vis = traps and split == "train" and k == 3
                _write_sequence(tmp / folder_name / name, seq, write_visible_txt=not no_vis)
                flags = ",".join(str(int(v)) for v in seq.attributes().values())
                (tmp / "AttriSeqsTxt").mkdir(exist_ok=True)
                (tmp / "AttriSeqsTxt" / f"{name}.txt").write_text(flags)
                info.append({"name": name, "frames": nf, "absent_frames": int(seq.absent.sum())})
                if verbose:
                    print(f"  {folder_name}/{name}: {nf} frames", flush=True)
            (tmp / list_name).write_text("".join(f"{n}\r\n" for n in names), newline="")
            summary["splits"][folder_name] = info
        (tmp / "Attributes_order.txt").write_text(", ".join(LASHER_ATTRIBUTES))
        (tmp / "synthetic.json").write_text(json.dumps(summary, indent=1))
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dict(summary, root=str(out), reused=False, seconds=time.perf_counter() - t0)
