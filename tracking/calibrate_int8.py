r"""Calibrate the int8 path: the activation ranges of the backbone's Linear layers, recorded while the
exact float32 tracker tracks the first frames of some sequences.

    python tracking/calibrate_int8.py tbsi_track vitb_256_tbsi_32x1_1e4_lasher_15ep_sot \
        --checkpoint CKPT --dataset_name lasher_train --sequences 8 --frames 30 [--data_dir DATA]

Writes ``<checkpoint name>.int8.pt`` beside the checkpoint (or --out), where test.py, video_demo.py and
the tracker look for it with --precision int8. The file records the config (name and a fingerprint of
its MODEL/DATA/TEST settings), the checkpoint (path and sha256), the crop sizes and the sequences and
frames it saw; the int8 path refuses it for another config, crop size or checkpoint.
Calibrate on training sequences, not on the ones you evaluate on.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from lib.config import config_name, load_config  # noqa: E402
from lib.config.settings import dataset_dir, env_settings  # noqa: E402
from lib.data.datasets import dataset_key, get_dataset  # noqa: E402
from lib.models.iimf import load_iimf  # noqa: E402
from lib.models.iimf.int8 import default_calibration_path, save_calibration  # noqa: E402
from lib.test.calibration import calibrate_by_tracking, spread  # noqa: E402
from lib.utils.arguments import add_experiment_args  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_experiment_args(parser)
    parser.add_argument("--checkpoint", required=True, help="the weights the int8 path will run")
    parser.add_argument("--data_dir", default=None,
                        help="folder holding lasher/, rgbt234/, ... (overrides lib/config/local.py), as for test.py")
    parser.add_argument("--dataset_name", default="lasher_train", help="dataset to calibrate on (default lasher_train)")
    parser.add_argument("--sequences", type=int, default=8, help="sequences, spread over the split (default 8)")
    parser.add_argument("--frames", type=int, default=30, help="first frames tracked per sequence (default 30)")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--out", type=Path, help="calibration file (default: <checkpoint name>.int8.pt beside it)")
    args = parser.parse_args(argv)
    if args.sequences < 1 or args.frames < 2:
        parser.error("--sequences must be >= 1 and --frames >= 2")
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        cfg = load_config(args.tracker_param, args.tracker_name)
        name = dataset_key(args.dataset_name)
        root = dataset_dir(env_settings(data_dir=args.data_dir), name)
        dataset = get_dataset(name, root)
        if len(dataset) == 0:
            raise ValueError(f"{root}: no {name} sequences to calibrate on")
        sequences = [dataset[i] for i in spread(args.sequences, len(dataset))]
        net = load_iimf(cfg, args.checkpoint)
        recorder = calibrate_by_tracking(net, cfg, sequences, args.frames)
        out = args.out or default_calibration_path(args.checkpoint)
        save_calibration(out, recorder.ranges, cfg, config_name(args.tracker_param), args.checkpoint, recorder.frames,
                         [seq.name for seq in sequences])
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"calibrated {len(recorder.ranges)} layers on {recorder.frames} frames of {len(sequences)} "
          f"{args.dataset_name} sequences; wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
