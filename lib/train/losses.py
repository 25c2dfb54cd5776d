"""Training objective of IIMF (docs/training.md#objective).

    total = GIOU_WEIGHT * giou + L1_WEIGHT * l1 + 1 * focal

* ``giou``  = mean(1 - GIoU(pred, gt)) on xyxy boxes (torchvision), GT clamped to [0, 1].
  If a box is degenerate (x2 < x1 or y2 < y1, or NaN) the original's bare ``except`` sets giou
  and IoU to 0 for the whole batch; that is what ``giou_loss`` does by default.
* ``l1``    = mean |pred - gt| over the 4B xyxy coordinates (GT clamped as above).
* ``focal`` = CenterNet focal loss (alpha 2, beta 4) of the score map against a Gaussian
  heatmap (``gaussian_heatmap``), normalised by the number of positives (pixels where GT == 1).

Boxes given to ``compute_losses`` are the network's ``pred_boxes`` (B, 1, 4) normalised
cx, cy, w, h and the search annotation (B, 4) normalised x, y, w, h (top-left corner).
"""
from __future__ import annotations

from typing import Dict, Tuple

import numpy as np
import torch
from torchvision.ops import box_convert, generalized_box_iou_loss

__all__ = [
    "gaussian_radius",
    "gaussian_heatmap",
    "focal_loss",
    "giou_loss",
    "compute_losses",
]


# --------------------------------------------------------------------------------------------
# GT heatmap
# --------------------------------------------------------------------------------------------
def gaussian_radius(w: torch.Tensor, h: torch.Tensor, min_overlap: float = 0.7) -> torch.Tensor:
    """CornerNet's Gaussian radius, "bug version" (each root divided by 2 instead of 2a).

    Three cases for a corner-shifted box to keep IoU >= ``min_overlap``; the radius is the
    smallest root. Computed in float32 like the original (``torch.Tensor`` of the sizes).
    """
    w = torch.as_tensor(w, dtype=torch.float32)
    h = torch.as_tensor(h, dtype=torch.float32)
    m = min_overlap
    # case 1: a = 1, b = h + w, c = w h (1 - m) / (1 + m)
    b1 = h + w
    c1 = w * h * (1 - m) / (1 + m)
    r1 = (b1 + torch.sqrt(b1 ** 2 - 4 * c1)) / 2
    # case 2: a = 4, b = 2 (h + w), c = (1 - m) w h
    b2 = 2 * (h + w)
    c2 = (1 - m) * w * h
    r2 = (b2 + torch.sqrt(b2 ** 2 - 16 * c2)) / 2
    # case 3: a = 4 m, b = -2 m (h + w), c = (m - 1) w h
    a3 = 4 * m
    b3 = -2 * m * (h + w)
    c3 = (m - 1) * w * h
    r3 = (b3 + torch.sqrt(b3 ** 2 - 4 * a3 * c3)) / 2
    return torch.minimum(torch.minimum(r1, r2), r3)


def _gaussian_patch(radius: int) -> np.ndarray:
    """(2r+1)^2 Gaussian with sigma = (2r+1)/6 and peak 1 (float64, tiny values zeroed)."""
    sigma = (2 * radius + 1) / 6
    offs = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-(offs[None, :] ** 2 + offs[:, None] ** 2) / (2 * sigma * sigma))
    g[g < np.finfo(g.dtype).eps * g.max()] = 0
    return g


def gaussian_heatmap(boxes: torch.Tensor, feat_sz: int, min_overlap: float = 0.7) -> torch.Tensor:
    """CenterNet GT heatmap (B, feat_sz, feat_sz) float32 for normalised x, y, w, h ``boxes`` (B, 4).

    The box is scaled by ``feat_sz``; the centre cell is ``round(x + w/2), round(y + h/2)``
    (torch round: half to even); the radius is ``int(max(0, gaussian_radius(w, h)))``; a Gaussian
    with sigma (2r+1)/6 and peak 1 is pasted with ``max``, clipped to the map (a centre outside
    the map leaves only the part of the Gaussian that falls inside).
    """
    boxes = torch.as_tensor(boxes).detach().float().cpu().reshape(-1, 4)
    feat_sz = int(feat_sz)
    heat = torch.zeros(boxes.shape[0], feat_sz, feat_sz, dtype=torch.float32)
    scaled = boxes * feat_sz
    wh = scaled[:, 2:]
    centres = (scaled[:, :2] + wh / 2).round()
    radii = gaussian_radius(wh[:, 0], wh[:, 1], min_overlap).clamp_min(0).to(torch.int32)
    for b in range(boxes.shape[0]):
        if not torch.isfinite(centres[b]).all():
            continue
        cx, cy, r = int(centres[b, 0]), int(centres[b, 1]), int(radii[b])
        x0, x1 = max(cx - r, 0), min(cx + r + 1, feat_sz)
        y0, y1 = max(cy - r, 0), min(cy + r + 1, feat_sz)
        if x0 >= x1 or y0 >= y1:
            continue
        g = torch.from_numpy(_gaussian_patch(r)).float()
        patch = g[y0 - (cy - r):y1 - (cy - r), x0 - (cx - r):x1 - (cx - r)]
        heat[b, y0:y1, x0:x1] = torch.maximum(heat[b, y0:y1, x0:x1], patch)
    return heat


# --------------------------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------------------------
def focal_loss(pred: torch.Tensor, target: torch.Tensor, alpha: float = 2.0, beta: float = 4.0) -> torch.Tensor:
    """CenterNet focal loss, summed over all pixels and divided by the number of positives
    (pixels where ``target == 1``); with no positive, minus the negative sum.

    A float16 ``pred`` (AMP) is treated as autocast treats it in the original: ``1 - pred`` is
    rounded to float16, the logs and powers are taken in float32."""
    pos = target.eq(1).float()
    neg = target.lt(1).float()
    pred = pred.clamp(min=1e-12)
    one_minus_pred = (1 - pred).float()
    pred = pred.float()
    pos_loss = (torch.log(pred) * torch.pow(one_minus_pred, alpha) * pos).sum()
    neg_loss = (torch.log(one_minus_pred) * torch.pow(pred, alpha) * torch.pow(1 - target, beta) * neg).sum()
    num_pos = pos.sum()
    if num_pos == 0:
        return -neg_loss
    return -(pos_loss + neg_loss) / num_pos


def _boxes_ok(boxes: torch.Tensor) -> bool:
    return bool((boxes[:, 2:] >= boxes[:, :2]).all())


def giou_loss(pred_xyxy: torch.Tensor, gt_xyxy: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(mean(1 - GIoU), mean IoU)`` of matched (N, 4) xyxy boxes.

    Degenerate boxes (x2 < x1 or y2 < y1, NaN) give ``(0, 0)`` like the original's bare
    ``except`` around its assertion; the zeros live on the input's device.
    """
    if not (_boxes_ok(pred_xyxy) and _boxes_ok(gt_xyxy)):
        zero = pred_xyxy.new_zeros(())
        return zero, zero.detach()
    loss = generalized_box_iou_loss(pred_xyxy, gt_xyxy, reduction="mean")
    with torch.no_grad():
        lt = torch.maximum(pred_xyxy[:, :2], gt_xyxy[:, :2])
        rb = torch.minimum(pred_xyxy[:, 2:], gt_xyxy[:, 2:])
        inter = (rb - lt).clamp(min=0).prod(dim=1)
        area_p = (pred_xyxy[:, 2:] - pred_xyxy[:, :2]).prod(dim=1)
        area_g = (gt_xyxy[:, 2:] - gt_xyxy[:, :2]).prod(dim=1)
        iou = (inter / (area_p + area_g - inter)).mean()
    return loss, iou


def compute_losses(pred: Dict[str, torch.Tensor], gt_boxes: torch.Tensor, giou_weight: float = 2.0,
                   l1_weight: float = 5.0, focal_weight: float = 1.0,
                   feat_sz: int = None) -> Tuple[torch.Tensor, Dict[str, float]]:
    """Total loss and a dict of logged values.

    ``pred``: the network output (``pred_boxes`` (B, 1, 4) cx, cy, w, h; ``score_map`` (B, 1, F, F)).
    ``gt_boxes``: (B, 4) normalised x, y, w, h of the target in the search crop.
    ``feat_sz``: heatmap size; default the score map's size.
    """
    pred_boxes = pred["pred_boxes"].float()
    score_map = pred["score_map"]      # float16 under AMP: focal_loss rounds as the original does
    if torch.isnan(pred_boxes).any():
        raise ValueError("the network output (pred_boxes) contains NaN: stopping training "
                         "(lower TRAIN.LR, or check the data and the pretrained weights)")
    gt_boxes = gt_boxes.to(pred_boxes.device).float().reshape(-1, 4)
    n_query = pred_boxes.shape[1]
    pred_xyxy = box_convert(pred_boxes.reshape(-1, 4), "cxcywh", "xyxy")
    gt_xyxy = box_convert(gt_boxes, "xywh", "xyxy").clamp(0.0, 1.0)
    gt_xyxy = gt_xyxy[:, None, :].expand(-1, n_query, -1).reshape(-1, 4)

    feat_sz = score_map.shape[-1] if feat_sz is None else int(feat_sz)
    if tuple(score_map.shape[-2:]) != (feat_sz, feat_sz):
        raise ValueError(f"score map is {tuple(score_map.shape[-2:])} but the GT heatmap size is {feat_sz} "
                         f"(DATA.SEARCH.SIZE // MODEL.BACKBONE.STRIDE): they must match")
    heat = gaussian_heatmap(gt_boxes, feat_sz).to(score_map.device).unsqueeze(1)

    giou, iou = giou_loss(pred_xyxy, gt_xyxy)
    l1 = torch.nn.functional.l1_loss(pred_xyxy, gt_xyxy)
    focal = focal_loss(score_map, heat)
    total = giou_weight * giou + l1_weight * l1 + focal_weight * focal
    stats = {
        "Loss/total": float(total.detach()),
        "Loss/giou": float(giou.detach()),
        "Loss/l1": float(l1.detach()),
        "Loss/location": float(focal.detach()),
        "IoU": float(iou.detach()),
    }
    return total, stats
