"""The training sampler: draws template/search pairs from RGB-T sequences (docs/training.md#sampler,
the original's ``TrackingSampler`` in ``causal`` mode with one template and one search frame).

Per sample:

* pick a dataset with probability proportional to ``DATASETS_RATIO``;
* pick a sequence uniformly among those with length >= 20 and more than 4 visible frames;
* template id: uniform over the visible ids < len - 1;
* search id: uniform over the visible ids in ``(t, t + MAX_SAMPLE_INTERVAL + gap)`` (exclusive
  both ends, capped at the sequence end); if there is none, the gap grows by 5 and a new
  template id is drawn;
* the pair goes through ``processing``; if it is marked invalid, everything is drawn again,
  starting from a new sequence.

Visible frames: as in the original, every frame (the original marks all LasHeR frames visible,
so a frame whose GT box has zero size can be drawn; processing then rejects the pair).
``positive_boxes_only`` (``TRAIN.FIX_ZERO_SIZE_FRAMES``) draws only frames with GT w > 0 and
h > 0; ``use_absence_labels`` (``TRAIN.USE_ABSENCE_LABELS``) also leaves out the frames LasHeR's
``absence.label`` flags.

A frame that cannot be read (missing or damaged image, RGB/TIR size mismatch) is logged once per
process with its path, remembered as unusable, and the sample is drawn again. Errors of any
other kind propagate: they are bugs, not data problems.

Randomness: sample ``index`` of epoch ``e`` on rank ``r`` uses its own generator seeded with
``(seed, e, r, index)``: the data are the same whatever the number of workers, and a resumed
run sees the same samples as an uninterrupted one.
"""
from __future__ import annotations

import logging
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

__all__ = ["TrackingSampler", "SequenceInfo", "FrameReadError", "MIN_SEQ_LEN", "MIN_VISIBLE"]

log = logging.getLogger("lib.data.sampler")

MIN_SEQ_LEN = 20     # the original's "len(visible) >= 20"
MIN_VISIBLE = 4      # "visible.sum() > 2 * (num_template + num_search)" with 1 + 1 frames
GAP_STEP = 5
MAX_BAD_DRAWS = 1000


class FrameReadError(RuntimeError):
    """Too many consecutive frames could not be read."""


class SequenceInfo:
    """What the sampler keeps per sequence: its visible flags and GT, read once."""

    __slots__ = ("seq", "gt", "visible", "dataset_name")

    def __init__(self, seq, gt: np.ndarray, visible: np.ndarray, dataset_name: str):
        self.seq = seq
        self.gt = gt
        self.visible = visible
        self.dataset_name = dataset_name


def _sequence_info(seq, dataset_name: str, use_absence: bool, positive_boxes_only: bool = False,
                   warn: bool = True) -> SequenceInfo:
    problem = getattr(seq, "gt_length_problem", lambda: None)() if warn else None
    if problem:
        log.warning("%s", problem)
    gt = np.asarray(seq.ground_truth, dtype=np.float64)
    n = min(len(gt), int(seq.num_frames))
    gt = gt[:n]
    visible = (gt[:, 2] > 0) & (gt[:, 3] > 0) if positive_boxes_only else np.ones(n, dtype=bool)
    if use_absence:
        absence = getattr(seq, "absence", None)
        if absence is not None:
            absence = np.asarray(absence, dtype=bool)[:n]
            visible[:len(absence)] &= ~absence
    return SequenceInfo(seq, gt, visible, dataset_name)


def _iter_sequences(dataset):
    if hasattr(dataset, "names"):
        for name in dataset.names:
            yield dataset[name]
    else:
        for i in range(len(dataset)):
            yield dataset[i]


class TrackingSampler(Dataset):
    """A map-style ``Dataset`` of ``samples_per_epoch`` random training pairs.

    ``datasets``: objects with ``names``/``__getitem__`` (or ``__len__``/``__getitem__``) giving
    sequences with ``.ground_truth``, ``.num_frames``, ``.read_frame(i)`` (``H x W x 6`` uint8),
    ``.name`` and optionally ``.absence``. ``processing(template_frame, template_box,
    search_frame, search_box, rng)`` returns a dict with ``valid``.

    ``len(self)`` is ``samples_per_epoch`` (the number this process draws per epoch: the trainer
    passes the per-rank share). Call ``set_epoch(e)`` before each epoch. ``use_absence_labels``
    and ``positive_boxes_only``: which frames count as visible (see the module docstring).
    """

    def __init__(self, datasets: Sequence, ratios: Sequence[float], processing: Callable,
                 samples_per_epoch: int, max_gap: int = 200, seed: int = 0, rank: int = 0,
                 use_absence_labels: bool = False, positive_boxes_only: bool = False,
                 dataset_names: Optional[Sequence[str]] = None):
        if len(datasets) == 0:
            raise ValueError("TrackingSampler: no training dataset given (DATA.TRAIN.DATASETS_NAME is empty)")
        if len(ratios) != len(datasets):
            raise ValueError(f"DATA.TRAIN.DATASETS_RATIO has {len(ratios)} values for {len(datasets)} datasets "
                             f"in DATA.TRAIN.DATASETS_NAME")
        ratios = np.asarray(ratios, dtype=np.float64)
        if (ratios < 0).any() or not ratios.sum() > 0:
            raise ValueError(f"DATA.TRAIN.DATASETS_RATIO must be >= 0 with a positive sum, got {ratios.tolist()}")
        names = list(dataset_names) if dataset_names is not None else [
            getattr(d, "name", f"dataset{i}") for i, d in enumerate(datasets)]
        self.processing = processing
        self.samples_per_epoch = int(samples_per_epoch)
        self.max_gap = int(max_gap)
        self.seed = int(seed)
        self.rank = int(rank)
        self.epoch = 0
        self.use_absence_labels = bool(use_absence_labels)
        # Read every sequence's GT / frame list once, here (before DataLoader workers fork).
        self.sequences: List[List[SequenceInfo]] = []
        for ds, name in zip(datasets, names):
            infos = [_sequence_info(seq, name, self.use_absence_labels, positive_boxes_only, warn=self.rank == 0)
                     for seq in _iter_sequences(ds)]
            usable = [s for s in infos if len(s.visible) >= MIN_SEQ_LEN and int(s.visible.sum()) > MIN_VISIBLE]
            self.sequences.append(usable)
        keep = [i for i, seqs in enumerate(self.sequences) if seqs and ratios[i] > 0]
        if not keep:
            raise ValueError(f"TrackingSampler: no sequence of {names} has >= {MIN_SEQ_LEN} frames and more than "
                             f"{MIN_VISIBLE} visible frames")
        for i, seqs in enumerate(self.sequences):
            if not seqs and ratios[i] > 0:
                log.warning("training dataset %s has no usable sequence (length >= %d, > %d visible); skipped",
                            names[i], MIN_SEQ_LEN, MIN_VISIBLE)
        p = np.zeros(len(datasets))
        p[keep] = ratios[keep]
        self.p_datasets = p / p.sum()
        self._bad_frames: Dict[tuple, str] = {}   # (dataset idx, seq idx, frame) -> message, per process

    # ------------------------------------------------------------------ epoch / length
    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.samples_per_epoch

    def rng_for(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, self.rank, int(index)])

    # ------------------------------------------------------------------ drawing ids
    def sample_sequence(self, rng: np.random.Generator):
        d = int(rng.choice(len(self.p_datasets), p=self.p_datasets))
        seqs = self.sequences[d]
        s = int(rng.integers(len(seqs)))
        return d, s, seqs[s]

    @staticmethod
    def _visible_ids(visible: np.ndarray, lo: int, hi: int) -> np.ndarray:
        lo, hi = max(lo, 0), min(hi, len(visible))
        if lo >= hi:
            return np.empty(0, dtype=np.int64)
        return lo + np.flatnonzero(visible[lo:hi])

    def sample_frame_ids(self, visible: np.ndarray, rng: np.random.Generator):
        """``(template_id, search_id, gap_increase)`` in causal mode."""
        gap = 0
        while True:
            t_ids = self._visible_ids(visible, 0, len(visible) - 1)
            if len(t_ids) == 0:
                raise ValueError("sequence has no visible frame before its last one")
            t = int(t_ids[rng.integers(len(t_ids))])
            s_ids = self._visible_ids(visible, t + 1, t + self.max_gap + gap)
            gap += GAP_STEP
            if len(s_ids):
                return t, int(s_ids[rng.integers(len(s_ids))]), gap - GAP_STEP

    # ------------------------------------------------------------------ reading
    def _read(self, d: int, s: int, info: SequenceInfo, i: int):
        key = (d, s, i)
        if key in self._bad_frames:
            return None
        try:
            return info.seq.read_frame(i)
        except (OSError, ValueError) as e:
            paths = ""
            try:
                paths = f" ({info.seq.rgb_frames[i]}, {info.seq.tir_frames[i]})"
            except Exception:
                pass
            msg = f"cannot read frame {i} (counting from 0) of sequence {info.seq.name!r} in {info.dataset_name}{paths}: {e}"
            self._bad_frames[key] = msg
            info.visible[i] = False   # never draw it again in this process
            log.warning("%s; the frame is skipped and the sample drawn again", msg)
            return None

    def __getitem__(self, index: int) -> Dict:
        rng = self.rng_for(index)
        bad_draws = 0
        while True:
            d, s, info = self.sample_sequence(rng)
            if int(info.visible.sum()) <= MIN_VISIBLE or not info.visible[:-1].any():
                bad_draws += 1   # became unusable through unreadable frames
                if bad_draws > MAX_BAD_DRAWS:
                    break
                continue
            t, x, _ = self.sample_frame_ids(info.visible, rng)
            z_frame = self._read(d, s, info, t)
            x_frame = self._read(d, s, info, x) if z_frame is not None else None
            if z_frame is None or x_frame is None:
                bad_draws += 1
                if bad_draws > MAX_BAD_DRAWS:
                    break
                continue
            data = self.processing(z_frame, info.gt[t], x_frame, info.gt[x], rng)
            if data["valid"]:
                data["dataset"] = info.dataset_name
                data["sequence"] = info.seq.name
                data["frame_ids"] = torch.tensor([t, x])
                data.pop("valid")
                data.pop("reason", None)
                return data
        shown = "; ".join(list(self._bad_frames.values())[-3:])
        raise FrameReadError(f"{MAX_BAD_DRAWS} draws in a row hit unreadable frames (last: {shown})")
