"""Heatmap and losses on hand-computed cases (docs/training.md#objective)."""
import math

import pytest
import torch

from lib.train.losses import compute_losses, focal_loss, gaussian_heatmap, gaussian_radius, giou_loss


def test_radius_bug_version_square_box():
    # w = h = 4 cells: r1 = (8 + sqrt(64 - 4*4.8/1.7... )) etc.; the smallest is case 3:
    # a = 2.8, b = -11.2, c = -4.8 -> (b + sqrt(b^2 - 4ac)) / 2 = (-11.2 + sqrt(179.2)) / 2
    r = float(gaussian_radius(torch.tensor(4.0), torch.tensor(4.0)))
    assert r == pytest.approx((-11.2 + math.sqrt(179.2)) / 2, rel=1e-5)   # 1.0933
    # w = h = 8: (-22.4 + sqrt(716.8)) / 2 = 2.1866
    assert float(gaussian_radius(torch.tensor(8.0), torch.tensor(8.0))) == pytest.approx(
        (-22.4 + math.sqrt(716.8)) / 2, rel=1e-5)


def test_heatmap_radius_one():
    # box (0.25, 0.25, 0.25, 0.25) on a 16 grid -> (4, 4, 4, 4) cells, centre (6, 6), r = 1, sigma = 0.5
    h = gaussian_heatmap(torch.tensor([[0.25, 0.25, 0.25, 0.25]]), 16)
    assert h.shape == (1, 16, 16)
    assert h[0, 6, 6] == 1.0
    for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
        assert float(h[0, 6 + dy, 6 + dx]) == pytest.approx(math.exp(-2), rel=1e-6)
    for dy, dx in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
        assert float(h[0, 6 + dy, 6 + dx]) == pytest.approx(math.exp(-4), rel=1e-6)
    assert float(h.sum()) == pytest.approx(1 + 4 * math.exp(-2) + 4 * math.exp(-4), rel=1e-6)
    assert int((h == 1).sum()) == 1


def test_heatmap_radius_two_sigma_and_feature_size():
    # (8, 8, 8, 8) cells on a 32 grid: centre (12, 12), r = 2, sigma = 5/6
    h = gaussian_heatmap(torch.tensor([[0.25, 0.25, 0.25, 0.25]]), 32)
    assert h.shape == (1, 32, 32)
    sigma = 5 / 6
    assert float(h[0, 12, 14]) == pytest.approx(math.exp(-4 / (2 * sigma ** 2)), rel=1e-6)
    assert float(h[0, 14, 14]) == pytest.approx(math.exp(-8 / (2 * sigma ** 2)), rel=1e-6)
    assert float(h[0, 12, 15]) == 0.0
    assert int((h > 0).sum()) == 25


def test_heatmap_flat_box_radius_zero_and_half_to_even_centre():
    # (8 x 2) cells: case 3 gives (-14 + sqrt(249.76)) / 2 = 0.90 -> r = 0: a single 1
    h = gaussian_heatmap(torch.tensor([[2 / 16, 2 / 16, 8 / 16, 2 / 16]]), 16)
    assert int((h > 0).sum()) == 1 and h[0, 3, 6] == 1.0
    # centre x = 5.5 + 1 = 6.5 -> 6 (half to even); y = 6.5 + 1 = 7.5 -> 8
    h = gaussian_heatmap(torch.tensor([[5.5 / 16, 6.5 / 16, 2 / 16, 2 / 16]]), 16)
    assert h[0, 8, 6] == 1.0


def test_heatmap_clipped_at_border_and_batch():
    boxes = torch.tensor([[-0.125, 0.25, 0.25, 0.25], [0.25, 0.25, 0.25, 0.25]])
    h = gaussian_heatmap(boxes, 16)
    # first box: centre x = -2 + 2 = 0, r = 1: the left column of the Gaussian falls outside
    assert h[0, 6, 0] == 1.0 and float(h[0, 6, 1]) == pytest.approx(math.exp(-2), rel=1e-6)
    assert int((h[0] > 0).sum()) == 6
    assert h[1, 6, 6] == 1.0


def test_focal_loss_hand_computed():
    target = torch.tensor([[[[1.0, 0.5], [0.0, 0.0]]]])
    pred = torch.tensor([[[[0.8, 0.4], [0.1, 0.2]]]])
    pos = math.log(0.8) * 0.2 ** 2
    neg = (math.log(0.6) * 0.4 ** 2 * 0.5 ** 4 + math.log(0.9) * 0.1 ** 2 + math.log(0.8) * 0.2 ** 2)
    assert float(focal_loss(pred, target)) == pytest.approx(-(pos + neg), rel=1e-6)
    # no positive: minus the negative sum, not divided
    target0 = torch.zeros_like(target)
    neg0 = sum(math.log(1 - p) * p ** 2 for p in (0.8, 0.4, 0.1, 0.2))
    assert float(focal_loss(pred, target0)) == pytest.approx(-neg0, rel=1e-6)


def test_giou_equals_one_minus_giou():
    pred = torch.tensor([[0.0, 0.0, 0.5, 0.5]])
    gt = torch.tensor([[0.25, 0.25, 0.75, 0.75]])
    # inter 1/16, union 7/16, hull 9/16: GIoU = 1/7 - 2/9
    loss, iou = giou_loss(pred, gt)
    assert float(loss) == pytest.approx(1 - (1 / 7 - 2 / 9), abs=1e-6)
    assert float(iou) == pytest.approx(1 / 7, abs=1e-6)
    # mean over boxes; identical boxes give 0
    loss2, iou2 = giou_loss(torch.cat([pred, gt]), torch.cat([gt, gt]))
    assert float(loss2) == pytest.approx((1 - (1 / 7 - 2 / 9)) / 2, abs=1e-6)
    assert float(iou2) == pytest.approx((1 / 7 + 1) / 2, abs=1e-6)


def test_giou_degenerate_gives_zero_like_original():
    bad = torch.tensor([[0.5, 0.5, 0.2, 0.8]])       # x2 < x1
    loss, iou = giou_loss(bad, torch.tensor([[0.1, 0.1, 0.4, 0.4]]))
    assert float(loss) == 0.0 and float(iou) == 0.0


def test_compute_losses_total_and_terms():
    # GT box x, y, w, h = (0.25, 0.25, 0.25, 0.25) -> xyxy (0.25, 0.25, 0.5, 0.5)
    gt = torch.tensor([[0.25, 0.25, 0.25, 0.25]])
    # prediction cx, cy, w, h = (0.5, 0.5, 0.5, 0.5) -> xyxy (0.25, 0.25, 0.75, 0.75)
    pred_boxes = torch.tensor([[[0.5, 0.5, 0.5, 0.5]]], requires_grad=True)
    score = torch.full((1, 1, 16, 16), 0.01)
    score[0, 0, 6, 6] = 0.9
    out = {"pred_boxes": pred_boxes, "score_map": score}
    total, stats = compute_losses(out, gt, giou_weight=2.0, l1_weight=5.0)
    giou = 1 - 0.25       # gt inside pred: IoU = 1/16 / 4/16, hull = pred
    l1 = (0 + 0 + 0.25 + 0.25) / 4
    heat = gaussian_heatmap(gt, 16).unsqueeze(1)
    focal = float(focal_loss(score, heat))
    assert stats["Loss/giou"] == pytest.approx(giou, abs=1e-6)
    assert stats["Loss/l1"] == pytest.approx(l1, abs=1e-7)
    assert stats["Loss/location"] == pytest.approx(focal, rel=1e-6)
    assert stats["IoU"] == pytest.approx(0.25, abs=1e-6)
    assert float(total.detach()) == pytest.approx(2 * giou + 5 * l1 + focal, rel=1e-6)
    total.backward()
    assert pred_boxes.grad is not None and torch.isfinite(pred_boxes.grad).all()


def test_compute_losses_clamps_gt_and_uses_feature_size():
    gt = torch.tensor([[-0.1, 0.8, 0.3, 0.4]])      # xyxy (-0.1, 0.8, 0.2, 1.2) -> clamped (0, 0.8, 0.2, 1)
    pred = {"pred_boxes": torch.tensor([[[0.1, 0.9, 0.2, 0.2]]]), "score_map": torch.full((1, 1, 8, 8), 0.5)}
    _, stats = compute_losses(pred, gt)
    assert stats["Loss/l1"] == pytest.approx(0.0, abs=1e-6)
    assert stats["Loss/giou"] == pytest.approx(0.0, abs=1e-5)   # torchvision's eps 1e-7 in the ratios
    with pytest.raises(ValueError, match="feat|size|shape|match"):
        # a heatmap size that does not match the score map is an error, not a silent broadcast
        compute_losses(pred, gt, feat_sz=16)


def test_compute_losses_nan_prediction_is_an_error():
    pred = {"pred_boxes": torch.tensor([[[float("nan"), 0.5, 0.2, 0.2]]]), "score_map": torch.full((1, 1, 16, 16), 0.5)}
    with pytest.raises(ValueError, match="NaN"):
        compute_losses(pred, torch.tensor([[0.2, 0.2, 0.2, 0.2]]))
