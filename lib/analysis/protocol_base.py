"""What every scoring protocol is made of (see protocols.py for the protocols themselves).

A protocol turns one sequence's result boxes and GT into per-frame values for each curve (centre
error, normalised centre error, IoU); a curve counts the frames that pass each threshold, and a
metric reduces the per-sequence counts to one number. The result-row rules shared by several
protocols (cutting long files, scoring short ones on the frames present, replacing rows) live here.
"""
import warnings
from dataclasses import dataclass

from functools import partial

import numpy as np

from lib.analysis.boxfile import AnalysisError

PRECISION, NORM_PRECISION, SUCCESS = "precision", "norm_precision", "success"


class ResultLengthWarning(UserWarning):
    """A result file has more or fewer rows than the ground truth."""


@dataclass(frozen=True)
class Curve:
    """Fraction of frames whose value passes ``compare(value, threshold)``, for each threshold."""
    key: str
    thresholds: np.ndarray
    compare: np.ufunc

    def counts(self, values):
        """Frames passing each threshold (NaN passes none), by binary search in the sorted values."""
        values = np.sort(values[~np.isnan(values)])
        if self.compare is np.less_equal:
            return np.searchsorted(values, self.thresholds, side="right")
        if self.compare is np.less:
            return np.searchsorted(values, self.thresholds, side="left")
        return len(values) - np.searchsorted(values, self.thresholds, side="right")   # np.greater


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
    result_columns: tuple = (4,)       # accepted values per result row (8: corner rows)
    drop_empty_curves: bool = False    # a sequence whose curve is 0 at every threshold is left out

    def kept(self, counts, frames):
        """The sequences a curve is averaged over: all, or those with a non-zero curve."""
        if not self.drop_empty_curves:
            return counts, frames
        keep = counts.sum(axis=1) > 0
        return counts[keep], frames[keep]


def curve(key, thresholds, compare):
    return Curve(key, np.asarray(thresholds, dtype=np.float64), compare)


def matlab_colon(start, step, stop):
    """The values of MATLAB's ``start:step:stop``: the first half counted up from ``start``, the second
    half counted down from ``stop`` (so 0:0.05:1 holds 1 - 3*0.05, not 17*0.05, as its 18th value)."""
    count = int(round((stop - start) / step))
    k = np.arange(count // 2 + 1)
    values = np.empty(count + 1)
    values[k] = start + k * step
    values[count - k] = stop - k * step
    if count % 2 == 0:
        values[count // 2] = (start + stop) / 2
    return values


# ---- reductions over sequences (each gets counts (S, T) and frames (S,)) -----------------------

def sequence_mean_at(index, counts, frames):
    return float(np.mean(counts[:, index] / frames)) if len(frames) else 0.0


def sequence_mean(counts, frames):
    return float(np.mean(counts / frames[:, None])) if len(frames) else 0.0


def sequence_weighted_metrics(dataset):
    """The sequence-weighted metrics of a dataset: LasHeR PR/NPR/SR, RGBT210 PR/SR, RGBT234 MPR/MSR
    (precision at the 21st threshold, 20 px, or 0.2 normalised; success averaged over the thresholds)."""
    at_20 = partial(sequence_mean_at, 20)
    if dataset in ("lasher_test", "lasher_train"):
        return (Metric("PR", PRECISION, at_20), Metric("NPR", NORM_PRECISION, at_20), Metric("SR", SUCCESS, sequence_mean))
    prefix = "M" if dataset == "rgbt234" else ""
    return Metric(f"{prefix}PR", PRECISION, at_20), Metric(f"{prefix}SR", SUCCESS, sequence_mean)


def frames_at(index, counts, frames):
    return float(counts[:, index].sum() / frames.sum())


def frames_trapezoid(step, counts, frames):
    total = counts.sum(axis=0)
    return float((total[1:].sum() + total[:-1].sum()) * step / 2 / frames.sum())


def frames_area(thresholds, counts, frames):
    """Trapezoidal area under the frame-weighted curve over ``thresholds``."""
    return float(np.trapezoid(counts.sum(axis=0) / frames.sum(), thresholds))


# ---- result rows ------------------------------------------------------------------------------

def replace_rows(boxes, bad):
    """Rows 2..n flagged ``bad`` take the previous row (after its own replacement)."""
    bad = bad.copy()
    bad[0] = False
    source = np.where(bad, 0, np.arange(len(boxes)))
    return boxes[np.maximum.accumulate(source)]


def fit_length(pred, num_frames, label, pad=False):
    """Cut a longer result (warning); a shorter one is an error unless ``pad`` (zero rows, warning)."""
    rows = len(pred)
    if rows > num_frames:
        _warn_extra_rows(label, rows, num_frames)
        return pred[:num_frames].copy()
    if rows < num_frames and not pad:
        raise AnalysisError(f"{label}: {rows} rows, but the ground truth has {num_frames} frames")
    if rows < num_frames:
        warnings.warn(f"{label}: {rows} rows, the ground truth has {num_frames} frames; "
                      "padded with (0,0,0,0) rows that score as misses", ResultLengthWarning, stacklevel=3)
        return np.concatenate([pred, np.zeros((num_frames - rows, pred.shape[1]), pred.dtype)])
    return pred.copy()


def frames_present(pred, num_frames, label):
    """The number of frames the toolkits score: extra rows are cut and a short file is scored on the
    frames it has (both with a warning naming the file and the two counts)."""
    rows = len(pred)
    if rows > num_frames:
        _warn_extra_rows(label, rows, num_frames)
    elif rows < num_frames:
        warnings.warn(f"{label}: {rows} rows, the ground truth has {num_frames} frames; scored on the "
                      f"{rows} frames present", ResultLengthWarning, stacklevel=3)
    return min(rows, num_frames)


def _warn_extra_rows(label, rows, num_frames):
    warnings.warn(f"{label}: {rows} rows, the ground truth has {num_frames} frames; extra rows ignored",
                  ResultLengthWarning, stacklevel=4)


def same_length(gts, label):
    """The common length of a sequence's GT files (visible and infrared must agree)."""
    lengths = {key: len(boxes) for key, boxes in gts.items()}
    if len(set(lengths.values())) > 1:
        raise AnalysisError(f"{label}: ground-truth files differ in length {lengths}")
    return next(iter(lengths.values()))
