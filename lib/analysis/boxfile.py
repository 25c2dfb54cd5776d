"""Reading and validating box files (results and ground truth): one ``x,y,w,h`` row per frame."""
import io
import re
from pathlib import Path

import numpy as np


class AnalysisError(Exception):
    """Bad input for the analysis; the message names the file (and row) at fault."""


_TO_SPACES = str.maketrans(",\t", "  ")
_NO_BLANKS = str.maketrans("", "", " \t\r")


def read_box_file(path, kind="result"):
    """Return the rows of ``path`` as a float64 (N, 4) array.

    Values may be separated by commas, tabs or spaces; trailing blank lines are ignored.
    Raises AnalysisError naming the file and row for anything else.
    """
    path = Path(path)
    text = _read_text(path, kind).rstrip()
    if not text:
        raise AnalysisError(f"{path}: empty {kind} file")
    boxes = _parse(text)
    if boxes is None:
        raise AnalysisError(_diagnose(text, path))
    _check_finite(boxes, path)
    return boxes


def _parse(text):
    """Fast path: the (N, 4) array, or None when any row is malformed."""
    packed = "\n" + text.translate(_NO_BLANKS) + "\n"
    if ",," in packed or "\n," in packed or ",\n" in packed or "\n\n" in packed:
        return None
    try:
        boxes = np.loadtxt(io.StringIO(text.translate(_TO_SPACES)), dtype=np.float64, comments=None, ndmin=2)
    except ValueError:
        return None
    return boxes if boxes.shape == (packed.count("\n") - 1, 4) else None


def _diagnose(text, path):
    """The message for the first malformed row."""
    for row, line in enumerate(text.splitlines(), start=1):
        if re.search(r"^\s*,|,\s*,|,\s*$", line):
            return f"{path}, row {row}: empty value between separators"
        values = line.translate(_TO_SPACES).split()
        if len(values) == 0:
            return f"{path}, row {row}: blank line (one x,y,w,h row per frame expected)"
        if len(values) == 8:
            return (f"{path}, row {row}: 8 values, looks like corner format (x1,y1,...,x4,y4); "
                    "convert the file to x,y,w,h rows")
        if len(values) != 4:
            return f"{path}, row {row}: {len(values)} values, expected 4 (x,y,w,h)"
        for value in values:
            try:
                float(value)
            except ValueError:
                return f"{path}, row {row}: {value!r} is not a number"
    return f"{path}: cannot read the rows as numbers"


def _read_text(path, kind):
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AnalysisError(f"{path}: {kind} file not found") from None
    except UnicodeDecodeError:
        raise AnalysisError(f"{path}: not a text file") from None
    except OSError as err:
        raise AnalysisError(f"{path}: cannot read {kind} file ({err.strerror})") from None


def _check_finite(boxes, path):
    bad = ~np.isfinite(boxes)
    if bad.any():
        row = np.flatnonzero(bad.any(axis=1))[0]
        what = "NaN" if np.isnan(boxes[row]).any() else "infinite value"
        raise AnalysisError(f"{path}, row {row + 1}: {what} in {boxes[row].tolist()}")
