"""The pytracking/OSTrack analysis the original code ships (docs/evaluation.md#pytracking-protocol): float64, unrounded results,
a GT frame counts when its w and h are > 0, sequences weigh the same."""
from functools import partial

import numpy as np

from lib.analysis.boxfile import AnalysisError
from lib.analysis.protocol_base import (NORM_PRECISION, PRECISION, SUCCESS, Metric, Protocol, curve,
                                        fit_length, replace_rows, sequence_mean, sequence_mean_at)


def _check_no_negative_sizes(pred, label):
    negative = (pred[:, 2:] < 0).any(axis=1)
    if negative.any():
        row = np.flatnonzero(negative)[0]
        raise AnalysisError(f"{label}, row {row + 1}: negative width or height {pred[row].tolist()} "
                            "(not allowed under the pytracking protocol)")


def _centres(boxes):
    return boxes[:, :2] + 0.5 * (boxes[:, 2:] - 1.0)


def _iou_inclusive(pred, gt):
    top_left = np.maximum(pred[:, :2], gt[:, :2])
    bottom_right = np.minimum(pred[:, :2] + pred[:, 2:] - 1.0, gt[:, :2] + gt[:, 2:] - 1.0)
    inter = np.clip(bottom_right - top_left + 1.0, 0, None).prod(axis=1)
    return inter / (pred[:, 2:].prod(axis=1) + gt[:, 2:].prod(axis=1) - inter)


def pytracking_frame_values(pred, gts, label, pad_short=False):
    """Per-frame centre error, normalised centre error and IoU as the seed's analysis computes them."""
    gt = gts["init"]
    _check_no_negative_sizes(pred, label)
    pred = replace_rows(pred, (pred[:, 2:] == 0).any(axis=1))
    pred = fit_length(pred, len(gt), label, pad=pad_short)
    pred[0] = gt[0]
    valid = (gt[:, 2:] > 0).all(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        pred_centre, gt_centre = _centres(pred), _centres(gt)
        error = np.sqrt(((pred_centre - gt_centre) ** 2).sum(axis=1))
        norm_offset = pred_centre / gt[:, 2:] - gt_centre / gt[:, 2:]
        norm_error = np.sqrt((norm_offset ** 2).sum(axis=1))
        iou = _iou_inclusive(pred, gt)
    error[~valid] = np.inf
    norm_error[~valid] = -1.0
    iou[~valid] = -1.0
    return {PRECISION: error, NORM_PRECISION: norm_error, SUCCESS: iou}


def pytracking_protocol(dataset, pad_short=False):
    curves = (curve(PRECISION, np.arange(51), np.less_equal),
              curve(NORM_PRECISION, np.arange(51) / 100.0, np.less_equal),
              curve(SUCCESS, np.arange(21) * 0.05, np.greater))
    metrics = (Metric("PR", PRECISION, partial(sequence_mean_at, 20)),
               Metric("NPR", NORM_PRECISION, partial(sequence_mean_at, 20)),
               Metric("SR", SUCCESS, sequence_mean))
    values = partial(pytracking_frame_values, pad_short=pad_short)
    return Protocol("pytracking", dataset, ("init",), curves, metrics, values)
