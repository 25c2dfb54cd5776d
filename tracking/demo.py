"""The whole IIMF pipeline in minutes on a laptop CPU, on synthetic RGB-T data.

    python tracking/demo.py [--out output/demo]

1. writes a synthetic RGB-T dataset in the LasHeR layout (tracking/make_synthetic_dataset.py),
2. trains the tiny config `tiny_demo` (experiments/tbsi_track/tiny_demo.yaml) with the real trainer
   (tracking/train.py),
3. tests it on the held-out synthetic sequences with the real tester (tracking/test.py),
4. scores it next to a `static_box` baseline (the first-frame box held forever) with the real
   analysis (tracking/analysis_results.py): table, metrics.json and curves,
5. renders one tracked sequence, RGB and TIR side by side, as a GIF.
Each stage is the same command a user runs on real data; the demo prints it.
"""
import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from lib.data.datasets import get_dataset  # noqa: E402
from lib.utils.io import atomic_write  # noqa: E402
from lib.utils.video import VideoWriter, draw_rgbt  # noqa: E402

CONFIG = "tiny_demo"
MIN_MARGIN = 10.0  # SR points the trained tracker must gain over holding the first box


def stage(title):
    print(f"\n=== {title}", flush=True)


def run(args):
    """Run one of the project's CLIs as a user would, echoing the command."""
    command = [sys.executable, *map(str, args)]
    print("$ " + " ".join(shlex.quote(str(a)) for a in ["python", *map(str, args)]), flush=True)
    subprocess.run(command, cwd=REPO, check=True)


def write_static_baseline(data_dir, out_dir):
    """Results of a tracker that never moves: the first GT box on every frame."""
    dataset = get_dataset("lasher_test", data_dir / "lasher")
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in dataset.names:
        seq = dataset[name]
        row = ",".join(repr(float(v)) for v in seq.ground_truth[0]) + "\n"
        atomic_write(out_dir / f"{name}.txt", row * seq.num_frames)


def render_gif(data_dir, results_dir, path, max_frames=60):
    """The first test sequence with the tracker's box (green) and the ground truth (red)."""
    dataset = get_dataset("lasher_test", data_dir / "lasher")
    seq = dataset[dataset.names[0]]
    boxes = np.loadtxt(results_dir / f"{seq.name}.txt", delimiter=",", ndmin=2)
    writer = VideoWriter(path, fps=10)
    for i in range(min(seq.num_frames, max_frames)):
        writer.write(draw_rgbt(seq.read_frame(i), [boxes[i], seq.ground_truth[i]],
                               colors=((0, 255, 0), (255, 0, 0)), caption=f"{seq.name} #{i}  green: IIMF  red: GT"))
    return writer.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("output/demo"), help="everything goes here")
    parser.add_argument("--train_sequences", type=int, default=16)
    parser.add_argument("--test_sequences", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2, help="tester worker processes")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    data_dir, train_dir = out / "data", out / "train"
    start = time.time()

    stage(f"1/5 synthetic RGB-T dataset in the LasHeR layout -> {data_dir / 'lasher'}")
    run(["tracking/make_synthetic_dataset.py", "--out", data_dir / "lasher",
         "--train", args.train_sequences, "--test", args.test_sequences])

    stage(f"2/5 training config {CONFIG} (experiments/tbsi_track/{CONFIG}.yaml) -> {train_dir}")
    run(["tracking/train.py", "--script", "tbsi_track", "--config", CONFIG, "--save_dir", train_dir,
         "--mode", "single", "--data_dir", data_dir])

    stage("3/5 tracking the held-out synthetic test sequences")
    run(["tracking/test.py", "tbsi_track", CONFIG, "--dataset_name", "lasher_test", "--threads", args.threads,
         "--num_gpus", 0, "--data_dir", data_dir, "--save_dir", train_dir])
    results = train_dir / "test" / "tracking_results" / "tbsi_track" / CONFIG / "lasher_test"
    static = out / "static_box"
    write_static_baseline(data_dir, static)

    stage("4/5 scores (pytracking protocol) of IIMF and the static_box baseline")
    metrics = out / "metrics.json"
    run(["tracking/analysis_results.py", "--results_dir", f"{CONFIG}={results}", "--results_dir",
         f"static_box={static}", "--dataset_name", "lasher_test", "--gt_dir", data_dir / "lasher",
         "--attributes", "--plot", out / "plots", "--metrics_json", metrics])

    stage("5/5 one tracked sequence, RGB | TIR")
    gif = render_gif(data_dir, results, out / "tracking_demo.gif")

    scores = json.loads(metrics.read_text())["trackers"]
    margin = scores[CONFIG]["SR"] - scores["static_box"]["SR"]
    verdict = "beats" if margin >= MIN_MARGIN else f"does NOT beat (by {MIN_MARGIN} SR points)"
    print(f"\nDone in {time.time() - start:.0f} s. The trained IIMF ({CONFIG}) {verdict} the static_box baseline: "
          f"SR {scores[CONFIG]['SR']:.2f} vs {scores['static_box']['SR']:.2f} ({margin:+.2f} points).")
    print(f"  dataset:     {data_dir / 'lasher'}\n  checkpoints: {train_dir / 'checkpoints'}\n"
          f"  results:     {results}\n  metrics:     {metrics}\n  curves:      {out / 'plots'}\n  video:       {gif}")
    return 0 if margin >= MIN_MARGIN else 1


if __name__ == "__main__":
    sys.exit(main())
