"""Shared logic of the RGB-T dataset layouts (LasHeR, RGBT234, RGBT210, GTOT).

A dataset subclass only declares where things are (frame folders, GT files, GT format) and, if
its sequence list is not "every sub-folder of root", how to find the sequence names. All the
reading, checking and caching lives here.

Cost model: constructing a dataset reads at most one list file and lists one folder; a
``Sequence`` is created on first access; its frame folders are listed once, on first use,
and cached (also across pickling into DataLoader workers).
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator, List, Optional, Sequence as Seq, Tuple, Union

import numpy as np

from lib.utils.boxes import xyxy_to_xywh
from lib.utils.io import BoxFileError, ImageReadError, list_frames, natural_key, read_boxes, read_image

__all__ = [
    "DatasetError",
    "DatasetNotFoundError",
    "natural_key",
    "list_frames",
    "Sequence",
    "RGBTDataset",
]



class DatasetError(ValueError):
    """A dataset or sequence is malformed. The message names the sequence and file at fault."""


class DatasetNotFoundError(DatasetError, FileNotFoundError):
    """A dataset folder, sequence folder or required file does not exist."""


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------
def _find_child(folder: Path, candidates: Seq[str], want_dir: bool) -> Optional[Path]:
    """First of ``candidates`` that exists in ``folder`` (exact name first, then ignoring case)."""
    for c in candidates:
        p = folder / c
        if (p.is_dir() if want_dir else p.is_file()):
            return p
    try:
        entries = {e.name.lower(): e for e in os.scandir(folder)}
    except OSError:
        return None
    for c in candidates:
        e = entries.get(c.lower())
        if e is not None and (e.is_dir() if want_dir else e.is_file()):
            return folder / e.name
    return None


_POOL: Optional[ThreadPoolExecutor] = None
_POOL_PID: Optional[int] = None
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    """A small per-process thread pool (recreated after fork: DataLoader workers, runners)."""
    global _POOL, _POOL_PID
    pid = os.getpid()
    if _POOL is None or _POOL_PID != pid:
        with _POOL_LOCK:
            if _POOL is None or _POOL_PID != pid:
                _POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="rgbt-read")
                _POOL_PID = pid
    return _POOL


# --------------------------------------------------------------------------------------------
# Sequence
# --------------------------------------------------------------------------------------------
class Sequence:
    """One RGB-T sequence. Everything is loaded lazily and cached.

    Attributes: ``name``, ``path``, ``dataset`` (dataset id such as ``lasher_test``),
    ``rgb_frames`` / ``tir_frames`` (list[Path], numerically sorted, equal length),
    ``num_frames``, ``ground_truth`` (float64 (N, 4) x, y, w, h: the GT the tracker
    initialises from and the evaluation uses), ``init_box``, ``valid`` (w > 0 & h > 0),
    ``gt_rgb`` / ``gt_tir`` (per-modality GT or None), ``absence`` / ``cover`` (per-frame
    labels or None).
    """

    def __init__(self, name: str, path: Path, layout: type, dataset: str):
        self.name = name
        self.path = Path(path)
        self.dataset = dataset
        self._layout = layout  # the dataset class: declares folder names and GT files
        self._rgb: Optional[List[Path]] = None
        self._tir: Optional[List[Path]] = None
        self._gt: Optional[np.ndarray] = None
        self._modal: dict = {}
        self._labels: dict = {}

    def __repr__(self) -> str:
        return f"Sequence({self.name!r}, dataset={self.dataset!r}, path={str(self.path)!r})"

    def __len__(self) -> int:
        return self.num_frames

    # ---------------- frames ----------------
    def _frame_dir(self, candidates: Seq[str], what: str) -> Path:
        d = _find_child(self.path, candidates, want_dir=True)
        if d is None:
            tried = " or ".join(f"{c}/" for c in candidates)
            if not self.path.is_dir():
                raise DatasetNotFoundError(
                    f"{self.dataset}: sequence {self.name!r}: folder {self.path} does not exist"
                )
            raise DatasetNotFoundError(
                f"{self.dataset}: sequence {self.name!r}: missing {what} frame folder {tried} in {self.path}"
            )
        return d

    def _list(self) -> None:
        if self._rgb is not None:
            return
        rgb_dir = self._frame_dir(self._layout.rgb_dirs, "RGB")
        tir_dir = self._frame_dir(self._layout.tir_dirs, "TIR")
        rgb, tir = list_frames(rgb_dir), list_frames(tir_dir)
        if len(rgb) != len(tir):
            raise DatasetError(
                f"{self.dataset}: sequence {self.name!r}: RGB and TIR frame counts differ: "
                f"{len(rgb)} in {rgb_dir} vs {len(tir)} in {tir_dir}"
            )
        if not rgb:
            raise DatasetError(f"{self.dataset}: sequence {self.name!r}: no image files in {rgb_dir} or {tir_dir}")
        self._rgb, self._tir = rgb, tir

    @property
    def rgb_frames(self) -> List[Path]:
        self._list()
        return self._rgb

    @property
    def tir_frames(self) -> List[Path]:
        self._list()
        return self._tir

    @property
    def num_frames(self) -> int:
        self._list()
        return len(self._rgb)

    def _check_index(self, i: int) -> int:
        n = self.num_frames
        i = int(i)
        if not 0 <= i < n:
            raise IndexError(f"{self.dataset}: sequence {self.name!r}: frame index {i} out of range [0, {n})")
        return i

    def _read(self, path: Path, i: int) -> np.ndarray:
        try:
            return read_image(path)
        except ImageReadError as e:
            raise type(e)(f"{self.dataset}: sequence {self.name!r}, frame {i} (counting from 0): {e}") from e

    def read_frame(self, i: int, parallel: bool = False) -> np.ndarray:
        """Frame ``i`` as one ``H x W x 6`` uint8 array ``[R, G, B | T, T, T]``.

        ``parallel=True`` decodes the TIR image on a worker thread while the RGB image decodes
        on this one (OpenCV releases the GIL); useful for single-process tracking, pointless
        inside many DataLoader workers. Raises ``ImageReadError``/``ImageNotFoundError``
        naming the sequence and file, ``DatasetError`` when the two images differ in size.
        """
        i = self._check_index(i)
        if parallel:
            fut = _pool().submit(self._read, self._tir[i], i)
            rgb = self._read(self._rgb[i], i)
            tir = fut.result()
        else:
            rgb = self._read(self._rgb[i], i)
            tir = self._read(self._tir[i], i)
        if rgb.shape[:2] != tir.shape[:2]:
            raise DatasetError(
                f"{self.dataset}: sequence {self.name!r}, frame {i}: RGB and TIR sizes differ: "
                f"{rgb.shape[1]}x{rgb.shape[0]} ({self._rgb[i]}) vs {tir.shape[1]}x{tir.shape[0]} ({self._tir[i]})"
            )
        return np.concatenate([rgb, tir], axis=2)

    def frames(self, start: int = 0, stop: Optional[int] = None, prefetch: bool = True) -> Iterator[Tuple[int, np.ndarray]]:
        """Yield ``(i, frame)`` for ``start <= i < stop``; with ``prefetch`` frame ``i + 1`` is
        decoded on a worker thread while the caller processes frame ``i``."""
        n = self.num_frames
        stop = n if stop is None else min(int(stop), n)
        if start >= stop:
            return
        if not prefetch:
            for i in range(start, stop):
                yield i, self.read_frame(i)
            return
        pool = _pool()
        fut = pool.submit(self.read_frame, start)
        for i in range(start, stop):
            frame = fut.result()
            if i + 1 < stop:
                fut = pool.submit(self.read_frame, i + 1)
            yield i, frame

    # ---------------- ground truth ----------------
    @property
    def gt_path(self) -> Optional[Path]:
        """The main ground-truth file (None when there is none)."""
        return next((self.path / f for f, _ in self._layout.gt_files if (self.path / f).is_file()), None)

    def gt_length_problem(self) -> Optional[str]:
        """A message when the ground truth has another number of rows than there are frames
        (training and evaluation then use the common prefix), else None."""
        rows, frames = len(self.ground_truth), self.num_frames
        if rows == frames:
            return None
        return f"{self.gt_path}: {rows} ground-truth rows for {frames} frames; only the first {min(rows, frames)} are used"

    def _read_gt(self, candidates, required: bool, what: str) -> Optional[np.ndarray]:
        for fname, fmt in candidates:
            p = self.path / fname
            if p.is_file():
                try:
                    boxes = read_boxes(p)
                except BoxFileError as e:
                    raise DatasetError(f"{self.dataset}: sequence {self.name!r}: bad {what} file: {e}") from e
                return xyxy_to_xywh(boxes) if fmt == "xyxy" else boxes
        if required:
            if not self.path.is_dir():
                raise DatasetNotFoundError(
                    f"{self.dataset}: sequence {self.name!r}: folder {self.path} does not exist"
                )
            names = " or ".join(f for f, _ in candidates)
            raise DatasetNotFoundError(f"{self.dataset}: sequence {self.name!r}: missing {what} file {names} in {self.path}")
        return None

    @property
    def ground_truth(self) -> np.ndarray:
        """float64 (N, 4) x, y, w, h. Rows with w <= 0 or h <= 0 mean "target absent"."""
        if self._gt is None:
            gt = self._read_gt(self._layout.gt_files, True, "ground-truth")
            if len(gt) == 0:
                raise DatasetError(f"{self.dataset}: sequence {self.name!r}: ground-truth file is empty ({self.path})")
            self._gt = gt
        return self._gt

    @property
    def init_box(self) -> np.ndarray:
        """First-frame box; an error naming the sequence when its w or h <= 0."""
        box = self.ground_truth[0]
        if not (box[2] > 0 and box[3] > 0):
            raise DatasetError(
                f"{self.dataset}: sequence {self.name!r}: first-frame box {box.tolist()} has w or h <= 0 "
                f"(the tracker needs a target in frame 0)"
            )
        return box.copy()

    @property
    def valid(self) -> np.ndarray:
        """Bool (N,): the GT box has w > 0 and h > 0."""
        gt = self.ground_truth
        return (gt[:, 2] > 0) & (gt[:, 3] > 0)

    def _modal_gt(self, key: str, candidates) -> Optional[np.ndarray]:
        if key not in self._modal:
            self._modal[key] = (
                self._read_gt(candidates, self._layout.modal_gt_required, f"{key} ground-truth") if candidates else None
            )
        return self._modal[key]

    @property
    def gt_rgb(self) -> Optional[np.ndarray]:
        """Per-modality GT of the RGB frames (RGBT234 ``visible.txt``, GTOT ``groundTruth_v.txt``);
        None where the layout has none or the (optional) file is missing."""
        return self._modal_gt("rgb", self._layout.rgb_gt_files)

    @property
    def gt_tir(self) -> Optional[np.ndarray]:
        """Per-modality GT of the TIR frames (``infrared.txt``, ``groundTruth_i.txt``) or None."""
        return self._modal_gt("tir", self._layout.tir_gt_files)

    # ---------------- per-frame labels (LasHeR) ----------------
    def _label(self, key: str) -> Optional[np.ndarray]:
        if key not in self._labels:
            fname = self._layout.label_files.get(key)
            arr = None
            if fname and (self.path / fname).is_file():
                try:
                    arr = read_boxes(self.path / fname, ncols=1)[:, 0].astype(np.int64)
                except BoxFileError as e:
                    raise DatasetError(f"{self.dataset}: sequence {self.name!r}: bad {key} label file: {e}") from e
            self._labels[key] = arr
        return self._labels[key]

    @property
    def absence(self) -> Optional[np.ndarray]:
        """Bool (N,) from ``absence.label`` (1 = target absent), or None when the file is missing.
        The original code ignores it; offered for the training fix switch."""
        a = self._label("absence")
        return None if a is None else a > 0

    @property
    def cover(self) -> Optional[np.ndarray]:
        """Int (N,) occlusion level from ``cover.label``, or None when the file is missing."""
        return self._label("cover")

    # ---------------- checks ----------------
# --------------------------------------------------------------------------------------------
# Dataset
# --------------------------------------------------------------------------------------------
class RGBTDataset:
    """Base of all layouts. Subclasses declare:

    ``name``: dataset id (``lasher_test`` ...); ``rgb_dirs`` / ``tir_dirs``: candidate frame
    folder names; ``gt_files``: candidate ``(file, 'xywh'|'xyxy')`` for the main GT;
    ``rgb_gt_files`` / ``tir_gt_files``: per-modality GT candidates; ``modal_gt_required``;
    ``label_files``: optional per-frame label files. Override ``_find_sequences`` when the
    sequence list is not simply every sub-folder of ``root``.
    """

    name = "rgbt"
    rgb_dirs: Tuple[str, ...] = ("visible",)
    tir_dirs: Tuple[str, ...] = ("infrared",)
    gt_files: Tuple[Tuple[str, str], ...] = (("init.txt", "xywh"),)
    rgb_gt_files: Tuple[Tuple[str, str], ...] = ()
    tir_gt_files: Tuple[Tuple[str, str], ...] = ()
    modal_gt_required = False
    label_files: dict = {}

    def __init__(self, root: Union[str, os.PathLike]):
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            what = "is not a folder" if self.root.exists() else "does not exist"
            raise DatasetNotFoundError(f"{self.name}: dataset folder {self.root} {what}")
        self.seq_root, names = self._find_sequences()
        self._names: List[str] = list(names)
        self._index = {n: k for k, n in enumerate(self._names)}
        if len(self._index) != len(self._names):
            dup = sorted({n for n in self._names if self._names.count(n) > 1})
            raise DatasetError(f"{self.name}: duplicate sequence names in {self.seq_root}: {dup[:5]}")
        self._seqs: dict = {}

    # -------- subclass hook --------
    def _find_sequences(self) -> Tuple[Path, List[str]]:
        """(folder holding the sequence folders, sequence names). Default: every non-hidden
        sub-folder of ``root``, natural-sorted."""
        return self.root, self._subfolders(self.root)

    @staticmethod
    def _subfolders(folder: Path) -> List[str]:
        with os.scandir(folder) as it:
            names = [e.name for e in it if e.is_dir() and not e.name.startswith((".", "__"))]
        names.sort(key=natural_key)
        return names

    # -------- container API --------
    @property
    def names(self) -> List[str]:
        return list(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name) -> bool:
        return name in self._index

    def __iter__(self) -> Iterator[Sequence]:
        for n in self._names:
            yield self[n]

    def __getitem__(self, key: Union[int, str]) -> Sequence:
        if isinstance(key, (int, np.integer)):
            k = int(key)
            if not -len(self._names) <= k < len(self._names):
                raise IndexError(f"{self.name}: sequence index {k} out of range (dataset has {len(self)})")
            name = self._names[k]
        elif isinstance(key, str):
            if key not in self._index:
                raise KeyError(f"{self.name}: no sequence named {key!r} in {self.seq_root}")
            name = key
        else:
            raise TypeError(f"{self.name}: index with an int or a sequence name, got {type(key).__name__}")
        seq = self._seqs.get(name)
        if seq is None:
            seq = Sequence(name, self.seq_root / name, type(self), self.name)
            self._seqs[name] = seq
        return seq

    def sequence(self, name: str) -> Sequence:
        return self[name]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={str(self.root)!r}, {len(self)} sequences)"
