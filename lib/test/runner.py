"""Run a tracker over a dataset: resumable, in this process or in worker processes.

    ckpt = find_checkpoint(save_dir, config_name, epoch)            # lib/utils/checkpoint_files.py
    out = results_dir(results_path, "tbsi_track", config_name, "lasher_test")   # results.py
    summary = run_dataset(DatasetSpec("lasher_test", root), NetTrackerFactory(cfg, ckpt), out,
                          threads=6, devices=select_devices(1))     # pool.py

Sequences whose results are complete are skipped, so an interrupted run loses only the
sequences in flight. ``threads`` <= 1 tracks in this process; more starts that many worker
processes (``pool.py``), longest sequences first. A failing sequence does not stop the others;
the failures are reported at the end, naming the sequence and the error.
"""
from __future__ import annotations

import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np
from tqdm import tqdm

from lib.data.datasets import get_dataset
from lib.utils.system import available_cpus

from .pool import run_pool
from .results import RunError, is_complete, write_result
from .tracker import build_tracker

__all__ = ["DatasetSpec", "NetTrackerFactory", "track_sequence", "SequenceFailure", "RunSummary", "RunError",
           "run_dataset"]


@dataclass(frozen=True)
class DatasetSpec:
    """``get_dataset(name, root)`` on call (picklable, rebuilt in each worker)."""

    name: str
    root: str

    def __call__(self):
        return get_dataset(self.name, self.root)


@dataclass(frozen=True)
class NetTrackerFactory:
    """``build_tracker`` for ``cfg`` and ``checkpoint`` on the device it is called with (picklable);
    ``precision``/``backend``/``onnx``/``tie_check`` as in ``lib.test.tracker.build_network``."""

    cfg: dict
    checkpoint: Optional[str]
    precision: str = "fp32"
    backend: str = "torch"
    onnx: Optional[str] = None
    tie_check: bool = True

    def __call__(self, device):
        return build_tracker(self.cfg, self.checkpoint, device, precision=self.precision, backend=self.backend,
                             onnx=self.onnx, tie_check=self.tie_check)


def _frames(seq):
    """(index, frame) pairs; a dataset sequence decodes the next frame on a thread meanwhile."""
    if hasattr(seq, "frames"):
        yield from seq.frames()
    else:
        for i in range(seq.num_frames):
            yield i, seq.read_frame(i)


def track_sequence(tracker, seq, log: Optional[Callable[[str], None]] = None) -> Tuple[List[list], List[float]]:
    """Run ``tracker`` over every frame of ``seq``; returns (boxes, seconds per frame). Frame 0's
    box is the initial box. ``log`` gets one line per frame (debug)."""
    init_box = np.asarray(seq.init_box, dtype=np.float64).reshape(-1)
    if init_box.shape != (4,) or not np.all(np.isfinite(init_box)) or not (init_box[2] > 0 and init_box[3] > 0):
        raise ValueError(f"first-frame box {init_box.tolist()} must have 4 finite values with w > 0 and h > 0")
    boxes: List[list] = []
    times: List[float] = []
    for i, frame in _frames(seq):
        t0 = time.perf_counter()
        box = tracker.initialize(frame, init_box.tolist()) if i == 0 else tracker.track(frame)
        times.append(time.perf_counter() - t0)
        boxes.append([float(v) for v in box])
        if log is not None:
            score = getattr(tracker, "last_score", None)
            extra = "" if score is None else f" score {score:.4f}"
            log(f"{seq.name} frame {i}: box {boxes[-1]}{extra} ({times[-1] * 1000:.1f} ms)")
    if len(boxes) != seq.num_frames:
        raise RuntimeError(f"tracked {len(boxes)} frames of {seq.num_frames}")
    return boxes, times


@dataclass
class SequenceFailure:
    name: str
    error: str
    details: str = ""

    def __str__(self) -> str:
        return f"sequence {self.name!r}: {self.error}"


@dataclass
class RunSummary:
    out_dir: Path
    total: int = 0
    skipped: List[str] = field(default_factory=list)
    done: List[str] = field(default_factory=list)
    failed: List[SequenceFailure] = field(default_factory=list)
    frames: int = 0
    seconds: float = 0.0
    track_seconds: float = 0.0     # the per-frame times of the sequences tracked in this run, summed
    network_seconds: float = 0.0   # of which in the network's forward
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return not self.failed and not self.interrupted


def track_one(tracker, dataset, name: str, out_dir: Path, debug: bool) -> dict:
    """Track one sequence and write its files; errors come back in the dict (raised only when
    ``debug``)."""
    t0 = time.perf_counter()
    network_before = getattr(tracker, "network_seconds", 0.0)
    try:
        boxes, times = track_sequence(tracker, dataset[name], log=_stderr if debug else None)
        write_result(out_dir, name, boxes, times)
        return {"name": name, "frames": len(boxes), "track_seconds": float(sum(times)),
                "network_seconds": getattr(tracker, "network_seconds", 0.0) - network_before,
                "seconds": time.perf_counter() - t0}
    except Exception as e:  # reported per sequence; the other sequences go on
        if debug:
            raise
        return {"name": name, "error": f"{type(e).__name__}: {e}", "details": traceback.format_exc()}


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _sequences_to_track(dataset, names: List[str], out_dir: Path, summary: RunSummary,
                        debug: bool) -> List[Tuple[str, int]]:
    """``(name, frames)`` of the sequences without complete results (lists each sequence's frame
    folders once); the ones that cannot even be listed go to ``summary.failed``."""
    todo = []
    for name in names:
        try:
            n = dataset[name].num_frames
        except Exception as e:
            if debug:
                raise
            summary.failed.append(SequenceFailure(name, f"{type(e).__name__}: {e}", traceback.format_exc()))
            continue
        if is_complete(out_dir, name, n):
            summary.skipped.append(name)
        else:
            todo.append((name, n))
    return todo


def _worker_count(threads: int, todo: int, devices: Sequence[str], debug: bool) -> int:
    workers = 0 if debug else min(int(threads), todo)
    if workers > 1 and all(d == "cpu" for d in devices) and workers > available_cpus():
        _stderr(f"note: {workers} worker processes on {available_cpus()} CPU(s) would only add memory (each holds "
                f"a copy of the network); using {available_cpus()}")
        workers = available_cpus()
    return workers


def run_dataset(dataset_factory: Callable[[], object], tracker_factory: Callable[[str], object], out_dir,
                sequences: Optional[Sequence[str]] = None, threads: int = 0, devices: Sequence[str] = ("cpu",),
                debug: bool = False, progress: bool = True, dataset=None) -> RunSummary:
    """Track every (or every named) sequence whose result is not complete yet.

    Args:
        dataset_factory: ``() -> dataset`` (``names``, ``ds[name]`` -> sequence with ``name``,
            ``num_frames``, ``init_box``, ``read_frame``/``frames``); picklable when ``threads > 1``.
        tracker_factory: ``(device) -> tracker`` (``initialize``, ``track``); picklable likewise.
        out_dir: the results folder.
        sequences: only these names (RunError for a name the dataset lacks).
        threads, devices: worker processes and the devices they are spread over.
        debug: in this process, per-frame log, the first error raised with its traceback.
        progress: a tqdm bar on stderr.
        dataset: an already built dataset for this process (saves building it twice).
    """
    out_dir = Path(out_dir)
    dataset = dataset_factory() if dataset is None else dataset
    names = list(dataset.names)
    if sequences:
        unknown = [s for s in sequences if s not in names]
        if unknown:
            shown = ", ".join(repr(n) for n in names[:10]) + (" ..." if len(names) > 10 else "")
            raise RunError(f"no sequence named {', '.join(repr(u) for u in unknown)} in the dataset "
                           f"({len(names)} sequences: {shown})")
        names = [n for n in names if n in set(sequences)]
    summary = RunSummary(out_dir=out_dir, total=len(names))
    todo = _sequences_to_track(dataset, names, out_dir, summary, debug)
    if summary.skipped:
        _stderr(f"{len(summary.skipped)} of {len(names)} sequences already have complete results in {out_dir}; "
                f"skipping them")
    if not todo:
        return summary
    out_dir.mkdir(parents=True, exist_ok=True)
    workers = _worker_count(threads, len(todo), devices, debug)
    if workers > 1:
        todo.sort(key=lambda t: -t[1])  # longest first: better balance across workers
    bar = tqdm(total=len(todo), desc=out_dir.name, unit="seq", disable=not progress, file=sys.stderr,
               dynamic_ncols=True, smoothing=0.0)
    start = time.perf_counter()

    def record(res: dict) -> None:
        if "error" in res:
            summary.failed.append(SequenceFailure(res["name"], res["error"], res.get("details", "")))
            bar.write(f"FAILED {res['name']}: {res['error']}", file=sys.stderr)
        else:
            summary.done.append(res["name"])
            summary.frames += res["frames"]
            summary.track_seconds += res["track_seconds"]
            summary.network_seconds += res.get("network_seconds", 0.0)
        summary.seconds = time.perf_counter() - start
        bar.set_postfix(fps=f"{summary.frames / max(summary.seconds, 1e-9):.1f}", failed=len(summary.failed),
                        refresh=False)
        bar.update(1)

    try:
        if workers <= 1:
            tracker = tracker_factory(devices[0])
            for name, _ in todo:
                record(track_one(tracker, dataset, name, out_dir, debug))
        else:
            run_pool(dataset_factory, tracker_factory, track_one, out_dir, [n for n, _ in todo], workers, devices,
                     record)
    except KeyboardInterrupt:
        summary.interrupted = True
        _stderr(f"interrupted: {len(summary.done)} sequences finished in this run; the ones in flight are lost. "
                f"Rerun the same command to resume.")
    finally:
        bar.close()
    return summary
