"""Result files in the RGBT234 MATLAB toolkit's default format, to hand our results to the toolkit as it is.

The toolkit reads 8 values per row, the corners ``x1 y1 x2 y2 x3 y3 x4 y4`` of one box (top-left,
top-right, bottom-right, bottom-left), takes ``round(x1, y1, x2 - x1, y3 - y1)`` as the box and
scores it against both visible.txt and infrared.txt (docs/evaluation.md#rgbt234). So a row is
``x y x+w y x+w y+h x y+h``; the toolkit's rounding is its own (scoring our unrounded x,y,w,h files
with ``--protocol toolkit`` gives what the toolkit gives for 4-value rows).
"""
from pathlib import Path

import numpy as np

from lib.analysis.boxfile import read_box_file
from lib.utils.io import atomic_write

TOOLKIT_SUFFIX = "_toolkit"       # <results>/rgbt234 -> <results>/rgbt234_toolkit


def corner_rows(boxes):
    """(N, 4) x, y, w, h -> (N, 8) corner rows as the toolkit reads them."""
    x, y, w, h = np.asarray(boxes, dtype=np.float64).T
    return np.stack([x, y, x + w, y, x + w, y + h, x, y + h], axis=1)


def write_toolkit_results(results_dir, seq_names):
    """Write ``<results_dir>_toolkit/<seq>.txt`` (8 space-separated values per row) for every sequence
    of ``seq_names`` that has a result file; returns the folder."""
    results_dir = Path(results_dir)
    out_dir = results_dir.with_name(results_dir.name + TOOLKIT_SUFFIX)
    for name in seq_names:
        source = results_dir / f"{name}.txt"
        if source.is_file():
            rows = corner_rows(read_box_file(source))
            atomic_write(out_dir / f"{name}.txt", "".join(" ".join(f"{v:.4f}" for v in row) + "\n" for row in rows))
    return out_dir
