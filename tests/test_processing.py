"""Joint RGB-T processing (docs/training.md#processing-pipeline): flips keep RGB and TIR aligned, jitter and
GT-in-crop formulas, brightness, normalisation, validity checks."""
import math

import numpy as np
import pytest
import torch

from lib.data.processing import RGBTProcessing, box_in_crop, jitter_box
from lib.data.transforms import brightness_jitter, flip_frame_and_box, flip_normalised, normalize

MEAN = [0.485, 0.456, 0.406, 0.449, 0.449, 0.449]
STD = [0.229, 0.224, 0.225, 0.226, 0.226, 0.226]


def proc(**kw):
    args = dict(template_size=64, search_size=128, template_factor=2.0, search_factor=4.0, mean=MEAN, std=STD,
                stride=16)
    args.update(kw)
    return RGBTProcessing(**args)


def synthetic_frame(box, w=200, h=150):
    """RGB: a left-right ramp + a red target square; TIR: a different ramp + a hot target square.
    The target occupies exactly ``box`` in both modalities."""
    f = np.zeros((h, w, 6), np.uint8)
    ramp = np.linspace(0, 120, w).astype(np.uint8)
    f[:, :, 1] = ramp[None, :]                   # G: ramp rising to the right
    f[:, :, 3:] = (120 - ramp)[None, :, None]    # TIR: ramp falling to the right
    x, y, bw, bh = [int(v) for v in box]
    f[y:y + bh, x:x + bw, 0] = 250               # R: target
    f[y:y + bh, x:x + bw, 3:] = 250              # TIR: target
    return f


def unnormalise(img):
    return img.permute(1, 2, 0).numpy() * np.array(STD) + np.array(MEAN)


class FixedRng:
    def __init__(self, normal, uniform):
        self.normals, self.uniforms = list(normal), list(uniform)

    def standard_normal(self, n):
        out, self.normals = self.normals[:n], self.normals[n:]
        return np.array(out)

    def uniform(self, lo, hi):
        return 1.0

    def random(self, n=None):
        if n is None:
            return self.uniforms.pop(0)
        out, self.uniforms = self.uniforms[:n], self.uniforms[n:]
        return np.array(out)


def test_jitter_formula():
    box = np.array([100.0, 50.0, 20.0, 40.0])
    out = jitter_box(box, 0.25, 3.0, FixedRng([1.0, -2.0], [0.75, 0.0]))
    w, h = 20 * math.exp(0.25), 40 * math.exp(-0.5)
    off = math.sqrt(w * h) * 3.0
    cx, cy = 110 + off * 0.25, 70 + off * -0.5
    np.testing.assert_allclose(out, [cx - w / 2, cy - h / 2, w, h], rtol=1e-12)
    # template settings (0, 0): no jitter at all
    np.testing.assert_allclose(jitter_box(box, 0, 0, np.random.default_rng(1)), box)


def test_box_in_crop_formula():
    gt = np.array([100.0, 50.0, 20.0, 40.0])
    crop_box = np.array([104.0, 48.0, 20.0, 40.0])       # centre 4 px right, 2 px up
    rf = 128 / 160
    out = box_in_crop(gt, crop_box, rf, 128)
    cx = 127 / 2 + (110 - 114) * rf
    cy = 127 / 2 + (70 - 68) * rf
    np.testing.assert_allclose(out, np.array([cx - 8, cy - 16, 16, 32]) / 128, rtol=1e-12)


def test_flip_formulas():
    frame = np.zeros((10, 20, 6), np.uint8)
    frame[:, 2, :3] = 1
    frame[:, 2, 3:] = 2
    f2, b2 = flip_frame_and_box(frame, np.array([2.0, 3.0, 4.0, 5.0]))
    assert (f2[:, 17, :3] == 1).all() and (f2[:, 17, 3:] == 2).all()   # RGB and TIR moved together
    np.testing.assert_allclose(b2, [19 - 6, 3, 4, 5])                   # (W-1) - (x+w)
    img = np.arange(2 * 3 * 6, dtype=np.float32).reshape(2, 3, 6)
    att = np.array([[True, False, False], [False, False, False]])
    i2, a2, b3 = flip_normalised(img, att, np.array([0.1, 0.2, 0.3, 0.4]))
    assert (i2[:, 0] == img[:, 2]).all() and a2[0, 2] and not a2[0, 0]
    np.testing.assert_allclose(b3, [0.6, 0.2, 0.3, 0.4])                 # 1 - (x+w)


def test_brightness_one_factor_all_channels_and_normalize():
    crop = np.array([[[10, 20, 30, 40, 50, 250]]], np.uint8)
    out = brightness_jitter(crop, 1.2)
    np.testing.assert_allclose(out[0, 0], [12 / 255, 24 / 255, 36 / 255, 48 / 255, 60 / 255, 1.0], rtol=1e-6)
    n = normalize(out, MEAN, STD)
    np.testing.assert_allclose(n[0, 0], (out[0, 0] - np.array(MEAN)) / np.array(STD), rtol=1e-5)
    with pytest.raises(ValueError, match="6"):
        normalize(out[:, :, :3], MEAN, STD)


@pytest.mark.parametrize("seed", range(12))
def test_rgb_and_tir_stay_aligned_and_gt_marks_target(seed):
    zbox = np.array([60.0, 40.0, 30.0, 24.0])
    xbox = np.array([90.0, 60.0, 30.0, 24.0])
    z, x = synthetic_frame(zbox), synthetic_frame(xbox)
    out = proc()(z, zbox, x, xbox, np.random.default_rng(seed))
    assert out["valid"]
    for mode in ("template", "search"):
        img = unnormalise(out[f"{mode}_images"])
        sz = img.shape[0]
        # The target is where the GT says, in RGB (R channel) and TIR, after all flips and jitter
        hot_rgb = img[:, :, 0] > 0.8 * img[:, :, 0].max()
        hot_tir = img[:, :, 3] > 0.8 * img[:, :, 3].max()
        assert (hot_rgb == hot_tir).mean() > 0.97           # edges differ: different backgrounds
        ys, xs = np.nonzero(hot_rgb)
        bx, by, bw, bh = out[f"{mode}_anno"].numpy() * sz
        # within the original's conventions: the (W-1) raw flip (1 px), the (sz-1)/2 crop centre and
        # the rounded crop origin (0.5 px each), scaled by the resize factor
        assert abs(xs.mean() + 0.5 - (bx + bw / 2)) < 2.5 and abs(ys.mean() + 0.5 - (by + bh / 2)) < 2.5
        # Background: G = ramp, TIR = 120 - ramp, so G + TIR is constant wherever the crop is not
        # padding or target (bilinear resizing keeps sums); mirroring one modality alone breaks it.
        bg = (img[:, :, 0] < 1e-3) & ~out[f"{mode}_att"].numpy()
        total = img[:, :, 1] + img[:, :, 4]
        assert bg.sum() > 100 and img[:, :, 1][bg].std() > 0.02
        # (uint8 rounding of the resized channels: at most a level or two each)
        assert np.abs(total[bg] - np.median(total[bg])).max() < 3 * 1.2 / 255
        # one brightness factor for every channel: TIR channels identical
        np.testing.assert_allclose(img[:, :, 3], img[:, :, 5], atol=1e-5)


def test_flip_rolls_joint_and_independent():
    zbox = np.array([60.0, 40.0, 30.0, 24.0])
    z = synthetic_frame(zbox)
    p = proc()
    flips = np.array([p(z, zbox, z, zbox, np.random.default_rng(s))["flips"].numpy() for s in range(200)])
    # template and search crops get their own rolls: all four combinations occur
    combos = {tuple(f[1:]) for f in flips}
    assert combos == {(False, False), (False, True), (True, False), (True, True)}
    assert 0.35 < flips[:, 0].mean() < 0.65
    # the joint flip mirrors the raw frames: search GT x follows (W-1) - (x+w) before cropping
    out_nf = p(z, zbox, z, zbox, FixedRng([0.0] * 4, [0.9, 0.5, 0.5, 0.9, 0.5, 0.5, 0.9]))
    out_f = p(z, zbox, z, zbox, FixedRng([0.0] * 4, [0.1, 0.5, 0.5, 0.9, 0.5, 0.5, 0.9]))
    assert out_f["flips"].tolist() == [True, False, False] and out_nf["flips"].tolist() == [False, False, False]
    a, b = unnormalise(out_nf["template_images"]), unnormalise(out_f["template_images"])
    # same crop geometry up to the (W-1) convention: the flipped template mirrors the plain one
    assert np.abs(a[:, ::-1, 1] - b[:, :, 1]).mean() < np.abs(a[:, :, 1] - b[:, :, 1]).mean()


def test_invalid_samples():
    z = synthetic_frame([60, 40, 30, 24])
    good = np.array([60.0, 40.0, 30.0, 24.0])
    out = proc()(z, np.array([-900.0, 40.0, 30.0, 24.0]), z, good, np.random.default_rng(0))
    assert out == {"valid": False, "reason": out["reason"]} and "padding" in out["reason"]
    out = proc()(z, np.array([60.0, 40.0, 0.0, 24.0]), z, good, np.random.default_rng(0))
    assert not out["valid"] and "empty crop" in out["reason"]
    with pytest.raises(ValueError, match="H x W x 6"):
        proc()(z[:, :, :3], good, z, good, np.random.default_rng(0))


def test_from_cfg(tiny_cfg):
    p = RGBTProcessing.from_cfg(tiny_cfg)
    assert p.params["search"]["size"] == tiny_cfg.DATA.SEARCH.SIZE
    assert p.params["template"]["factor"] == tiny_cfg.DATA.TEMPLATE.FACTOR
    z = synthetic_frame([60, 40, 30, 24])
    out = p(z, np.array([60.0, 40.0, 30.0, 24.0]), z, np.array([60.0, 40.0, 30.0, 24.0]), np.random.default_rng(2))
    assert out["template_images"].shape == (6, 64, 64) and out["search_images"].shape == (6, 128, 128)
    assert out["search_att"].dtype == torch.bool and out["search_anno"].dtype == torch.float32
