"""Scoring result folders under a protocol: per-sequence curve counts, then metrics in percent."""
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lib.analysis.boxfile import AnalysisError, read_box_file
from lib.analysis.resultfolder import locate_results


@dataclass
class TrackerScores:
    name: str
    counts: dict            # curve key -> (num sequences, num thresholds) frame counts
    frames: np.ndarray      # (num sequences,) frames scored per sequence
    corner_rows: int = 0    # result files read as 8-value corner rows


def load_ground_truth(benchmark, protocol):
    """Per sequence, a dict {GT key: boxes} with the keys the protocol needs."""
    per_key = {key: benchmark.load(key) for key in protocol.gt_keys}
    return [{key: per_key[key][i] for key in protocol.gt_keys} for i in range(len(benchmark.names))]


def find_tracker_results(protocol, name, results_dir, seq_names, prefix=None, suffix=None):
    """The ResultFolder of ``results_dir`` (files ``<prefix><seq><suffix>.txt``, detected unless given)."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise AnalysisError(f"{results_dir}: results folder of tracker '{name}' not found (test.py writes "
                            f"<save_dir>/test/tracking_results/...: pass the --save_dir you gave test.py, "
                            f"or --results_dir DIR)")
    nested = results_dir / protocol.dataset
    if nested.is_dir() and not any((results_dir / f"{seq}.txt").is_file() for seq in seq_names):
        raise AnalysisError(f"{results_dir}: no result files of tracker '{name}' here, but a "
                            f"{protocol.dataset}/ folder: pass {nested}")
    return locate_results(results_dir, seq_names, protocol.dataset, prefix, suffix)


def score_tracker(protocol, name, results_dir, seq_names, gts, prefix=None, suffix=None):
    """Score the result file of every sequence in ``results_dir``."""
    return score_folder(protocol, name, find_tracker_results(protocol, name, results_dir, seq_names, prefix, suffix),
                        gts)


def score_folder(protocol, name, folder, gts):
    """Score the files of a ResultFolder (one per sequence, in benchmark order)."""
    preds = [read_box_file(path, columns=protocol.result_columns) for path in folder.files]
    scores = score_boxes(protocol, name, preds, gts, map(str, folder.files))
    scores.corner_rows = sum(pred.shape[1] == 8 for pred in preds)
    return scores


def score_boxes(protocol, name, preds, gts, labels):
    """Count frames per curve threshold for each sequence; ``labels`` name the results in messages."""
    counts = {curve.key: [] for curve in protocol.curves}
    frames = []
    for pred, gt, label in zip(preds, gts, labels):
        values = protocol.frame_values(pred, gt, label)
        for curve in protocol.curves:
            counts[curve.key].append(curve.counts(values[curve.key]))
        frames.append(len(values[curve.key]))
    return TrackerScores(name, {key: np.array(c, dtype=np.int64) for key, c in counts.items()},
                         np.array(frames, dtype=np.int64))


def summarize(protocol, scores, rows=None):
    """Metrics in percent over all sequences, or over the sequences selected by ``rows`` (bool mask)."""
    rows = slice(None) if rows is None else rows
    return {metric.name: 100.0 * metric.reduce(*protocol.kept(scores.counts[metric.curve][rows], scores.frames[rows]))
            for metric in protocol.metrics}


def mean_curve(protocol, scores, key):
    """The plotted curve in percent: mean over sequences (frame-weighted where the protocol is)."""
    counts, frames = protocol.kept(scores.counts[key], scores.frames)
    if protocol.frame_weighted:
        return 100.0 * counts.sum(axis=0) / frames.sum()
    if len(frames) == 0:
        return np.zeros(counts.shape[1])
    return 100.0 * np.mean(counts / frames[:, None], axis=0)


def attribute_summary(protocol, scores, table):
    """{attribute: metrics} over the sequences flagged with each attribute (attributes with none skipped)."""
    return {name: summarize(protocol, scores, table.flags[:, j])
            for j, name in enumerate(table.names) if table.flags[:, j].any()}
