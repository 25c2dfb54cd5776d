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

import numpy as np

__all__ = ["SyntheticSequence", "render_sequence", "generate_dataset", "sequence_names", "GENERATOR_VERSION"]

GENERATOR_VERSION = 2
# LasHeR's 19 challenge attributes, in the order of its Attributes_order.txt.
LASHER_ATTRIBUTES = ("NO", "PO", "TO", "HO", "MB", "LI", "HI", "AIV", "LR", "DEF",
                     "BC", "SA", "CM", "TC", "FL", "OV", "FM", "SV", "ARC")
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
    import cv2

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
    import cv2

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
# One sequence
# --------------------------------------------------------------------------------------------
def render_sequence(rng: np.random.Generator, n_frames: int, size: Tuple[int, int] = (320, 256)) -> SyntheticSequence:
    """Render one RGB-T sequence of ``n_frames`` frames of ``size = (W, H)``."""
    import cv2

    W, H = int(size[0]), int(size[1])
    N = int(n_frames)
    if N < 2 or W < 64 or H < 64:
        raise ValueError(f"synthetic sequence needs >= 2 frames and a size >= 64x64, got {N} frames, {W}x{H}")
    short = min(W, H)

    # ---- backgrounds ----
    rgb_bg = 60 + 130 * _smooth_field(rng, H, W, 3, 4, 3)
    rgb_bg += 50 * (_smooth_field(rng, H, W, max(2, H // 10), max(2, W // 10), 3) - 0.5)
    rgb_bg = rgb_bg.astype(np.float32)
    clutter = np.zeros((H, W, 3), np.uint8)
    cmask = np.zeros((H, W), np.uint8)
    for _ in range(int(rng.integers(8, 16))):
        col = tuple(int(v) for v in rng.uniform(50, 200, 3))
        p1 = (int(rng.integers(0, W)), int(rng.integers(0, H)))
        if rng.random() < 0.5:
            p2 = (p1[0] + int(rng.integers(8, W // 4)), p1[1] + int(rng.integers(8, H // 4)))
            cv2.rectangle(clutter, p1, p2, col, -1)
            cv2.rectangle(cmask, p1, p2, 255, -1)
        else:
            r = int(rng.integers(5, short // 8))
            cv2.circle(clutter, p1, r, col, -1)
            cv2.circle(cmask, p1, r, 255, -1)
    cm = cmask.astype(np.float32)[:, :, None] / 255.0 * 0.7
    rgb_bg = rgb_bg * (1 - cm) + clutter.astype(np.float32) * cm

    tir_bg = 45 + 40 * _smooth_field(rng, H, W, 2, 3)[:, :, 0]
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    g = rng.uniform(-1, 1, 2)
    tir_bg += 10 * (g[0] * xx / W + g[1] * yy / H)
    for _ in range(int(rng.integers(2, 5))):  # lukewarm, smooth objects (distract a little)
        cx, cy, r = rng.uniform(0, W), rng.uniform(0, H), rng.uniform(8, short / 6)
        tir_bg += rng.uniform(25, 55) * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))
    tir_bg = tir_bg.astype(np.float32)

    # ---- target: appearance and motion ----
    w0 = rng.uniform(0.11, 0.2) * short * 1.2
    h0 = float(np.clip(w0 * np.exp(rng.uniform(-0.5, 0.6)), 0.08 * short, 0.32 * short))
    srange = rng.uniform(0.15, 0.35)
    scale = np.exp(srange * np.sin(2 * np.pi * rng.uniform(0.3, 0.8) * np.linspace(0, 1, N) + rng.uniform(0, 2 * np.pi)))
    scale = scale / scale[0] * rng.uniform(0.9, 1.1)
    ws = np.maximum(np.round(w0 * scale), 8).astype(int)
    hs = np.maximum(np.round(h0 * scale), 8).astype(int)
    mx, my = ws.max() / 2 + 2, hs.max() / 2 + 2
    vmax = max(4.0, 0.22 * float(np.sqrt(w0 * h0)))
    cxs = _smooth_path(rng, N, mx, W - mx, vmax)
    cys = _smooth_path(rng, N, my, H - my, vmax * 0.8)
    xs = np.clip(np.round(cxs - ws / 2), 0, W - ws).astype(int)
    ys = np.clip(np.round(cys - hs / 2), 0, H - hs).astype(int)

    shape_kind = int(rng.integers(2))
    T = 64
    c1, c2 = _vivid(rng), _vivid(rng)
    tex = _pattern(rng, T, c1, c2)
    tyy, txx = np.mgrid[0:T, 0:T].astype(np.float32) / T
    core = np.exp(-((txx - 0.5) ** 2 + (tyy - 0.45) ** 2) / (2 * 0.2 ** 2))
    blot = _smooth_field(rng, T, T, 5, 5)[:, :, 0]
    tir_tex = (175 + 55 * core + 30 * (blot - 0.5)).astype(np.float32)

    # ---- occluder: partial, passes over the target around frame t_occ ----
    t_occ = int(rng.integers(max(1, int(0.3 * N)), max(2, int(0.8 * N))))
    occ_w = int(max(4, round(rng.uniform(0.35, 0.55) * ws[t_occ])))
    occ_h = int(max(8, round(rng.uniform(1.2, 1.8) * hs[t_occ])))
    occ_v = rng.uniform(3, 7) * rng.choice([-1, 1])
    occ_dy = rng.uniform(0.3, 0.6) * hs[t_occ] * rng.choice([-1, 1])
    occ_cx = cxs[t_occ] + occ_v * (np.arange(N) - t_occ)
    if abs(occ_cx[0] - cxs[0]) < (occ_w + ws[0]) / 2 + 2:  # keep the first frame unoccluded
        occ_cx = cxs[t_occ] - occ_v * (np.arange(N) - t_occ)
    occ_cy = np.full(N, cys[t_occ] + occ_dy)
    occ_col = rng.uniform(70, 150, 3).astype(np.float32)
    occ_tex = (occ_col + rng.normal(0, 10, (occ_h, occ_w, 3))).astype(np.float32)
    occ_tir = np.float32(rng.uniform(80, 110))
    occ_alpha = np.ones((occ_h, occ_w), np.float32)

    # ---- optional distractor (RGB look-alike, cool in TIR), dimming, absence ----
    has_distractor = rng.random() < 0.5
    if has_distractor:
        d_tex = _pattern(rng, T, _vivid(rng), _vivid(rng))
        dw, dh = int(round(w0 * rng.uniform(0.8, 1.2))), int(round(h0 * rng.uniform(0.8, 1.2)))
        d_alpha = _shape_mask(shape_kind, dh, dw)
        d_rgb = cv2.resize(d_tex, (dw, dh), interpolation=cv2.INTER_LINEAR)
        dxs = _smooth_path(rng, N, dw / 2, W - dw / 2, vmax) - dw / 2
        dys = _smooth_path(rng, N, dh / 2, H - dh / 2, vmax) - dh / 2
    gain = np.ones(N, np.float32)
    if rng.random() < 0.35:
        tc, width = rng.uniform(0.3, 0.9) * N, rng.uniform(0.08, 0.2) * N
        gain -= np.float32(rng.uniform(0.35, 0.6)) * np.exp(-((np.arange(N) - tc) ** 2) / (2 * width ** 2)).astype(np.float32)
    absent = np.zeros(N, bool)
    if N >= 20 and rng.random() < 0.6:
        k = int(rng.integers(2, 5))
        a0 = int(rng.integers(int(0.4 * N), int(0.85 * N) - k + 1))
        absent[a0:a0 + k] = True

    # ---- render ----
    rgb_out = np.empty((N, H, W, 3), np.uint8)
    tir_out = np.empty((N, H, W), np.uint8)
    gt = np.zeros((N, 4), np.int64)
    occluded = np.zeros(N, np.float32)
    for t in range(N):
        rgb = rgb_bg.copy()
        tir = tir_bg.copy()
        if has_distractor:
            _blend(rgb, d_rgb, d_alpha, int(round(dxs[t])), int(round(dys[t])))
        x, y, w, h = int(xs[t]), int(ys[t]), int(ws[t]), int(hs[t])
        if not absent[t]:
            alpha = _shape_mask(shape_kind, h, w)
            shift = (t * 2) % T  # slow texture drift: appearance changes a little
            t_rgb = cv2.resize(np.roll(tex, shift, axis=1), (w, h), interpolation=cv2.INTER_LINEAR)
            t_tir = cv2.resize(tir_tex, (w, h), interpolation=cv2.INTER_LINEAR)
            _blend(rgb, t_rgb, alpha, x, y)
            _blend(tir, t_tir, alpha, x, y)
            gt[t] = (x, y, w, h)
        ox, oy = int(round(occ_cx[t] - occ_w / 2)), int(round(occ_cy[t] - occ_h / 2))
        _blend(rgb, occ_tex, occ_alpha, ox, oy)
        _blend(tir, np.full((occ_h, occ_w), occ_tir, np.float32), occ_alpha, ox, oy)
        if not absent[t]:
            ix = max(0, min(x + w, ox + occ_w) - max(x, ox))
            iy = max(0, min(y + h, oy + occ_h) - max(y, oy))
            occluded[t] = ix * iy / float(w * h)
        rgb *= gain[t]
        rgb += rng.normal(0, 3, (H, W, 1)).astype(np.float32)
        tir = cv2.GaussianBlur(tir, (0, 0), 1.2)
        tir += rng.normal(0, 2, (H, W)).astype(np.float32)
        rgb_out[t] = np.clip(rgb + 0.5, 0, 255).astype(np.uint8)
        tir_out[t] = np.clip(tir + 0.5, 0, 255).astype(np.uint8)
    return SyntheticSequence(rgb_out, tir_out, gt, absent, occluded, dimmed=bool(gain.min() < 1),
                             distractor=has_distractor)


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
    import cv2

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
