"""Run a tracker over a dataset: checkpoints, devices, worker processes, resumable result files.

    ckpt = find_checkpoint(save_dir, config_name, epoch)          # default checkpoint locations
    out = results_dir(results_path, "tbsi_track", config_name, "lasher_test")
    summary = run_dataset(DatasetSpec("lasher_test", root), NetTrackerFactory(cfg, ckpt), out,
                          threads=6, devices=select_devices(1))

Result files (one place knows them): ``<out>/<seq>.txt`` holds one ``x,y,w,h`` row per frame,
each number written with ``repr`` (shortest string that reads back to the same float64, so the
boxes are unrounded), frame 0 being the initial box; ``<out>/<seq>_time.txt`` holds the
seconds each frame took (initialisation for frame 0). Both are written atomically, the time
file first, so a box file that exists is whole. A sequence counts as done when its box file
has exactly one finite row per frame; a rerun skips those and redoes the others (missing,
short, unparsable), so an interrupted run loses only the sequences that were in flight.
``<out>/run_info.json`` records the checkpoint (path, sha256) the results came from; a rerun
with a different checkpoint into the same folder is an error rather than a silent mix.

Workers: ``threads`` <= 1 runs in this process; more starts that many spawned processes (on a
CPU-only run at most one per CPU: more would only multiply the network's memory), each
loading the network once, using ``max(1, cpus // workers)`` torch threads and one of
``devices`` round-robin (``cuda:0``, ``cuda:1``, ... or ``cpu``). Sequences go longest first.
A failing sequence does not stop the others; the failures are reported at the end, naming the
sequence and the error. Ctrl-C (or SIGTERM to the CLI) stops the workers at once; workers also
exit by themselves if the parent dies.
"""
from __future__ import annotations

import json
import math
import multiprocessing
import os
import sys
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from lib.models.iimf.checkpoint import checkpoint_dir, checkpoint_path
from lib.utils.io import atomic_write, file_sha256

__all__ = [
    "default_checkpoint_paths",
    "find_checkpoint",
    "results_dir",
    "result_paths",
    "read_result",
    "is_complete",
    "write_result",
    "track_sequence",
    "select_devices",
    "torch_threads_per_worker",
    "worker_devices",
    "DatasetSpec",
    "NetTrackerFactory",
    "SequenceFailure",
    "RunSummary",
    "RunError",
    "run_dataset",
]

PathLike = Union[str, os.PathLike]


# ==========================================================================================
# Checkpoints and result locations
# ==========================================================================================
def default_checkpoint_paths(save_dir: PathLike, config_name: str, epoch: int,
                             script: str = "tbsi_track") -> List[Path]:
    """Where the training command puts the checkpoint of ``epoch``, in the order they are tried:
    ``<save_dir>/<config>/checkpoints/train/<script>/<config>/TBSITrack_epNNNN.pth.tar`` (training
    run with ``--save_dir ./output/<config>``, the seed's command), then
    ``<save_dir>/checkpoints/train/<script>/<config>/TBSITrack_epNNNN.pth.tar``."""
    save_dir = Path(save_dir)
    return [checkpoint_path(checkpoint_dir(root, config_name, script), epoch)
            for root in (save_dir / config_name, save_dir)]


def find_checkpoint(save_dir: PathLike, config_name: str, epoch: int, script: str = "tbsi_track",
                    checkpoint: Optional[PathLike] = None, config_arg: Optional[str] = None) -> Path:
    """The checkpoint to test: ``checkpoint`` if given (must exist), else the first existing
    default path; FileNotFoundError naming every path tried."""
    if checkpoint is not None:
        path = Path(checkpoint).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint not found: {path} (given with --checkpoint)")
        return path
    tried = default_checkpoint_paths(save_dir, config_name, epoch, script)
    for path in tried:
        if path.is_file():
            return path
    listing = "\n  ".join(str(p) for p in tried)
    raise FileNotFoundError(
        f"no checkpoint for config {config_name!r} epoch {epoch}; tried:\n  {listing}\n"
        f"Train it (python tracking/train.py --script {script} --config {config_arg or config_name} --save_dir "
        f"{save_dir} ...), put an official checkpoint at one of these paths, or pass "
        f"--checkpoint PATH (--epoch N picks another epoch).")


def results_dir(results_path: PathLike, script: str, config_name: str, dataset_name: str,
                run_id: Optional[int] = None, variant: Optional[str] = None) -> Path:
    """``<results_path>/<script>/<config>[_<run_id:03d>][_<variant>]/<dataset_name>``;
    ``results_path`` is ``<save_dir>/test/tracking_results``; ``variant`` names a non-default
    inference path (``bf16``, ``int8``, ``onnxruntime`` ...) so its boxes never mix with the
    exact ones."""
    param = config_name if run_id is None else f"{config_name}_{int(run_id):03d}"
    if variant:
        param = f"{param}_{variant}"
    return Path(results_path) / script / param / dataset_name


def result_paths(out_dir: PathLike, seq_name: str) -> Tuple[Path, Path]:
    """(box file, time file) of a sequence."""
    out_dir = Path(out_dir)
    return out_dir / f"{seq_name}.txt", out_dir / f"{seq_name}_time.txt"


def read_result(path: PathLike) -> Optional[np.ndarray]:
    """The (N, 4) float64 boxes of a result file, or None when it is missing or not a clean
    table of finite numbers (a damaged file is simply redone)."""
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError):
        return None
    rows = []
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = line.replace("\t", ",").replace(" ", ",").split(",")
        vals = [p for p in parts if p]
        if len(vals) != 4:
            return None
        try:
            row = [float(v) for v in vals]
        except ValueError:
            return None
        if not all(math.isfinite(v) for v in row):
            return None
        rows.append(row)
    return np.asarray(rows, dtype=np.float64).reshape(-1, 4)


def is_complete(out_dir: PathLike, seq_name: str, num_frames: int) -> bool:
    """True when the box file has exactly ``num_frames`` finite rows and the time file exists."""
    box_file, time_file = result_paths(out_dir, seq_name)
    if not time_file.is_file():
        return False
    boxes = read_result(box_file)
    return boxes is not None and len(boxes) == num_frames


def _fmt(v) -> str:
    return repr(float(v))


def write_result(out_dir: PathLike, seq_name: str, boxes: Sequence[Sequence[float]],
                 times: Sequence[float]) -> Path:
    """Write ``<seq>_time.txt`` then ``<seq>.txt`` (each atomically); returns the box file."""
    box_file, time_file = result_paths(out_dir, seq_name)
    atomic_write(time_file, "".join(_fmt(t) + "\n" for t in times))
    atomic_write(box_file, "".join(",".join(_fmt(v) for v in b) + "\n" for b in boxes))
    return box_file


def check_run_info(out_dir: PathLike, checkpoint: Optional[PathLike], config: str,
                   extra: Optional[dict] = None) -> None:
    """Record the checkpoint behind the results of ``out_dir``; error when existing results came
    from a different checkpoint (same path but retrained, or another file)."""
    if checkpoint is None:
        return
    out_dir = Path(out_dir)
    info_file = out_dir / "run_info.json"
    info = {"config": config, "checkpoint": str(Path(checkpoint).absolute()),
            "checkpoint_sha256": file_sha256(checkpoint), **(extra or {})}
    has_results = out_dir.is_dir() and any(out_dir.glob("*.txt"))
    if info_file.is_file() and has_results:  # without results (a run that failed at once) it is replaced
        try:
            old = json.loads(info_file.read_text())
        except (OSError, ValueError):
            old = {}
        if old.get("checkpoint_sha256") and old["checkpoint_sha256"] != info["checkpoint_sha256"]:
            other_folder = "" if info.get("backend") == "onnxruntime" else " (or --epoch, which gets its own folder)"
            raise RunError(
                f"{out_dir} holds results of another checkpoint ({old.get('checkpoint')}, sha256 "
                f"{old['checkpoint_sha256'][:12]}...); this run uses {info['checkpoint']} (sha256 "
                f"{info['checkpoint_sha256'][:12]}...). Delete that folder to redo it, or use another "
                f"--save_dir{other_folder}.")
        if old.get("checkpoint_sha256") == info["checkpoint_sha256"]:
            return
    atomic_write(info_file, json.dumps(info, indent=1) + "\n")


# ==========================================================================================
# Devices and threads
# ==========================================================================================
def select_devices(num_gpus: Optional[int]) -> List[str]:
    """``['cuda:0', ..., 'cuda:k-1']`` for ``k = min(num_gpus, available)`` (all when None), or
    ``['cpu']`` with a warning when ``num_gpus == 0`` or no GPU is usable."""
    import torch

    available = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if num_gpus is not None and num_gpus < 0:
        raise ValueError(f"--num_gpus must be >= 0, got {num_gpus}")
    if num_gpus == 0:
        warnings.warn("--num_gpus 0: running on the CPU (slow: about 0.5 s per frame for the ViT-B configs on 2 cores)",
                      stacklevel=2)
        return ["cpu"]
    if available == 0:
        warnings.warn("no CUDA GPU available: running on the CPU (slow: about 0.5 s per frame for the "
                      "ViT-B configs on 2 cores)", stacklevel=2)
        return ["cpu"]
    k = available if num_gpus is None else num_gpus
    if k > available:
        warnings.warn(f"--num_gpus {k} but only {available} GPU(s) visible: using {available}", stacklevel=2)
        k = available
    return [f"cuda:{i}" for i in range(k)]


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def worker_devices(workers: int, devices: Sequence[str]) -> List[str]:
    """The device of each worker: ``devices`` round-robin (worker i gets ``devices[i % len]``)."""
    if not devices:
        raise ValueError("no device to run on")
    return [devices[i % len(devices)] for i in range(workers)]


def torch_threads_per_worker(workers: int) -> int:
    """Torch intra-op threads per worker so that ``workers`` processes share the CPUs."""
    return max(1, _cpu_count() // max(1, workers))


# ==========================================================================================
# Picklable factories (what a worker process needs to rebuild the dataset and the tracker)
# ==========================================================================================
@dataclass(frozen=True)
class DatasetSpec:
    """``get_dataset(name, root)`` on call (picklable, rebuilt in each worker)."""

    name: str
    root: str

    def __call__(self):
        from lib.data.datasets import get_dataset

        return get_dataset(self.name, self.root)


@dataclass(frozen=True)
class NetTrackerFactory:
    """``IIMFTracker`` for ``cfg`` with the weights of ``checkpoint`` on a given device
    (``precision``/``backend``/``onnx``/``tie_check`` as in ``lib.test.tracker.build_network``)."""

    cfg: dict
    checkpoint: Optional[str]
    precision: str = "fp32"
    backend: str = "torch"
    onnx: Optional[str] = None
    tie_check: bool = True

    def __call__(self, device):
        from lib.test.tracker import build_tracker

        return build_tracker(self.cfg, self.checkpoint, device, precision=self.precision, backend=self.backend,
                             onnx=self.onnx, tie_check=self.tie_check)


# ==========================================================================================
# Tracking one sequence
# ==========================================================================================
def _frames(seq):
    """(index, frame) pairs; the next frame is decoded on a thread while the tracker runs."""
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
        if i == 0:
            box = tracker.initialize(frame, init_box.tolist())
        else:
            box = tracker.track(frame)
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
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return not self.failed and not self.interrupted


class RunError(RuntimeError):
    """The run could not start (no dataset, unknown sequence, results of another checkpoint)."""


def _run_one(tracker, dataset, name: str, out_dir: Path, debug: bool) -> dict:
    """Track one sequence and write its files; errors come back as a dict (never raised unless
    ``debug``)."""
    t0 = time.perf_counter()
    try:
        seq = dataset[name]
        boxes, times = track_sequence(tracker, seq, log=_stderr if debug else None)
        write_result(out_dir, name, boxes, times)
        return {"name": name, "frames": len(boxes), "track_seconds": float(sum(times)),
                "seconds": time.perf_counter() - t0}
    except Exception as e:  # reported per sequence; the other sequences go on
        if debug:
            raise
        return {"name": name, "error": f"{type(e).__name__}: {e}", "details": traceback.format_exc()}


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ==========================================================================================
# Worker processes
# ==========================================================================================
def _start_worker(tracker_factory, dataset_factory, device: str, n_threads: int, load_lock=None) -> dict:
    """Per-process setup: threads, device, dataset and tracker (built while holding
    ``load_lock``, so that workers load their checkpoint copies one at a time: the transient
    memory of loading is paid once, not N times). A failure is kept and reported with every
    sequence this worker picks up (instead of killing the pool)."""
    import torch

    torch.set_num_threads(n_threads)
    try:
        import cv2

        cv2.setNumThreads(1)
    except Exception:  # pragma: no cover - cv2 is a dependency; only a tuning knob
        pass
    state = {"device": device}
    try:
        if device.startswith("cuda"):
            torch.cuda.set_device(torch.device(device))
        state["dataset"] = dataset_factory()
        if load_lock is None:
            state["tracker"] = tracker_factory(device)
        else:
            with load_lock:
                state["tracker"] = tracker_factory(device)
    except Exception as e:
        state["init_error"] = (f"worker on {device} could not start: {type(e).__name__}: {e}",
                               traceback.format_exc())
    return state


def _worker_sequence(state: dict, name: str, out_dir: Path) -> dict:
    if "init_error" in state:
        msg, details = state["init_error"]
        return {"name": name, "error": msg, "details": details}
    return _run_one(state["tracker"], state["dataset"], name, out_dir, debug=False)


def _exit_on_signal(signum, frame):
    raise SystemExit(128 + signum)   # unwinds: atomic writes in progress remove their temp files


def _watch_parent() -> None:
    """Exit when the parent process dies (killed without a chance to stop its workers)."""
    import threading

    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch():
        parent.join()
        os._exit(1)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def _worker_main(wid: int, tracker_factory, dataset_factory, device: str, n_threads: int, out_dir: str,
                 tasks, results, load_lock) -> None:
    """Worker process: Ctrl-C is the parent's business (it stops the workers); take sequence
    names from ``tasks`` until ``None``; report ("start", wid, name) and ("result", wid, dict)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _exit_on_signal)
    _watch_parent()
    state = _start_worker(tracker_factory, dataset_factory, device, n_threads, load_lock)
    while True:
        name = tasks.get()
        if name is None:
            break
        results.put(("start", wid, name))
        results.put(("result", wid, _worker_sequence(state, name, Path(out_dir))))


def _run_pool(dataset_factory, tracker_factory, out_dir: Path, names: List[str], workers: int,
              devices: Sequence[str], record: Callable[[dict], None]) -> None:
    """Track ``names`` on ``workers`` spawned processes; ``record`` gets each result. A worker
    that dies fails only the sequence it was tracking; the others go on. Any exception here
    (Ctrl-C included) stops all workers before it propagates."""
    import queue as queue_mod

    ctx = multiprocessing.get_context("spawn")
    tasks, results, load_lock = ctx.Queue(), ctx.Queue(), ctx.Lock()
    n_threads = torch_threads_per_worker(workers)
    procs = [ctx.Process(target=_worker_main, name=f"tracker-worker-{wid}", daemon=True,
                         args=(wid, tracker_factory, dataset_factory, device, n_threads, str(out_dir), tasks, results,
                               load_lock))
             for wid, device in enumerate(worker_devices(workers, devices))]
    for name in names:
        tasks.put(name)
    for _ in procs:
        tasks.put(None)
    remaining = set(names)
    in_flight: Dict[int, str] = {}
    try:
        for proc in procs:
            proc.start()
        while remaining:
            try:
                kind, wid, payload = results.get(timeout=0.5)
            except queue_mod.Empty:
                for wid, proc in enumerate(procs):
                    if wid in in_flight and not proc.is_alive():
                        name = in_flight.pop(wid)
                        remaining.discard(name)
                        record({"name": name, "error": f"worker process died (exit code {proc.exitcode}) "
                                                       f"while tracking it"})
                if remaining and not any(p.is_alive() for p in procs):
                    for name in sorted(remaining):
                        record({"name": name, "error": "not tracked: every worker process has exited"})
                    remaining.clear()
                continue
            if kind == "start":
                in_flight[wid] = payload
            else:
                in_flight.pop(wid, None)
                remaining.discard(payload["name"])
                record(payload)
    finally:
        tasks.cancel_join_thread()
        results.cancel_join_thread()
        for proc in procs:
            if proc.is_alive() and remaining:
                proc.terminate()
        for proc in procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)


# ==========================================================================================
# The dataset loop
# ==========================================================================================
def _progress(total: int, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="seq", disable=not enabled, file=sys.stderr, dynamic_ncols=True,
                smoothing=0.0)


def run_dataset(dataset_factory: Callable[[], object], tracker_factory: Callable[[str], object], out_dir: PathLike,
                sequences: Optional[Sequence[str]] = None, threads: int = 0, devices: Sequence[str] = ("cpu",),
                debug: bool = False, progress: bool = True, dataset=None) -> RunSummary:
    """Track every (or every named) sequence whose result is not complete yet.

    ``dataset_factory()`` -> dataset (``names``, ``ds[name]`` -> sequence with ``name``,
    ``num_frames``, ``init_box``, ``read_frame``/``frames``); ``tracker_factory(device)`` ->
    tracker (``initialize``, ``track``). Both must be picklable when ``threads > 1``.
    ``dataset``: an already built dataset for this process (saves building it twice).
    ``debug``: in this process, per-frame log, the first error is raised with its traceback.
    """
    out_dir = Path(out_dir)
    if dataset is None:
        dataset = dataset_factory()
    names = list(dataset.names)
    if sequences:
        unknown = [s for s in sequences if s not in names]
        if unknown:
            shown = ", ".join(repr(n) for n in names[:10]) + (" ..." if len(names) > 10 else "")
            raise RunError(f"no sequence named {', '.join(repr(u) for u in unknown)} in the dataset "
                           f"({len(names)} sequences: {shown})")
        names = [n for n in names if n in set(sequences)]
    summary = RunSummary(out_dir=out_dir, total=len(names))

    # Which sequences still need tracking? (lists each sequence's frame folders once)
    todo: List[Tuple[str, int]] = []
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
    if summary.skipped:
        _stderr(f"{len(summary.skipped)} of {len(names)} sequences already have complete results in {out_dir}; "
                f"skipping them")
    if not todo:
        return summary
    out_dir.mkdir(parents=True, exist_ok=True)
    workers = 0 if debug else min(int(threads), len(todo))
    if workers > 1 and all(d == "cpu" for d in devices) and workers > _cpu_count():
        _stderr(f"note: {workers} worker processes on {_cpu_count()} CPU(s) would only add memory (each holds a copy "
                f"of the network); using {_cpu_count()}")
        workers = _cpu_count()
    if workers > 1:
        todo.sort(key=lambda t: -t[1])  # longest first: better balance across workers

    bar = _progress(len(todo), out_dir.name, progress)
    start = time.perf_counter()

    def record(res: dict) -> None:
        if "error" in res:
            summary.failed.append(SequenceFailure(res["name"], res["error"], res.get("details", "")))
            bar.write(f"FAILED {res['name']}: {res['error']}", file=sys.stderr)
        else:
            summary.done.append(res["name"])
            summary.frames += res["frames"]
        elapsed = time.perf_counter() - start
        summary.seconds = elapsed
        bar.set_postfix(fps=f"{summary.frames / max(elapsed, 1e-9):.1f}", failed=len(summary.failed), refresh=False)
        bar.update(1)

    try:
        if workers <= 1:
            tracker = tracker_factory(devices[0])
            for name, _ in todo:
                record(_run_one(tracker, dataset, name, out_dir, debug))
        else:
            _run_pool(dataset_factory, tracker_factory, out_dir, [n for n, _ in todo], workers, devices, record)
    except KeyboardInterrupt:
        summary.interrupted = True
        bar.close()
        _stderr(f"interrupted: {len(summary.done)} sequences finished in this run; the ones in flight are lost. "
                f"Rerun the same command to resume.")
        return summary
    bar.close()
    return summary
