"""Figures as in papers: success / precision / normalised-precision curves and an attribute radar chart."""
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from lib.analysis.protocols import NORM_PRECISION, PRECISION, SUCCESS  # noqa: E402
from lib.analysis.scores import mean_curve, summarize  # noqa: E402
from lib.utils.io import atomic_write  # noqa: E402

_DATASET_TITLES = {"lasher_test": "LasHeR", "lasher_train": "LasHeR training set", "rgbt234": "RGBT234",
                   "rgbt210": "RGBT210", "gtot": "GTOT"}
_CURVE_STYLE = {  # key -> (title, x label, y label, legend place)
    SUCCESS: ("Success plots", "Overlap threshold", "Success rate", "lower left"),
    PRECISION: ("Precision plots", "Location error threshold (pixels)", "Precision", "lower right"),
    NORM_PRECISION: ("Normalized precision plots", "Normalized location error threshold",
                     "Normalized precision", "lower right"),
}


def save_figure(fig, path):
    """Write ``fig`` as PNG atomically and close it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=150, bbox_inches="tight")
    plt.close(fig)
    atomic_write(path, buffer.getvalue())


def plot_curves(protocol, tracker_scores, out_dir):
    """One PNG per curve of the protocol, trackers ranked by the curve's metric; returns the paths."""
    paths = []
    for curve in protocol.curves:
        metric = next(m for m in protocol.metrics if m.curve == curve.key)
        ranked = sorted(((summarize(protocol, s)[metric.name], s) for s in tracker_scores),
                        key=lambda item: -item[0])
        title, x_label, y_label, legend_place = _CURVE_STYLE[curve.key]
        fig, ax = plt.subplots(figsize=(6, 5))
        for score, scores in ranked:
            ax.plot(curve.thresholds, mean_curve(protocol, scores, curve.key) / 100.0, linewidth=2,
                    label=f"[{score:.2f}] {scores.name}")
        ax.set(title=f"{title} of OPE on {_DATASET_TITLES[protocol.dataset]} ({protocol.name})",
               xlabel=x_label, ylabel=y_label, xlim=(curve.thresholds[0], curve.thresholds[-1]), ylim=(0, 1))
        ax.grid(alpha=0.3)
        ax.legend(loc=legend_place, fontsize=8, title=metric.name)
        path = out_dir / f"{protocol.dataset}_{protocol.name}_{curve.key}.png"
        save_figure(fig, path)
        paths.append(path)
    return paths


def plot_radar(attribute_scores, metric, path, title):
    """Radar chart of ``metric`` per attribute; ``attribute_scores``: {tracker: {attribute: metrics}}."""
    attributes = list(next(iter(attribute_scores.values())))
    angles = np.linspace(0, 2 * np.pi, len(attributes), endpoint=False)
    closed = np.append(angles, angles[0])
    fig, ax = plt.subplots(figsize=(7, 7), subplot_kw={"polar": True})
    for tracker, by_attribute in attribute_scores.items():
        values = [by_attribute[a][metric] for a in attributes]
        ax.plot(closed, values + values[:1], linewidth=2, label=tracker)
        ax.fill(closed, values + values[:1], alpha=0.08)
    best = {a: max(by_attribute[a][metric] for by_attribute in attribute_scores.values()) for a in attributes}
    ax.set_xticks(angles)
    ax.set_xticklabels([f"{a}\n({best[a]:.1f})" for a in attributes])
    ax.set_title(title, pad=20)
    ax.legend(loc="upper right", bbox_to_anchor=(1.3, 1.1), fontsize=8)
    save_figure(fig, path)
    return path
