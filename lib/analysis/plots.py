"""Figures as in papers: success / precision / normalised-precision curves and an attribute radar chart."""
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from lib.analysis.protocols import NORM_PRECISION, PRECISION, SUCCESS  # noqa: E402
from lib.analysis.scores import mean_curve, summarize  # noqa: E402
from lib.utils.io import atomic_write  # noqa: E402

_LINE_STYLES = ("-", "--", ":", "-.")
_LEGEND_INSIDE_MAX = 8        # more trackers than this: the legend goes beside the axes
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


def line_style(rank):
    """Colour and dash of the ``rank``-th line: ten distinct colours, then the same with another dash."""
    return {"color": plt.get_cmap("tab10")(rank % 10), "linestyle": _LINE_STYLES[(rank // 10) % len(_LINE_STYLES)]}


def plot_curves(protocol, tracker_scores, out_dir):
    """One PNG per curve of the protocol, trackers ranked by the curve's metric (legend sorted by
    score, with the score in it, as papers draw them); returns the paths."""
    paths = []
    outside = len(tracker_scores) > _LEGEND_INSIDE_MAX
    for curve in protocol.curves:
        metric = next(m for m in protocol.metrics if m.curve == curve.key)
        ranked = sorted(((summarize(protocol, s)[metric.name], s) for s in tracker_scores),
                        key=lambda item: -item[0])
        title, x_label, y_label, legend_place = _CURVE_STYLE[curve.key]
        fig, ax = plt.subplots(figsize=(8.5 if outside else 6, 5))
        for rank, (score, scores) in enumerate(ranked):
            ax.plot(curve.thresholds, mean_curve(protocol, scores, curve.key) / 100.0, linewidth=2,
                    label=f"[{score:.1f}] {scores.name}", **line_style(rank))
        ax.set(title=f"{title} of OPE on {_DATASET_TITLES[protocol.dataset]} ({protocol.name})",
               xlabel=x_label, ylabel=y_label, xlim=(curve.thresholds[0], curve.thresholds[-1]), ylim=(0, 1))
        ax.grid(alpha=0.3)
        if outside:
            ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, title=metric.name)
        else:
            ax.legend(loc=legend_place, fontsize=8, title=metric.name)
        path = out_dir / f"{protocol.dataset}_{protocol.name}_{curve.key}.png"
        save_figure(fig, path)
        paths.append(path)
    return paths


def plot_radar(attribute_scores, metric, path, title):
    """Radar chart of ``metric`` per attribute; ``attribute_scores``: {tracker: {attribute: metrics}}.
    Trackers are ranked by their mean over the attributes (shown in the legend)."""
    attributes = list(next(iter(attribute_scores.values())))
    angles = np.linspace(0, 2 * np.pi, len(attributes), endpoint=False)
    closed = np.append(angles, angles[0])
    values = {t: [by_attribute[a][metric] for a in attributes] for t, by_attribute in attribute_scores.items()}
    ranked = sorted(values, key=lambda t: -np.mean(values[t]))
    fig, ax = plt.subplots(figsize=(7, 7), subplot_kw={"polar": True})
    for rank, tracker in enumerate(ranked):
        style = line_style(rank)
        ax.plot(closed, values[tracker] + values[tracker][:1], linewidth=2,
                label=f"[{np.mean(values[tracker]):.1f}] {tracker}", **style)
        if len(ranked) <= _LEGEND_INSIDE_MAX:
            ax.fill(closed, values[tracker] + values[tracker][:1], alpha=0.08, color=style["color"])
    best = {a: max(v[i] for v in values.values()) for i, a in enumerate(attributes)}
    ax.set_xticks(angles)
    ax.set_xticklabels([f"{a}\n({best[a]:.1f})" for a in attributes])
    ax.set_title(title, pad=20)
    ax.legend(loc="upper left", bbox_to_anchor=(1.1, 1.1), fontsize=8, title=f"mean {metric}")
    save_figure(fig, path)
    return path
