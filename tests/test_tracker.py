"""Tracker arithmetic (docs/tracker.md#tracking-step): Hann window, cal_bbox, map_box_back, clip_box and a
whole tracking run with a fake network whose output makes the boxes hand-derivable."""
import math
import re
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from lib.test.tracker import IIMFTracker, hann1d, hann2d
from lib.utils.boxes import cal_bbox
from lib.utils.boxes import clip_box, cxcywh_to_xywh, map_box_back, xywh_to_cxcywh, xywh_to_xyxy, xyxy_to_xywh
from lib.utils.crops import sample_target

REPO = Path(__file__).resolve().parents[1]
MEAN = [0.485, 0.456, 0.406, 0.449, 0.449, 0.449]
STD = [0.229, 0.224, 0.225, 0.226, 0.226, 0.226]


def make_cfg(search=256, template=128, stride=16):
    ns = SimpleNamespace
    return ns(TEST=ns(TEMPLATE_FACTOR=2.0, TEMPLATE_SIZE=template, SEARCH_FACTOR=4.0, SEARCH_SIZE=search, EPOCH=1),
              DATA=ns(MEAN=list(MEAN), STD=list(STD)), MODEL=ns(BACKBONE=ns(STRIDE=stride)))


class FakeNet(nn.Module):
    """Score 1e-4 everywhere except `peaks` {(row, col): score}; offset and size constant.
    Records its inputs."""

    def __init__(self, feat=16, peaks=None, offset=(0.5, 0.25), size=(0.25, 0.25)):
        super().__init__()
        self.feat = feat
        self.peaks = peaks or {(6, 10): 1.0}
        self.offset = offset
        self.size = size
        self.calls = []
        self.dummy = nn.Parameter(torch.zeros(1))   # so .to(device) has something to move

    def forward(self, template, search):
        self.calls.append(([t.clone() for t in template], [s.clone() for s in search]))
        f = self.feat
        score = torch.full((1, 1, f, f), 1e-4)
        for (r, c), v in self.peaks.items():
            score[0, 0, r, c] = v
        size = torch.empty(1, 2, f, f)
        size[:, 0], size[:, 1] = self.size
        offset = torch.empty(1, 2, f, f)
        offset[:, 0], offset[:, 1] = self.offset
        return {"score_map": score, "size_map": size, "offset_map": offset,
                "pred_boxes": torch.zeros(1, 1, 4)}


def random_frame(h=480, w=640, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 6), dtype=np.uint8)


# ------------------------------------------------------------------ Hann window
def test_hann_values():
    h = hann1d(16)
    assert h.dtype == torch.float32 and h.shape == (16,)
    ref = [0.5 * (1 - math.cos(2 * math.pi * k / 17)) for k in range(1, 17)]
    np.testing.assert_allclose(h.numpy(), ref, rtol=0, atol=2e-7)
    assert h.min() > 0.03                                   # never zero (k = 1..16 of 17)
    assert abs(h[0].item() - 0.0337639) < 1e-6
    np.testing.assert_allclose(h.numpy(), h.flip(0).numpy(), atol=1e-6)   # symmetric
    w = hann2d(16)
    assert w.shape == (1, 1, 16, 16)
    torch.testing.assert_close(w[0, 0], torch.outer(h, h), rtol=0, atol=0)
    assert hann2d(8).shape == (1, 1, 8, 8)


# ------------------------------------------------------------------ cal_bbox
def test_cal_bbox_by_hand():
    score = torch.zeros(1, 1, 8, 8)
    score[0, 0, 2, 5] = 0.9
    size = torch.zeros(1, 2, 8, 8)
    size[0, :, 2, 5] = torch.tensor([0.3, 0.4])
    offset = torch.zeros(1, 2, 8, 8)
    offset[0, :, 2, 5] = torch.tensor([0.25, 0.5])
    box = cal_bbox(score, size, offset)
    assert box.shape == (1, 4)
    torch.testing.assert_close(box[0], torch.tensor([5.25 / 8, 2.5 / 8, 0.3, 0.4]))


def test_cal_bbox_ties_take_first_in_raster_order():
    score = torch.zeros(2, 1, 4, 4)
    score[0, 0, 1, 3] = score[0, 0, 2, 0] = score[0, 0, 3, 3] = 0.7    # flat indices 7, 8, 15
    score[1, 0, 0, 2] = score[1, 0, 0, 1] = 0.5                         # flat indices 2, 1
    size = torch.arange(32.0).reshape(1, 2, 4, 4).repeat(2, 1, 1, 1)
    offset = torch.zeros(2, 2, 4, 4)
    box = cal_bbox(score, size, offset)
    torch.testing.assert_close(box[0], torch.tensor([3 / 4, 1 / 4, 7.0, 23.0]))
    torch.testing.assert_close(box[1], torch.tensor([1 / 4, 0.0, 1.0, 17.0]))


# ------------------------------------------------------------------ box helpers
def test_clip_box_cases():
    W, H = 100, 80
    assert clip_box([10, 20, 30, 40], H, W, margin=10) == [10, 20, 30, 40]
    # x2 from the UNclipped x1: -5 + 30 = 25, so w = 25 (not 30)
    assert clip_box([-5, 20, 30, 40], H, W, margin=10) == [0, 20, 25, 40]
    # beyond the right/bottom: x1 <= W - 10, x2 <= W, w >= 10
    assert clip_box([95, 75, 30, 20], H, W, margin=10) == [90, 70, 10, 10]
    assert clip_box([50, 50, 2, 3], H, W, margin=10) == [50, 50, 10, 10]          # tiny box grows to 10
    assert clip_box([-50, -40, 20, 20], H, W, margin=10) == [0, 0, 10, 10]        # entirely left/above
    assert clip_box([200, 10, 20, 20], H, W, margin=10) == [90, 10, 10, 20]        # entirely right
    assert clip_box([-5.5, 1.25, 30.5, 20.0], H, W, margin=0) == [0, 1.25, 25.0, 20.0]
    # min/max of Python numbers, as the original: a clamped coordinate comes back as the int bound
    out = clip_box([-5.5, 3.0, 30.0, 20.0], H, W, margin=10)
    assert out[0] == 0 and isinstance(out[0], int)


def test_map_box_back_by_hand():
    # crop side 128 (resize factor 256/128 = 2), previous box centre (116, 96)
    assert map_box_back([84.0, 50.0, 32.0, 16.0], [100, 80, 32, 32], 2.0, 256) == [120.0, 74.0, 32.0, 16.0]
    # the UNrounded previous centre is used (the crop origin was rounded)
    out = map_box_back([64.0, 64.0, 10.0, 10.0], [100.3, 80.0, 32.0, 32.0], 2.0, 256)
    assert out == pytest.approx([111.3, 91.0, 10.0, 10.0], abs=1e-12)
    # half the crop side is 0.5 * search / resize_factor, not crop_sz / 2
    rf = 256 / 300
    out = map_box_back([0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], rf, 256)
    assert out[0] == 0.0 + (0.0 - 0.5 * 256 / rf) and out[0] == pytest.approx(-150.0)


def test_box_conversions():
    assert xywh_to_xyxy([1, 2, 3, 4]) == [1.0, 2.0, 4.0, 6.0]
    assert xyxy_to_xywh([1, 2, 4, 6]) == [1.0, 2.0, 3.0, 4.0]
    assert xywh_to_cxcywh([1, 2, 3, 4]) == [2.5, 4.0, 3.0, 4.0]
    assert cxcywh_to_xywh([2.5, 4.0, 3, 4]) == [1.0, 2.0, 3.0, 4.0]
    a = np.array([[1.0, 2, 3, 4], [0, 0, 1, 1]])
    np.testing.assert_array_equal(xywh_to_xyxy(a), [[1, 2, 4, 6], [0, 0, 1, 1]])
    t = torch.tensor([[1.0, 2, 3, 4]])
    torch.testing.assert_close(xyxy_to_xywh(xywh_to_xyxy(t)), t)
    with pytest.raises(ValueError):
        xywh_to_xyxy([1, 2, 3])


# ------------------------------------------------------------------ the tracker
def test_track_run_hand_derived():
    """Crop side 128 -> resize factor exactly 2, so every float32 step is exact.
    Peak cell (row 6, col 10), offset (0.5, 0.25), size (0.25, 0.25):
    crop-pixel box = (10.5/16*128, 6.25/16*128, 32, 32) = (84, 50, 32, 32); mapped back the
    box moves by (84 - 64, 50 - 64) = (+20, -14) per frame until it leaves the top."""
    net = FakeNet()
    tr = IIMFTracker(net, make_cfg(), "cpu")
    frame = random_frame()
    assert tr.initialize(frame, [100, 80, 32, 32]) == [100.0, 80.0, 32.0, 32.0]
    boxes = [tr.track(frame) for _ in range(6)]
    assert boxes[:5] == [[120.0, 66.0, 32.0, 32.0], [140.0, 52.0, 32.0, 32.0], [160.0, 38.0, 32.0, 32.0],
                         [180.0, 24.0, 32.0, 32.0], [200.0, 10.0, 32.0, 32.0]]
    # y = -4 is clipped: y2 = -4 + 32 = 28 from the unclipped y, so h = 28
    assert boxes[5] == [220.0, 0, 32.0, 28.0]
    # next: crop side ceil(sqrt(32 * 28) * 4) = 120, centre (236, 14), half side 60:
    # cx = 10.5/16*120 + 176 = 254.75, cy = 6.25/16*120 - 46 = 0.875, w = h = 30
    # -> (239.75, -14.125, 30, 30) -> clipped y: (239.75, 0, 30, 15.875). float32 scaling: ~1e-5.
    assert tr.track(frame) == pytest.approx([239.75, 0, 30.0, 15.875], abs=1e-4)


def test_tracker_inputs_preprocessing_and_fixed_template():
    net = FakeNet()
    tr = IIMFTracker(net, make_cfg(), "cpu")
    frame0, frame1, frame2 = random_frame(seed=1), random_frame(seed=2), random_frame(seed=3)
    init = [300.5, 200.25, 40.0, 30.0]
    tr.initialize(frame0, init)
    state1 = tr.track(frame1)
    tr.track(frame2)
    mean = np.array(MEAN, np.float32)
    std = np.array(STD, np.float32)

    def expected(crop):   # (uint8 / 255 - mean) / std in float32, RGB = channels 0-2, TIR = 3-5
        x = (crop.astype(np.float32) / np.float32(255.0) - mean) / std
        return x.transpose(2, 0, 1)[None]

    z_crop, _, _ = sample_target(frame0, init, 2.0, 128)
    x1_crop, _, _ = sample_target(frame1, init, 4.0, 256)
    x2_crop, _, _ = sample_target(frame2, state1, 4.0, 256)
    (z_rgb, z_tir), (x_rgb, x_tir) = net.calls[0]
    assert z_rgb.shape == (1, 3, 128, 128) and x_tir.shape == (1, 3, 256, 256) and z_rgb.dtype == torch.float32
    np.testing.assert_array_equal(torch.cat([z_rgb, z_tir], 1).numpy(), expected(z_crop))
    np.testing.assert_array_equal(torch.cat([x_rgb, x_tir], 1).numpy(), expected(x1_crop))
    (z_rgb2, z_tir2), (x_rgb2, x_tir2) = net.calls[1]
    np.testing.assert_array_equal(torch.cat([x_rgb2, x_tir2], 1).numpy(), expected(x2_crop))
    # the template never changes
    assert torch.equal(z_rgb2, z_rgb) and torch.equal(z_tir2, z_tir)


def test_hann_window_decides_between_peaks():
    # raw maximum in the corner (1.0) vs 0.9 in the centre: the window (0.034^2 in the corner) wins
    net = FakeNet(peaks={(0, 0): 1.0, (8, 8): 0.9}, offset=(0.0, 0.0), size=(0.25, 0.25))
    tr = IIMFTracker(net, make_cfg(), "cpu")
    tr.initialize(random_frame(), [100, 80, 32, 32])
    # centre cell (8, 8) -> crop pixel (64, 64) = the crop centre: the box stays put
    assert tr.track(random_frame()) == [100.0, 80.0, 32.0, 32.0]
    assert tr.last_score == pytest.approx(0.9 * hann1d(16)[8].item() ** 2, rel=1e-6)


def test_box_leaving_the_frame_ends_in_the_corner():
    # bottom-right cell with offset 1: the box jumps towards the corner and is clipped there
    net = FakeNet(peaks={(15, 15): 1.0}, offset=(1.0, 1.0), size=(0.25, 0.25))
    tr = IIMFTracker(net, make_cfg(), "cpu")
    frame = random_frame(h=120, w=160)
    tr.initialize(frame, [100, 60, 20, 20])
    boxes = [tr.track(frame) for _ in range(6)]
    assert boxes[-1] == [150, 110, 10, 10] and boxes[-2] == [150, 110, 10, 10]
    for x, y, w, h in boxes:
        assert 0 <= x <= 150 and 0 <= y <= 110 and w >= 10 and h >= 10 and x + w <= 160 and y + h <= 120


def test_feature_size_from_config_not_hard_coded():
    net = FakeNet(feat=8, peaks={(4, 4): 1.0}, offset=(0.0, 0.0), size=(0.5, 0.5))
    tr = IIMFTracker(net, make_cfg(search=128, template=64), "cpu")
    assert tr.feat_size == 8 and tr.window.shape == (1, 1, 8, 8)
    tr.initialize(random_frame(), [100, 80, 16, 16])     # crop side 64 -> factor 2
    # cell (4, 4) = centre of an 8x8 map, size 0.5 * 128 / 2 = 32
    assert tr.track(random_frame()) == [92.0, 72.0, 32.0, 32.0]
    bad = IIMFTracker(FakeNet(feat=16), make_cfg(search=128, template=64), "cpu")
    bad.initialize(random_frame(), [100, 80, 16, 16])
    with pytest.raises(ValueError, match="score map"):
        bad.track(random_frame())


def test_tracker_input_errors():
    tr = IIMFTracker(FakeNet(), make_cfg(), "cpu")
    with pytest.raises(RuntimeError, match="before initialize"):
        tr.track(random_frame())
    with pytest.raises(ValueError, match="w or h <= 0"):
        tr.initialize(random_frame(), [10, 10, 0, 5])
    with pytest.raises(ValueError, match="H x W x 6"):
        tr.initialize(random_frame()[..., :3], [10, 10, 5, 5])
    with pytest.raises(ValueError, match="6 values"):
        cfg = make_cfg()
        cfg.DATA.MEAN = MEAN[:3]
        IIMFTracker(FakeNet(), cfg, "cpu")


def test_no_cuda_calls_in_tracker_code():
    for rel in ("lib/test/tracker.py", "lib/test/runner.py", "lib/utils/crops.py", "lib/utils/boxes.py",
                "tracking/test.py"):
        assert not re.search(r"\.cuda\(", (REPO / rel).read_text()), rel


def test_real_tiny_network_tracks_deterministically():
    from lib.config import load_config
    from lib.models.iimf import build_iimf

    cfg = load_config("tiny_demo")
    torch.manual_seed(0)
    net = build_iimf(cfg)
    frames = [random_frame(h=128, w=160, seed=s) for s in range(4)]
    runs = []
    for _ in range(2):
        tr = IIMFTracker(net, cfg, "cpu")
        tr.initialize(frames[0], [60, 50, 20, 16])
        runs.append([tr.track(f) for f in frames[1:]])
    assert runs[0] == runs[1]
    for x, y, w, h in runs[0]:
        assert 0 <= x <= 150 and 0 <= y <= 118 and w >= 10 and h >= 10


class SlowNet(FakeNet):
    """FakeNet whose forward takes at least 20 ms."""

    def forward(self, template, search):
        time.sleep(0.02)
        return super().forward(template, search)


def test_network_time_is_counted_inside_the_per_frame_time():
    tr = IIMFTracker(SlowNet(), make_cfg(), "cpu")
    frame = random_frame()
    tr.initialize(frame, [300, 200, 40, 30])
    assert tr.network_seconds == 0.0            # initialisation runs no network
    start = time.perf_counter()
    for _ in range(3):
        tr.track(frame)
    wall = time.perf_counter() - start
    assert 0.06 <= tr.network_seconds < wall
