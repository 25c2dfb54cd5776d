"""Curve plots with many trackers: legend sorted by score with the score in it, distinct lines."""
import re

import numpy as np

from lib.analysis import plots
from lib.analysis.protocols import get_protocol
from lib.analysis.scores import TrackerScores, summarize


def test_twenty_trackers_get_a_sorted_legend_and_distinct_lines(tmp_path, monkeypatch):
    protocol = get_protocol("toolkit", "rgbt234")
    rng = np.random.default_rng(0)
    trackers = []
    for i in range(20):
        frames = np.full(5, 100)
        counts = {}
        for curve in protocol.curves:          # precision rises with the threshold, success falls
            rising = np.sort(rng.integers(0, 101, (5, len(curve.thresholds))), axis=1)
            counts[curve.key] = rising[:, ::-1] if curve.key == "success" else rising
        trackers.append(TrackerScores(f"tracker{i}", counts, frames))
    figures = []
    monkeypatch.setattr(plots, "save_figure", lambda fig, path: figures.append(fig))
    plots.plot_curves(protocol, trackers, tmp_path)
    assert len(figures) == 2
    for fig, metric in zip(figures, ("MPR", "MSR")):
        labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
        scores = [float(re.match(r"\[(\d+\.\d)\] tracker\d+$", label).group(1)) for label in labels]
        assert len(labels) == 20 and scores == sorted(scores, reverse=True)
        expected = sorted((round(summarize(protocol, t)[metric], 1) for t in trackers), reverse=True)
        assert scores == expected
        lines = fig.axes[0].get_lines()
        assert len({(tuple(line.get_color()), line.get_linestyle()) for line in lines}) == 20
