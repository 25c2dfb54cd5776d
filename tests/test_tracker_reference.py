"""Our tracker against an independent re-derivation of the official tracker's arithmetic.

The reference below (``Ref*`` / ``ref_*``) was written from a reading of the official
OSTrack/TBSI inference code (``lib/test/tracker/tbsi_track.py``, ``processing_utils.sample_target``,
``box_ops.clip_box``, ``hann.hann1d/hann2d``, ``data_utils.Preprocessor``,
``CenterPredictor.cal_bbox`` and the harness ``evaluation/tracker.py`` + ``lasherdataset.py``),
operation by operation and in the same dtypes:

* frames: ``cv2.imread`` -> ``cv2.cvtColor(BGR2RGB)`` for the visible and the infrared JPEG,
  ``np.concatenate(axis=2)``; LasHeR frames sorted by the integer in the name; GT parsed as
  float64 and the initial state is ``list(gt[0, :])`` (a list of ``np.float64``);
* crop: side ``ceil(sqrt(w*h)*factor)``, origin ``round(...)`` (Python, half to even),
  right/bottom pad ``x2 - W + 1`` (the off-by-one), numpy slicing, ``cv2.copyMakeBorder``
  with the default (zero) value, one ``cv2.resize`` of the 6-channel patch;
* normalisation: ``torch`` float32, ``(t / 255.0 - mean) / std`` with the hard-coded 6 values;
* window: float32 ``0.5 * (1 - cos((2 pi / (n + 1)) * arange(1, n + 1).float()))``, outer
  product by broadcasting, computed on the CPU;
* ``response = window * score``; ``torch.max(dim=1)`` for the peak; box
  ``((idx % n).float() + off) / n`` ...; ``.view(-1, 4).mean(0) * search_size /
  resize_factor`` in float32, ``.tolist()``;
* map back with the unrounded previous centre and ``0.5 * search_size / resize_factor``;
  ``clip_box(margin=10)`` with Python ``min``/``max``.

The network is a deterministic fake whose score, size and offset maps are smooth functions of
the template and search crop pixels, so a one-level change of a single crop pixel moves the
boxes. Our ``IIMFTracker`` (and, for the files, the dataset reader and ``track_sequence``)
must give the reference's boxes on every frame to 1e-6 px. A few deliberately wrong variants
of the reference (no ``+ 1`` in the padding, rounded centre in the map-back, float64 scaling)
must *not* match, to show the comparison can see such errors.
"""
from __future__ import annotations

import math
import os
import struct
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lib.test.tracker import IIMFTracker, hann2d
from lib.utils.boxes import cal_bbox
from lib.utils.crops import sample_target

TOL = 1e-6
REF_MEAN = (0.485, 0.456, 0.406, 0.449, 0.449, 0.449)
REF_STD = (0.229, 0.224, 0.225, 0.226, 0.226, 0.226)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Small tensors: one thread is fastest and immune to a busy machine (restored after)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def make_cfg():
    ns = SimpleNamespace
    return ns(TEST=ns(TEMPLATE_FACTOR=2.0, TEMPLATE_SIZE=128, SEARCH_FACTOR=4.0, SEARCH_SIZE=256, EPOCH=15),
              DATA=ns(MEAN=list(REF_MEAN), STD=list(REF_STD)), MODEL=ns(BACKBONE=ns(STRIDE=16)))


# ============================================================================================
# The fake network
# ============================================================================================
class PixelNet(nn.Module):
    """Score = closeness of each 16x16 search cell's mean colour to the template centre's mean
    colour, plus an optional linear ``drift`` ramp (pushes the box towards a border); offsets
    and sizes are sigmoids of cell means plus a global term, ``sin`` of the float64 sums of both
    crops, so one grey level of one crop pixel anywhere moves the box (by ~0.01-0.1 px)."""

    def __init__(self, drift=(0.0, 0.0), size_scale=1.0, feat=16):
        super().__init__()
        self.drift = drift
        self.size_scale = size_scale
        self.feat = feat
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, template, search):
        z = torch.cat([t.contiguous() for t in template], 1).contiguous()
        x = torch.cat([s.contiguous() for s in search], 1).contiguous()
        f = self.feat
        zs = z.shape[-1]
        zc = z[:, :, zs // 4:3 * zs // 4, zs // 4:3 * zs // 4].mean(dim=(2, 3), keepdim=True)   # (1,6,1,1)
        cells = F.avg_pool2d(x, x.shape[-1] // f)                                            # (1,6,f,f)
        dist = ((cells - zc) ** 2).mean(dim=1, keepdim=True)
        ramp = torch.linspace(-1.0, 1.0, f)
        bias = self.drift[0] * ramp.view(1, 1, 1, f) + self.drift[1] * ramp.view(1, 1, f, 1)
        score = torch.sigmoid(2.0 - 3.0 * dist + bias)
        # a global term: every pixel of either crop moves every offset and size
        phase = torch.sin(0.37 * x.double().sum() + 0.11 * z.double().sum()).float()
        offset = torch.sigmoid(4.0 * (cells[:, 0:2] - cells[:, 3:5]) + 0.5 * phase)
        size = self.size_scale * (0.12 + 0.2 * torch.sigmoid(2.0 * (cells[:, 1:3] + zc[:, 4:6]) + 0.5 * phase))
        return {"score_map": score, "size_map": size, "offset_map": offset}


# ============================================================================================
# The reference (re-derived from the official code; knobs only for the "wrong variant" checks)
# ============================================================================================
def ref_read_frame(rgb_path, tir_path):
    halves = []
    for p in (rgb_path, tir_path):
        bgr = cv2.imread(str(p))
        halves.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    return np.concatenate(halves, 2)


def ref_sample_target(im, bb, factor, out_sz, plus_one=True):
    if isinstance(bb, list):
        bx, by, bw, bh = bb
    else:
        bx, by, bw, bh = bb.tolist()
    side = math.ceil(math.sqrt(bw * bh) * factor)
    if side < 1:
        raise Exception("Too small bounding box.")
    extra = 1 if plus_one else 0
    left = round(bx + 0.5 * bw - side * 0.5)
    top = round(by + 0.5 * bh - side * 0.5)
    right, bottom = left + side, top + side
    pad_l, pad_t = max(0, -left), max(0, -top)
    pad_r = max(right - im.shape[1] + extra, 0)
    pad_b = max(bottom - im.shape[0] + extra, 0)
    patch = im[top + pad_t:bottom - pad_b, left + pad_l:right - pad_r, :]
    patch = cv2.copyMakeBorder(patch, pad_t, pad_b, pad_l, pad_r, cv2.BORDER_CONSTANT)
    return cv2.resize(patch, (out_sz, out_sz)), out_sz / side


def ref_normalise(patch):
    t = torch.tensor(patch).float().permute((2, 0, 1)).unsqueeze(dim=0)
    mean = torch.tensor(list(REF_MEAN)).view((1, 6, 1, 1))
    std = torch.tensor(list(REF_STD)).view((1, 6, 1, 1))
    return ((t / 255.0) - mean) / std


def ref_window(n):
    def one(sz):
        return 0.5 * (1 - torch.cos((2 * math.pi / (sz + 1)) * torch.arange(1, sz + 1).float()))
    return one(n).reshape(1, 1, -1, 1) * one(n).reshape(1, 1, 1, -1)


def ref_cal_bbox(score, size_map, offset_map, n):
    _, idx = torch.max(score.flatten(1), dim=1, keepdim=True)
    row, col = idx // n, idx % n
    gidx = idx.unsqueeze(1).expand(idx.shape[0], 2, 1)
    wh = size_map.flatten(2).gather(dim=2, index=gidx)
    off = offset_map.flatten(2).gather(dim=2, index=gidx).squeeze(-1)
    return torch.cat([(col.to(torch.float) + off[:, :1]) / n, (row.to(torch.float) + off[:, 1:]) / n,
                      wh.squeeze(-1)], dim=1)


def ref_clip(box, H, W, margin):
    """The official clip, one axis at a time: the end from the unclipped start, both ends clamped."""
    clipped = []
    for start, length, limit in ((box[0], box[2], W), (box[1], box[3], H)):
        end = start + length
        start = min(max(0, start), limit - margin)
        clipped.append((start, max(margin, min(max(margin, end), limit) - start)))
    (x, w), (y, h) = clipped
    return [x, y, w, h]


class RefTracker:
    """The official tracker's loop; ``variant`` selects a deliberately wrong step."""

    def __init__(self, net, variant=None, t_factor=2.0, t_size=128, s_factor=4.0, s_size=256, stride=16):
        self.net, self.variant = net, variant
        self.t_factor, self.t_size, self.s_factor, self.s_size = t_factor, t_size, s_factor, s_size
        self.n = s_size // stride
        self.window = ref_window(self.n)

    def initialize(self, image, init_bbox):
        patch, _ = ref_sample_target(image, init_bbox, self.t_factor, self.t_size,
                                     plus_one=self.variant != "no_plus_one")
        self.z = ref_normalise(patch)
        self.state = init_bbox

    def track(self, image):
        H, W, _ = image.shape
        patch, rf = ref_sample_target(image, self.state, self.s_factor, self.s_size,
                                      plus_one=self.variant != "no_plus_one")
        x = ref_normalise(patch)
        with torch.no_grad():
            out = self.net(template=[self.z[:, :3, :, :], self.z[:, 3:, :, :]],
                           search=[x[:, :3, :, :], x[:, 3:, :, :]])
        response = self.window * out["score_map"]
        boxes = ref_cal_bbox(response, out["size_map"], out["offset_map"], self.n).view(-1, 4)
        if self.variant == "float64_scaling":
            pred = (boxes.double().mean(dim=0) * self.s_size / rf).tolist()
        else:
            pred = (boxes.mean(dim=0) * self.s_size / rf).tolist()
        # map back: crop assumed centred on the unrounded previous centre
        px, py, pw, ph = self.state
        cx_prev, cy_prev = px + 0.5 * pw, py + 0.5 * ph
        half = 0.5 * self.s_size / rf
        if self.variant == "rounded_centre":   # the rounded crop origin instead (wrong)
            side = self.s_size / rf
            cx_prev = round(cx_prev - side * 0.5) + side * 0.5
            cy_prev = round(cy_prev - side * 0.5) + side * 0.5
        cx, cy, w, h = pred
        ccx = cx + (cx_prev - half)
        ccy = cy + (cy_prev - half)
        self.state = ref_clip([ccx - 0.5 * w, ccy - 0.5 * h, w, h], H, W, 10)
        return self.state


def ref_run(net, frames, init_bbox, variant=None):
    tr = RefTracker(net, variant)
    tr.initialize(frames[0], init_bbox)
    out = [list(init_bbox)]
    for fr in frames[1:]:
        out.append(list(tr.track(fr)))
    return out


def our_run(net, frames, init_bbox):
    tr = IIMFTracker(net, make_cfg(), "cpu")
    out = [tr.initialize(frames[0], [float(v) for v in init_bbox])]
    for fr in frames[1:]:
        out.append(tr.track(fr))
    return out


def max_diff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


# ============================================================================================
# Hand-made sequences (in memory)
# ============================================================================================
def textured_frames(n, h, w, seed):
    """Smooth colour blobs + grain, drifting a little per frame; RGB and a grey-ish TIR."""
    rng = np.random.default_rng(seed)
    base = cv2.resize(rng.random((max(2, h // 24), max(2, w // 24), 6)).astype(np.float32), (w, h),
                      interpolation=cv2.INTER_CUBIC)
    frames = []
    for k in range(n):
        shifted = np.roll(base, (2 * k, 3 * k), axis=(0, 1))
        grain = rng.normal(0.0, 0.05, (h, w, 6)).astype(np.float32)
        im = np.clip((shifted + grain) * 255.0, 0, 255).astype(np.uint8)
        im[:, :, 4] = im[:, :, 3]
        im[:, :, 5] = im[:, :, 3]
        frames.append(im)
    return frames


HAND_CASES = {
    # name: (frame size (h, w), init box, net kwargs)
    "centre_fractional": ((240, 320), [140.25, 100.5, 33.0, 21.75], {}),
    "to_bottom_right": ((180, 240), [170.0, 120.0, 30.0, 24.0], {"drift": (6.0, 6.0)}),
    "to_top_left": ((200, 260), [12.5, 9.5, 26.0, 18.0], {"drift": (-6.0, -6.0)}),
    "tiny_shrinking": ((160, 200), [97.0, 71.0, 3.0, 2.0], {"size_scale": 0.05}),
    "crop_larger_than_image": ((96, 128), [40.0, 30.0, 50.0, 40.0], {"drift": (3.0, -3.0)}),
    "leaves_right_edge": ((220, 300), [255.5, 90.0, 40.0, 36.0], {"drift": (8.0, 0.0)}),
}


@pytest.mark.parametrize("case", sorted(HAND_CASES))
def test_hand_made_sequences_match_reference(case):
    (h, w), init, kw = HAND_CASES[case]
    frames = textured_frames(14, h, w, seed=sorted(HAND_CASES).index(case))
    net = PixelNet(**kw)
    init_state = list(np.asarray(init, dtype=np.float64))   # as the official harness: list of np.float64
    ref = ref_run(net, frames, init_state)
    ours = our_run(net, frames, init)
    assert len(ours) == len(ref)
    for k, (a, b) in enumerate(zip(ours, ref)):
        assert max_diff(a, b) <= TOL, f"{case}: frame {k}: ours {a} vs reference {b}"
    if case in ("to_bottom_right", "leaves_right_edge"):    # the case does reach the border
        assert any(b[0] + b[2] >= w - 1e-6 for b in ref[1:])
    if case == "to_top_left":
        assert any(b[0] == 0 or b[1] == 0 for b in ref[1:])
    if case == "tiny_shrinking":
        assert all(b[2] == 10 and b[3] == 10 for b in ref[3:])


def test_reference_comparison_sees_wrong_variants():
    """The same comparison flags a missing +1, a rounded centre and float64 scaling."""
    frames = textured_frames(14, 180, 240, seed=1)
    init = [170.0, 120.0, 30.0, 24.0]
    net = PixelNet(drift=(6.0, 6.0))
    ours = our_run(net, frames, init)
    for variant in ("no_plus_one", "rounded_centre", "float64_scaling"):
        wrong = ref_run(net, frames, list(init), variant=variant)
        assert max(max_diff(a, b) for a, b in zip(ours, wrong)) > TOL, variant
    # and a one-level change of one pixel in one frame moves the boxes
    frames2 = [f.copy() for f in frames]
    b = ours[3]
    frames2[4][int(b[1] + b[3] / 2), int(b[0] + b[2] / 2), 0] ^= 1
    assert max(max_diff(a, c) for a, c in zip(ours, ref_run(net, frames2, list(init)))) > TOL


# ============================================================================================
# Step by step: crop, window, peak
# ============================================================================================
def test_sample_target_bytes_equal_reference():
    rng = np.random.default_rng(7)
    checked = ties = 0
    for trial in range(400):
        H, W = int(rng.integers(40, 200)), int(rng.integers(40, 200))
        im = rng.integers(0, 256, (H, W, 6), dtype=np.uint8)
        bw, bh = float(rng.uniform(1, 80)), float(rng.uniform(1, 80))
        if trial % 4 == 0:                  # integer and half-integer boxes: exact .5 rounding ties
            bw, bh = float(rng.integers(1, 60)), float(rng.integers(1, 60))
        bx = float(rng.uniform(-bw, W)) if trial % 4 else float(rng.integers(-10, W)) + 0.5 * int(rng.integers(2))
        by = float(rng.uniform(-bh, H)) if trial % 4 else float(rng.integers(-10, H)) + 0.5 * int(rng.integers(2))
        factor, out_sz = [(4.0, 256), (2.0, 128), (4.0, 64)][trial % 3]
        side = math.ceil(math.sqrt(bw * bh) * factor)
        left, top = round(bx + 0.5 * bw - side * 0.5), round(by + 0.5 * bh - side * 0.5)
        if not (max(left, 0) < min(left + side, W - 1) and max(top, 0) < min(top + side, H - 1)):
            continue                        # no overlap: the original's slicing is undefined there
        ties += (bx + 0.5 * bw - side * 0.5) % 1 == 0.5
        ref_crop, ref_rf = ref_sample_target(im, [bx, by, bw, bh], factor, out_sz)
        crop, rf, _ = sample_target(im, [bx, by, bw, bh], factor, out_sz)
        assert type(rf) is float and rf == ref_rf
        assert crop.shape == ref_crop.shape and crop.dtype == np.uint8
        assert np.array_equal(crop, ref_crop), (trial, [bx, by, bw, bh], factor, (H, W))
        checked += 1
    assert checked > 300 and ties > 20


def test_hann_window_bitwise_equal_reference():
    for n in (8, 16, 24):
        ours, ref = hann2d(n), ref_window(n)
        assert ours.dtype == torch.float32 == ref.dtype and ours.shape == ref.shape
        assert torch.equal(ours, ref)


def test_cal_bbox_bitwise_equal_reference_including_ties():
    g = torch.Generator().manual_seed(3)
    for trial in range(50):
        score = torch.rand(1, 1, 16, 16, generator=g)
        if trial % 2:                       # saturated sigmoid: many exact ties after the window
            score = torch.where(score > 0.7, torch.ones_like(score), score)
        size, off = torch.rand(1, 2, 16, 16, generator=g), torch.rand(1, 2, 16, 16, generator=g)
        resp = ref_window(16) * score
        assert torch.equal(cal_bbox(resp, size, off), ref_cal_bbox(resp, size, off, 16))


# ============================================================================================
# Files: synthetic LasHeR-layout sequences through our reader and runner
# ============================================================================================
@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory):
    from lib.data.synthetic import generate_dataset

    root = tmp_path_factory.mktemp("ref") / "lasher"
    generate_dataset(root, n_train=0, n_test=3, frames=(14, 18), size=(192, 144), seed=5)
    return root


def test_synthetic_files_through_runner_match_reference(synthetic_root):
    from lib.data.datasets import get_dataset
    from lib.test.runner import track_sequence

    from lib.config import load_config

    # the seed configs' TEST/DATA values must be the official tracker's (hard-coded mean/std)
    seed_cfgs = [load_config(n) for n in ("vitb_256_tbsi_32x1_1e4_lasher_15ep_sot",
                                          "vitb_256_tbsi_32x4_4e4_lasher_15ep_in1k")]
    ds = get_dataset("lasher_test", synthetic_root)
    assert len(ds) == 3
    for k in range(len(ds)):
        seq = ds[k]
        # the official harness's view of the sequence
        seq_dir = synthetic_root / "testingset" / seq.name
        gt = np.loadtxt(str(seq_dir / "init.txt"), delimiter=",", dtype=np.float64).reshape(-1, 4)

        def listing(sub):
            names = [f for f in os.listdir(seq_dir / sub) if f.endswith(".jpg")]
            names.sort(key=lambda f: int(f[1:-4]))
            return [seq_dir / sub / f for f in names]

        ref_frames = [ref_read_frame(v, i) for v, i in zip(listing("visible"), listing("infrared"))]
        assert len(ref_frames) == seq.num_frames
        for i in (0, seq.num_frames - 1):
            assert np.array_equal(seq.read_frame(i), ref_frames[i])
        net = PixelNet(drift=(1.5 * (k - 1), -1.0 * (k - 1)))
        ref = ref_run(net, ref_frames, list(gt[0, :]))
        ours, _ = track_sequence(IIMFTracker(net, seed_cfgs[k % 2], "cpu"), seq)
        assert len(ours) == len(ref)
        for j, (a, b) in enumerate(zip(ours, ref)):
            assert max_diff(a, b) <= TOL, f"{seq.name}: frame {j}: ours {a} vs reference {b}"


def _jpeg_with_exif_orientation(jpeg: bytes, orientation: int) -> bytes:
    """Insert a minimal EXIF APP1 segment (one IFD entry: Orientation) after the SOI marker."""
    tiff = (b"MM\x00\x2a\x00\x00\x00\x08" + b"\x00\x01"
            + b"\x01\x12\x00\x03\x00\x00\x00\x01" + struct.pack(">H", orientation) + b"\x00\x00"
            + b"\x00\x00\x00\x00")
    payload = b"Exif\x00\x00" + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def test_frame_reader_matches_official_reading(tmp_path):
    """Colour and single-channel infrared JPEGs, an EXIF-rotated pair, unpadded frame numbers:
    our reader gives the official cv2.imread + BGR2RGB + concatenate arrays, in its order."""
    seq_dir = tmp_path / "lasher" / "testingset" / "seqA"
    (seq_dir / "visible").mkdir(parents=True)
    (seq_dir / "infrared").mkdir()
    (tmp_path / "lasher" / "testingsetList.txt").write_text("seqA\r\n")
    rng = np.random.default_rng(0)
    numbers = [1, 2, 3, 10]
    for k, num in enumerate(numbers):
        rgb = rng.integers(0, 256, (36, 48, 3), dtype=np.uint8)
        rgb[:, :, 0] = np.arange(48, dtype=np.uint8)[None, :] * 5          # distinct channels
        tir = rng.integers(0, 256, (36, 48, 3), dtype=np.uint8)
        tir[:, :, 2] = 255 - tir[:, :, 0]
        if k == 1:
            tir = tir[:, :, 0]                                              # a grey JPEG
        v = cv2.imencode(".jpg", rgb)[1].tobytes()
        i = cv2.imencode(".jpg", tir)[1].tobytes()
        if k == 2:
            v, i = _jpeg_with_exif_orientation(v, 6), _jpeg_with_exif_orientation(i, 6)
        (seq_dir / "visible" / f"v{num}.jpg").write_bytes(v)
        (seq_dir / "infrared" / f"i{num}.jpg").write_bytes(i)
    (seq_dir / "init.txt").write_text("".join("10,12,30,20\r\n" for _ in numbers))
    assert cv2.imread(str(seq_dir / "visible" / "v3.jpg")).shape == (48, 36, 3)   # the EXIF tag counts

    from lib.data.datasets import get_dataset

    seq = get_dataset("lasher_test", tmp_path / "lasher")["seqA"]

    def listing(sub):
        names = [f for f in os.listdir(seq_dir / sub) if f.endswith(".jpg")]
        names.sort(key=lambda f: int(f[1:-4]))
        return [seq_dir / sub / f for f in names]

    ref = [ref_read_frame(v, i) for v, i in zip(listing("visible"), listing("infrared"))]
    assert [p.name for p in seq.rgb_frames] == [p.name for p in listing("visible")]
    assert len(ref) == seq.num_frames == 4
    for (k, frame), expected in zip(seq.frames(), ref):
        assert frame.dtype == np.uint8 and frame.shape == expected.shape
        assert np.array_equal(frame, expected), k
        assert np.array_equal(seq.read_frame(k, parallel=True), expected), k
