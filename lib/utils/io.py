"""Small, dependable file helpers: atomic writes, image reading, box-file parsing.

* ``atomic_write(path, data)``: ``data`` is ``str`` (UTF-8), ``bytes`` or a callable ``fn(fileobj)``
  that writes into a binary file object. The data goes to a temporary file in the destination
  folder, is flushed and fsync'ed, then moved over ``path`` with ``os.replace``. If anything
  raises, the temporary file is removed and ``path`` is untouched (old content or absent).
* ``read_image(path)`` -> ``H x W x 3`` uint8 RGB (grey images are expanded to 3 channels);
  ``list_frames(folder)``: a folder's image files in numeric order.
* ``read_boxes(path)`` -> float64 ``(N, 4)`` (or another accepted column count) from rows of numbers
  separated by commas, tabs or spaces (any mix), with errors that name the file and the 1-based row.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Callable, List, Union

import cv2
import numpy as np

__all__ = [
    "atomic_write",
    "read_image",
    "list_frames",
    "natural_key",
    "IMAGE_EXTENSIONS",
    "read_boxes",
    "ImageReadError",
    "ImageNotFoundError",
    "BoxFileError",
]

PathLike = Union[str, os.PathLike]


class ImageReadError(OSError):
    """An image file exists but cannot be decoded (or cannot be read)."""


class ImageNotFoundError(ImageReadError, FileNotFoundError):
    """An image file does not exist. Also a ``FileNotFoundError``."""


class BoxFileError(ValueError):
    """A box/ground-truth file cannot be parsed."""


# --------------------------------------------------------------------------------------------
# Atomic writes
# --------------------------------------------------------------------------------------------
def _fsync_dir(folder: Path) -> None:
    """Make the rename durable (best effort: not every platform lets you open a folder)."""
    try:
        fd = os.open(str(folder), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: PathLike, data: Union[str, bytes, bytearray, memoryview, Callable]) -> Path:
    """Write ``data`` to ``path`` atomically; return the path.

    ``data``: ``str`` (written as UTF-8, newlines untouched), bytes-like, or a callable taking a
    binary file object (for streaming writers such as ``torch.save``). Parent folders are
    created. On any exception the destination is left as it was and no temporary file remains.
    """
    path = Path(path)
    if isinstance(data, str):
        payload = data.encode("utf-8")
    elif isinstance(data, (bytes, bytearray, memoryview)):
        payload = bytes(data)
    elif callable(data):
        payload = None
    else:
        raise TypeError(
            f"atomic_write({str(path)!r}): data must be str, bytes or a callable(fileobj), "
            f"got {type(data).__name__}"
        )
    folder = path.parent if str(path.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=str(folder), prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            if payload is None:
                data(f)
            else:
                f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp creates 0600 files; give the result the usual permissions (umask applied).
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(folder)
    return path


# --------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})


_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple:
    """Sort key comparing digit runs as integers: ``v9.jpg < v10.jpg``, ``00012i.jpg < 00100i.jpg``.

    The key alternates text and integer parts (text first, as ``re.split`` always starts with a
    possibly empty text part), so keys of any two names compare without type errors. The full
    name is the final tie-breaker (``v01`` vs ``v1``).
    """
    parts = _DIGITS.split(name)
    key = []
    for k, p in enumerate(parts):
        key.append(int(p) if k % 2 else p.lower())
    return (tuple(key), name)


def list_frames(folder: Union[str, os.PathLike]) -> List[Path]:
    """Image files of ``folder`` (hidden files and non-images such as Thumbs.db skipped),
    sorted numerically by the integers in their names. One ``os.scandir`` call."""
    folder = Path(folder)
    names = []
    with os.scandir(folder) as it:
        for e in it:
            if e.name.startswith("."):
                continue
            if os.path.splitext(e.name)[1].lower() not in IMAGE_EXTENSIONS:
                continue
            if not e.is_file():
                continue
            names.append(e.name)
    names.sort(key=natural_key)
    return [folder / n for n in names]


def read_image(path: PathLike) -> np.ndarray:
    """Read an image file as ``H x W x 3`` uint8 RGB.

    Raises ``ImageNotFoundError`` (a ``FileNotFoundError``) when the file is missing and
    ``ImageReadError`` (an ``OSError``) when it cannot be decoded; both name the file.
    Reads the bytes with Python and decodes with OpenCV, so any path (spaces, quotes,
    non-ASCII) works.
    """
    path = Path(path)
    try:
        buf = np.fromfile(str(path), dtype=np.uint8)
    except FileNotFoundError:
        raise ImageNotFoundError(f"image file not found: {path}") from None
    except IsADirectoryError:
        raise ImageReadError(f"cannot read image {path}: it is a directory") from None
    except OSError as e:
        raise ImageReadError(f"cannot read image file {path}: {e}") from e
    if buf.size == 0:
        raise ImageReadError(f"cannot decode image file {path}: the file is empty")
    im = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if im is None:
        raise ImageReadError(f"cannot decode image file {path} ({buf.size} bytes): damaged or not an image")
    if im.ndim == 2:  # defensive: IMREAD_COLOR always gives 3 channels
        im = np.repeat(im[:, :, None], 3, axis=2)
    return np.ascontiguousarray(im[:, :, ::-1])  # BGR -> RGB


# --------------------------------------------------------------------------------------------
# Box files
# --------------------------------------------------------------------------------------------
_TO_SPACES = str.maketrans(",\t;", "   ")
_EMPTY_FIELD = re.compile(r"^\s*[,;]|[,;]\s*[,;]|[,;]\s*$")
_NO_BLANKS = str.maketrans("", "", " \t")


def read_boxes(path: PathLike, ncols: Union[int, tuple] = 4, allow_nan: bool = False) -> np.ndarray:
    """Parse a box file into a float64 ``(N, C)`` array.

    Rows hold numbers (integers or floats in any notation) separated by commas, tabs and/or spaces
    (LasHeR/RGBT234 use ``x,y,w,h``, GTOT spaces, some files tabs; CRLF line endings and a UTF-8 BOM
    are fine). ``ncols``: the number of values per row, or a tuple of accepted numbers (every row
    must then have as many as the first). Blank lines at the end are ignored; a blank line between
    rows is an error (it would shift every later frame). Errors name the file and the 1-based row.
    ``NaN``/``inf`` are errors unless ``allow_nan``. An empty file gives a ``(0, C)`` array.
    """
    path = Path(path)
    accepted = (ncols,) if isinstance(ncols, int) else tuple(ncols)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise FileNotFoundError(f"box file not found: {path}") from None
    except UnicodeDecodeError as e:
        raise BoxFileError(f"{path}: not a text file ({e})") from None
    text = text.replace("\r\n", "\n").replace("\r", "\n").rstrip()
    if not text:
        return np.empty((0, accepted[0]), dtype=np.float64)
    boxes = _parse_rows(text, accepted)
    if boxes is None:
        raise BoxFileError(_first_bad_row(text.split("\n"), accepted, path))
    if not allow_nan:
        bad = ~np.isfinite(boxes)
        if bad.any():
            row = int(np.flatnonzero(bad.any(axis=1))[0])
            what = "NaN" if np.isnan(boxes[row]).any() else "infinite value"
            line = text.split("\n")[row].strip()
            raise BoxFileError(f"{path}, row {row + 1}: {what} in {line!r}")
    return boxes


def _parse_rows(text, accepted):
    """All rows at once (fast), or None when any row is malformed or the column counts differ."""
    if _blank_line_or_empty_field(text):
        return None
    lines = text.translate(_TO_SPACES).split("\n")
    ncols = len(lines[0].split())
    if ncols not in accepted:
        return None
    try:
        boxes = np.loadtxt(lines, dtype=np.float64, comments=None, ndmin=2)
    except ValueError:
        return None
    return boxes if boxes.shape == (len(lines), ncols) else None


def _blank_line_or_empty_field(text):
    """True when a line is blank or a row has an empty value: with spaces and tabs removed, two of
    ',', ';' and newline side by side (or one at the start or end), checked over the bytes at once."""
    packed = np.frombuffer(("\n" + text.translate(_NO_BLANKS) + "\n").encode("utf-8"), dtype=np.uint8)
    boundary = (packed == ord("\n")) | (packed == ord(",")) | (packed == ord(";"))
    return bool((boundary[:-1] & boundary[1:]).any())


def _first_bad_row(lines, accepted, path):
    """The error message for the first malformed row."""
    first_count = None
    for row, line in enumerate(lines, start=1):
        if not line.strip():
            return f"{path}, row {row}: blank line (one row per frame expected)"
        if _EMPTY_FIELD.search(line):
            return f"{path}, row {row}: empty value between separators in {line.strip()!r}"
        fields = line.translate(_TO_SPACES).split()
        first_count = first_count or len(fields)
        if len(fields) == 8 and 8 not in accepted:
            return (f"{path}, row {row}: 8 values, looks like corner format (x1,y1,...,x4,y4); "
                    "convert the file to x,y,w,h rows")
        if len(fields) not in accepted:
            expected = " or ".join(str(n) for n in accepted)
            return f"{path}, row {row}: {len(fields)} values, expected {expected}: {line.strip()!r}"
        if len(fields) != first_count:
            return f"{path}, row {row}: {len(fields)} values, but row 1 has {first_count}: {line.strip()!r}"
        for value in fields:
            try:
                float(value)
            except ValueError:
                return f"{path}, row {row}: {value!r} is not a number"
    return f"{path}: cannot read the rows as numbers"


def file_sha256(path: Union[str, os.PathLike], chunk: int = 1 << 22) -> str:
    """Hex SHA-256 of a file's bytes (read in 4 MiB blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()
