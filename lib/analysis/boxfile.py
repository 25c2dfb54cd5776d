"""Reading box files (results and ground truth) for the analysis: one ``x,y,w,h`` row per frame."""
from pathlib import Path

from lib.utils.io import BoxFileError, read_boxes


class AnalysisError(Exception):
    """Bad input for the analysis; the message names the file (and row) at fault."""


def read_box_file(path, kind="result", columns=(4,)):
    """The rows of ``path`` as a float64 (N, C) array; AnalysisError naming the file and row otherwise.

    Values may be separated by commas, tabs or spaces; trailing blank lines are ignored. ``columns``:
    the accepted numbers of values per row (4 = x,y,w,h; 8 = the corner rows of the RGBT234/GTOT
    toolkits).
    """
    path = Path(path)
    try:
        boxes = read_boxes(path, ncols=columns)
    except FileNotFoundError:
        raise AnalysisError(f"{path}: {kind} file not found") from None
    except BoxFileError as err:
        raise AnalysisError(str(err)) from None
    except OSError as err:
        raise AnalysisError(f"{path}: cannot read {kind} file ({err.strerror})") from None
    if len(boxes) == 0:
        raise AnalysisError(f"{path}: empty {kind} file")
    return boxes
