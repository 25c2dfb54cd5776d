r"""End-to-end tracking speed: tracking/test.py on a dataset with 1, 2, ... worker processes.

    python tracking/benchmark_throughput.py --config tiny_demo --checkpoint CKPT --data_dir output/demo/data \
        --workers 1,2 --precision fp32

For each worker count it runs test.py as a user would (a fresh results folder each time) and reports
the wall time, the frames per second of the whole run, and the mean per-frame time test.py records
(<seq>_time.txt: cropping, normalising, the network and the box, frame reading overlapped on a
thread), the part of it test.py measured inside the network's forward, and the network's forward
alone, timed here before and after the run with the same torch threads per worker.
"""
import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from lib.config import load_config  # noqa: E402
from lib.models.iimf import load_iimf  # noqa: E402
from lib.models.iimf.int8 import default_calibration_path, load_calibration  # noqa: E402
from lib.test.pool import torch_threads_per_worker  # noqa: E402
from lib.test.tracker import fast_network  # noqa: E402
from lib.utils.io import atomic_write  # noqa: E402
from lib.utils.profiling import summarize_times, time_forward, tracking_inputs  # noqa: E402


def forward_ms(cfg, checkpoint, precision, threads, runs=10):
    """Median ms of the network's forward alone (the fast path's own, without tie re-checks)."""
    torch.set_num_threads(threads)
    net = load_iimf(cfg, checkpoint)
    ranges = load_calibration(default_calibration_path(checkpoint), cfg, checkpoint) if precision == "int8" else None
    net = fast_network(net, cfg, precision, "cpu", tie_check=False, int8_ranges=ranges)
    template, search = tracking_inputs(cfg)

    def forward():
        with torch.inference_mode():
            net(template=template, search=search, return_features=False)

    return summarize_times(time_forward(forward, runs))["latency_ms"]


def run_test(args, workers, save_dir):
    """test.py with ``workers`` processes; returns (wall seconds, per-frame seconds of every tracked frame,
    ms per frame that test.py reports its workers spent in the network's forward)."""
    command = [sys.executable, str(REPO / "tracking" / "test.py"), "tbsi_track", args.config, "--checkpoint",
               str(args.checkpoint), "--data_dir", str(args.data_dir), "--save_dir", str(save_dir), "--num_gpus", "0",
               "--threads", str(workers), "--precision", args.precision, "--no_progress"]
    if args.no_tie_check:
        command.append("--no_tie_check")
    start = time.perf_counter()
    out = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout
    wall = time.perf_counter() - start
    times = [np.loadtxt(path, ndmin=1)[1:] for path in Path(save_dir).rglob("*_time.txt")]  # frame 0: init
    network = re.search(r"of which ([0-9.]+) ms in the network", out)
    return wall, np.concatenate(times), float(network.group(1)) if network else float("nan")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="config name or YAML path")
    parser.add_argument("--checkpoint", required=True, type=Path)
    parser.add_argument("--data_dir", required=True, type=Path, help="dataset folder (lasher_test is tracked)")
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts (default 1,2)")
    parser.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "int8"))
    parser.add_argument("--no_tie_check", action="store_true",
                        help="fast paths without the exact re-checks (random weights re-check most frames)")
    parser.add_argument("--json", type=Path, help="write the numbers here too")
    args = parser.parse_args(argv)
    try:
        counts = [int(n) for n in args.workers.split(",") if n.strip()]
    except ValueError:
        parser.error(f"--workers expects comma-separated integers, got {args.workers!r}")
    if not counts or min(counts) < 1:
        parser.error(f"--workers needs counts >= 1, got {args.workers!r}")
    cfg = load_config(args.config)
    rows = []
    print(f"{'workers':>7} {'frames':>7} {'wall s':>8} {'frames/s':>9} {'test.py ms/frame':>17} "
          f"{'of it network ms':>17} {'forward ms':>11} {'test.py/forward':>16}")
    for workers in counts:
        threads = torch_threads_per_worker(workers)
        before = forward_ms(cfg, args.checkpoint, args.precision, threads)
        with tempfile.TemporaryDirectory() as save_dir:
            wall, times, network = run_test(args, workers, save_dir)
        frames = len(times)
        forward = (before + forward_ms(cfg, args.checkpoint, args.precision, threads)) / 2  # drift, halved
        row = {"workers": workers, "frames": frames, "wall_s": wall, "frames_per_s": frames / wall,
               "test_ms_per_frame": 1000 * float(np.mean(times)), "network_in_test_ms": network,
               "forward_ms": forward}
        row["test_over_forward"] = row["test_ms_per_frame"] / forward
        rows.append(row)
        print(f"{workers:>7} {frames:>7} {wall:>8.1f} {row['frames_per_s']:>9.2f} "
              f"{row['test_ms_per_frame']:>17.1f} {network:>17.1f} {forward:>11.1f} {row['test_over_forward']:>16.2f}")
    print("wall time includes starting the workers and loading the model; test.py ms/frame is the tracker's "
          "own per-frame time (a fast path's tie re-checks included), and 'of it network' the part test.py "
          "measured inside the network's forward (frame 0 included); forward ms is the forward alone, timed "
          "before and after the run in this process (the mean of the two medians) with the threads of one worker "
          "(with several workers, the workers "
          "share the memory bandwidth and caches that the forward alone has to itself)")
    if args.json:
        atomic_write(args.json, json.dumps({"config": args.config, "precision": args.precision, "rows": rows},
                                           indent=2) + "\n")


if __name__ == "__main__":
    main()
