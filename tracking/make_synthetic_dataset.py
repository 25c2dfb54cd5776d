"""Write a synthetic RGB-T dataset in the real LasHeR layout.

    python tracking/make_synthetic_dataset.py --out DIR [--train N --test M --frames K --size WxH --seed S]

DIR gets trainingset/, testingset/, trainingsetList.txt, testingsetList.txt (and synthetic.json
with the generator parameters). Rerunning with the same parameters reuses the dataset.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib.data.synthetic import generate_dataset  # noqa: E402
from lib.utils.arguments import frame_count, frame_size, non_negative_int  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="output folder (gets the LasHeR layout)")
    p.add_argument("--train", type=non_negative_int, default=12, help="training sequences (default 12)")
    p.add_argument("--test", type=non_negative_int, default=4, help="test sequences (default 4)")
    p.add_argument("--frames", type=frame_count, default=None, help="frames per sequence: K or LO-HI (default 40-60)")
    p.add_argument("--size", type=frame_size, default=(320, 256), help="frame size WxH (default 320x256)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--no-traps", action="store_true",
                   help="plain names and every GT file (default reproduces LasHeR's traps: names with a space, "
                        "backtick and apostrophe; one training sequence without visible.txt)")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty --out folder")
    p.add_argument("-q", "--quiet", action="store_true")
    a = p.parse_args(argv)
    if a.train + a.test == 0:
        p.error("--train and --test are both 0: nothing to generate")
    if not a.quiet:
        print(f"Generating synthetic RGB-T dataset (LasHeR layout) in {a.out}: {a.train} train + {a.test} test "
              f"sequences, {a.size[0]}x{a.size[1]}, seed {a.seed}", flush=True)
    try:
        s = generate_dataset(a.out, a.train, a.test, frames=a.frames, size=a.size, seed=a.seed,
                             traps=not a.no_traps, overwrite=a.overwrite, verbose=not a.quiet)
    except (FileExistsError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not a.quiet:
        n = sum(len(v) for v in s["splits"].values())
        frames = sum(x["frames"] for v in s["splits"].values() for x in v)
        verb = "Reused existing" if s["reused"] else "Wrote"
        print(f"{verb} {n} sequences ({frames} frames) in {s['root']} [{s['seconds']:.1f} s]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
