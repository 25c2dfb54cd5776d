"""Worker processes for tracking: devices, threads, and a pool that survives failing sequences.

``threads`` worker processes are spawned (one per CPU at most on a CPU-only run: more would only
multiply the network's memory), each loading the network once, using ``max(1, cpus // workers)``
torch threads and one of the devices round-robin (``cuda:0``, ``cuda:1``, ... or ``cpu``). A
failing sequence does not stop the others; a worker that dies fails only the sequence it was
tracking. Ctrl-C stops the workers at once; workers also exit by themselves if the parent dies.
"""
from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import threading
import traceback
import warnings
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import cv2
import torch

from lib.utils.system import available_cpus

__all__ = ["select_devices", "worker_devices", "torch_threads_per_worker", "run_pool"]

CPU_SPEED_NOTE = "slow: about 0.5 s per frame for the ViT-B configs on 2 cores"


def select_devices(num_gpus: Optional[int]) -> List[str]:
    """``['cuda:0', ..., 'cuda:k-1']`` for ``k = min(num_gpus, available)`` (all when None), or
    ``['cpu']`` with a warning when ``num_gpus == 0`` or no GPU is usable."""
    available = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if num_gpus is not None and num_gpus < 0:
        raise ValueError(f"--num_gpus must be >= 0, got {num_gpus}")
    if num_gpus == 0:
        warnings.warn(f"--num_gpus 0: running on the CPU ({CPU_SPEED_NOTE})", stacklevel=2)
        return ["cpu"]
    if available == 0:
        warnings.warn(f"no CUDA GPU available: running on the CPU ({CPU_SPEED_NOTE})", stacklevel=2)
        return ["cpu"]
    k = available if num_gpus is None else num_gpus
    if k > available:
        warnings.warn(f"--num_gpus {k} but only {available} GPU(s) visible: using {available}", stacklevel=2)
        k = available
    return [f"cuda:{i}" for i in range(k)]


def worker_devices(workers: int, devices: Sequence[str]) -> List[str]:
    """The device of each worker: ``devices`` round-robin (worker i gets ``devices[i % len]``)."""
    if not devices:
        raise ValueError("no device to run on")
    return [devices[i % len(devices)] for i in range(workers)]


def torch_threads_per_worker(workers: int) -> int:
    """Torch intra-op threads per worker so that ``workers`` processes share the CPUs."""
    return max(1, available_cpus() // max(1, workers))


def _start_worker(tracker_factory, dataset_factory, device: str, n_threads: int, load_lock=None) -> dict:
    """Per-process setup: threads, device, dataset and tracker (built while holding ``load_lock``,
    so that workers load their checkpoint copies one at a time: the transient memory of loading
    is paid once, not N times). A failure is kept and reported with every sequence this worker
    picks up (instead of killing the pool)."""
    torch.set_num_threads(n_threads)
    cv2.setNumThreads(1)
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


def _worker_sequence(state: dict, name: str, out_dir: Path, track_one: Callable) -> dict:
    if "init_error" in state:
        msg, details = state["init_error"]
        return {"name": name, "error": msg, "details": details}
    return track_one(state["tracker"], state["dataset"], name, out_dir, False)


def _exit_on_signal(signum, frame):
    raise SystemExit(128 + signum)   # unwinds: atomic writes in progress remove their temp files


def _watch_parent() -> None:
    """Exit when the parent process dies (killed without a chance to stop its workers)."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch():
        parent.join()
        os._exit(1)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def _worker_main(wid: int, tracker_factory, dataset_factory, track_one, device: str, n_threads: int, out_dir: str,
                 tasks, results, load_lock) -> None:
    """Worker process: Ctrl-C is the parent's business (it stops the workers); take sequence
    names from ``tasks`` until ``None``; report ("start", wid, name) and ("result", wid, dict)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _exit_on_signal)
    _watch_parent()
    state = _start_worker(tracker_factory, dataset_factory, device, n_threads, load_lock)
    while True:
        name = tasks.get()
        if name is None:
            break
        results.put(("start", wid, name))
        results.put(("result", wid, _worker_sequence(state, name, Path(out_dir), track_one)))


def run_pool(dataset_factory, tracker_factory, track_one: Callable, out_dir: Path, names: List[str], workers: int,
             devices: Sequence[str], record: Callable[[dict], None]) -> None:
    """Track ``names`` on ``workers`` spawned processes.

    Args:
        dataset_factory, tracker_factory: picklable; build the dataset and the tracker (on a
            device) inside each worker.
        track_one: ``track_one(tracker, dataset, name, out_dir, debug)`` -> result dict (picklable,
            a module-level function).
        record: gets each sequence's result dict as it arrives.

    Any exception here (Ctrl-C included) stops all workers before it propagates.
    """
    ctx = multiprocessing.get_context("spawn")
    tasks, results, load_lock = ctx.Queue(), ctx.Queue(), ctx.Lock()
    n_threads = torch_threads_per_worker(workers)
    procs = [ctx.Process(target=_worker_main, name=f"tracker-worker-{wid}", daemon=True,
                         args=(wid, tracker_factory, dataset_factory, track_one, device, n_threads, str(out_dir),
                               tasks, results, load_lock))
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
            except queue.Empty:
                _account_for_dead_workers(procs, in_flight, remaining, record)
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


def _account_for_dead_workers(procs, in_flight: Dict[int, str], remaining: set, record: Callable) -> None:
    """Fail the sequence a dead worker was tracking; when every worker is gone, fail the rest."""
    for wid, proc in enumerate(procs):
        if wid in in_flight and not proc.is_alive():
            name = in_flight.pop(wid)
            remaining.discard(name)
            record({"name": name, "error": f"worker process died (exit code {proc.exitcode}) while tracking it"})
    if remaining and not any(p.is_alive() for p in procs):
        for name in sorted(remaining):
            record({"name": name, "error": "not tracked: every worker process has exited"})
        remaining.clear()
