"""sample_target / crop_geometry on hand-made cases (docs/tracker.md#sample_target)."""
import numpy as np
import pytest
import torch

from lib.utils.crops import crop_geometry, sample_target


def ramp_image(h=48, w=64, c=6):
    """Every pixel non-zero and unique per (row, col, channel) modulo 255."""
    r = np.arange(h)[:, None, None]
    q = np.arange(w)[None, :, None]
    k = np.arange(c)[None, None, :]
    return (1 + (r * 7 + q * 3 + k * 40) % 254).astype(np.uint8)


def reference_padded(im, x1, y1, size):
    """Independent construction of the official padded crop: zeros, then the image part with
    the right/bottom off-by-one (the last column/row is never copied when the crop reaches it)."""
    h, w = im.shape[:2]
    out = np.zeros((size, size, im.shape[2]), np.uint8)
    c0, c1 = max(x1, 0), min(x1 + size, w - 1)
    r0, r1 = max(y1, 0), min(y1 + size, h - 1)
    if c1 > c0 and r1 > r0:
        out[r0 - y1:r1 - y1, c0 - x1:c1 - x1] = im[r0:r1, c0:c1]
    return out


def test_geometry_by_hand():
    # 10x10 box centred at (55, 35), factor 2 -> crop 20 at (45, 25); x2 = 65 > 64 -> pad 65 - 64 + 1 = 2
    g = crop_geometry([50, 30, 10, 10], 2.0, 48, 64)
    assert (g.x1, g.y1, g.size) == (45, 25, 20)
    assert (g.pad_left, g.pad_right, g.pad_top, g.pad_bottom) == (0, 2, 0, 0)
    assert not g.empty


def test_ceil_of_crop_size():
    assert crop_geometry([0, 0, 10, 10], 2.0, 100, 100).size == 20           # exactly 20: no rounding up
    assert crop_geometry([0, 0, 10, 10.000001], 2.0, 100, 100).size == 21    # a hair above: ceil
    assert crop_geometry([0, 0, 3, 12], 4.0, 100, 100).size == 24            # sqrt(36) * 4
    assert crop_geometry([0, 0, 5, 7], 4.0, 100, 100).size == 24             # 4 * sqrt(35) = 23.66 -> 24


@pytest.mark.parametrize("x, expected_x1", [
    (7.5, 2),     # x + 5 - 10 = 2.5  -> half to even: 2 (round-half-up would give 3)
    (8.5, 4),     # 3.5 -> 4
    (9.5, 4),     # 4.5 -> 4
    (4.5, 0),     # -0.5 -> 0 (-0)
    (3.5, -2),    # -1.5 -> -2
    (7.4, 2),     # 2.4 -> 2
    (7.6, 3),     # 2.6 -> 3
])
def test_round_half_to_even(x, expected_x1):
    g = crop_geometry([x, x, 10, 10], 2.0, 100, 100)
    assert g.x1 == expected_x1 and g.y1 == expected_x1


def test_off_by_one_when_crop_ends_exactly_at_right_border():
    im = ramp_image()                     # 64 wide
    # centre 54: x1 = 44, x2 = 64 == W -> pad_right = 1: column 63 is NOT copied (official bug)
    crop, rf, mask = sample_target(im, [49, 10, 10, 10], 2.0, None)
    g = crop_geometry([49, 10, 10, 10], 2.0, 48, 64)
    assert (g.x1, g.pad_right) == (44, 1)
    assert rf == 1.0 and crop.shape == (20, 20, 6)
    np.testing.assert_array_equal(crop[:, :19], im[5:25, 44:63])
    assert crop[:, 19].max() == 0 and im[5:25, 63].min() > 0
    assert mask[:, 19].all() and not mask[:, :19].any()


def test_no_padding_when_crop_ends_one_before_the_border():
    im = ramp_image()
    crop, _, mask = sample_target(im, [48, 10, 10, 10], 2.0, None)   # x1 = 43, x2 = 63 = W - 1
    assert crop_geometry([48, 10, 10, 10], 2.0, 48, 64).pad_right == 0
    np.testing.assert_array_equal(crop, im[5:25, 43:63])
    assert not mask.any()


def test_bottom_border_off_by_one():
    im = ramp_image()                     # 48 high
    crop, _, _ = sample_target(im, [20, 33, 10, 10], 2.0, None)     # y1 = 28, y2 = 48 == H
    np.testing.assert_array_equal(crop[:19], im[28:47, 15:35])
    assert crop[19].max() == 0


def test_top_left_padding():
    im = ramp_image()
    crop, _, mask = sample_target(im, [-3, -2, 10, 10], 2.0, None)   # x1 = -8, y1 = -7
    g = crop_geometry([-3, -2, 10, 10], 2.0, 48, 64)
    assert (g.x1, g.y1, g.pad_left, g.pad_top) == (-8, -7, 8, 7)
    assert crop[:7].max() == 0 and crop[:, :8].max() == 0
    np.testing.assert_array_equal(crop[7:, 8:], im[0:13, 0:12])
    assert mask[:7].all() and mask[:, :8].all() and not mask[7:, 8:].any()


def test_crop_larger_than_image_pads_all_sides():
    im = ramp_image(20, 30)
    crop, _, _ = sample_target(im, [10, 5, 10, 10], 4.0, None)       # 40 px crop at (-5, -10)
    np.testing.assert_array_equal(crop, reference_padded(im, -5, -10, 40))
    assert crop[10:29, 5:34].min() > 0          # rows 0..18, cols 0..28 copied (last row/col dropped)


@pytest.mark.parametrize("box", [
    [0, 0, 5, 5], [58, 40, 6, 8], [-10, 20, 15, 4], [30.5, 22.5, 3.3, 7.7], [60, -5, 30, 30],
    [1.5, 44.5, 2, 2], [10, 10, 40, 30],
])
def test_matches_independent_reference(box):
    im = ramp_image()
    for factor in (2.0, 4.0):
        g = crop_geometry(box, factor, *im.shape[:2])
        crop, _, _ = sample_target(im, box, factor, None)
        np.testing.assert_array_equal(crop, reference_padded(im, g.x1, g.y1, g.size))


def test_box_completely_outside_gives_zero_crop_of_right_size():
    im = ramp_image()
    for box in ([200, 10, 10, 10], [-100, 10, 10, 10], [10, 300, 10, 10], [10, -90, 10, 10],
                [68, 10, 10, 10]):            # crop starts at column 63 = W - 1: nothing copied
        crop, rf, mask = sample_target(im, box, 2.0, 32)
        assert crop.shape == (32, 32, 6) and crop.max() == 0 and mask.all(), box
        assert rf == 32 / 20


def test_tiny_and_invalid_boxes():
    im = ramp_image()
    crop, rf, _ = sample_target(im, [10, 10, 0.1, 0.1], 2.0, 16)      # crop size ceil(0.2) = 1
    assert crop_geometry([10, 10, 0.1, 0.1], 2.0, 48, 64).size == 1
    assert crop.shape == (16, 16, 6) and rf == 16.0
    # round(10 + 0.05 - 0.5) = round(9.55) = 10: a 1x1 crop of pixel (10, 10), upsampled
    assert (crop == im[10, 10]).all()
    with pytest.raises(ValueError, match="too small"):
        sample_target(im, [10, 10, 0, 5], 2.0, 16)
    with pytest.raises(ValueError, match="negative"):
        sample_target(im, [10, 10, -4, 5], 2.0, 16)
    with pytest.raises(ValueError, match="NaN"):
        sample_target(im, [10, float("nan"), 4, 5], 2.0, 16)
    with pytest.raises(ValueError, match="4 numbers"):
        sample_target(im, [10, 10, 4], 2.0, 16)


def test_resize_and_factor():
    im = ramp_image()
    crop, rf, mask = sample_target(im, [20, 15, 8, 8], 4.0, 16)      # crop 32 -> 16
    assert crop.shape == (16, 16, 6) and crop.dtype == np.uint8
    assert rf == 0.5 and mask.shape == (16, 16) and mask.dtype == np.bool_
    # one cv2.resize call on all 6 channels, as the original (OpenCV's 3-channel and generic
    # paths round differently: resizing the RGB and TIR halves separately changes pixels by 1)
    padded, _, _ = sample_target(im, [20, 15, 8, 8], 4.0, None)
    import cv2
    np.testing.assert_array_equal(crop, cv2.resize(padded, (16, 16)))
    same, rf1, _ = sample_target(im, [20, 15, 8, 8], 4.0, 32)       # same size: untouched
    assert rf1 == 1.0
    np.testing.assert_array_equal(same, padded)


def test_box_types_agree():
    im = ramp_image()
    box = [12.25, 7.75, 9.5, 6.5]
    ref = sample_target(im, box, 4.0, 24)
    for other in (np.array(box), torch.tensor(box, dtype=torch.float64), tuple(box)):
        out = sample_target(im, other, 4.0, 24)
        np.testing.assert_array_equal(out[0], ref[0])
        assert out[1] == ref[1]


def test_grey_and_three_channel_images():
    im = ramp_image(c=3)
    crop, _, _ = sample_target(im, [5, 5, 10, 10], 2.0, 8)
    assert crop.shape == (8, 8, 3)
    crop1, _, _ = sample_target(ramp_image(c=1), [5, 5, 10, 10], 2.0, 8)
    assert crop1.shape == (8, 8, 1)
    crop2d, _, _ = sample_target(ramp_image(c=1)[..., 0], [5, 5, 10, 10], 2.0, 8)
    assert crop2d.shape == (8, 8)


@pytest.mark.parametrize("box", [[10, 10, 40, 30], [-10, 20, 15, 4], [200, 200, 5, 5]])
def test_tracker_crops_without_the_mask_are_the_same_crops(box):
    im = ramp_image()
    for out_sz in (None, 32):
        crop, factor, mask = sample_target(im, box, 4.0, out_sz)
        crop_nomask, factor_nomask, no_mask = sample_target(im, box, 4.0, out_sz, mask=False)
        np.testing.assert_array_equal(crop_nomask, crop)
        assert factor_nomask == factor and no_mask is None and mask is not None and mask.dtype == np.bool_
