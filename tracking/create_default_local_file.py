#!/usr/bin/env python
"""Write the local path files for training and testing (both ignored by git):

    python tracking/create_default_local_file.py --workspace_dir . --data_dir DATA --save_dir ./output

writes lib/train/admin/local.py and lib/test/evaluation/local.py with absolute paths:
LasHeR at DATA/lasher (the folder holding trainingset/, testingset/ and the list files; pointing
lasher_dir at the testingset folder itself also works for testing), RGBT234 at DATA/rgbt234,
RGBT210 at DATA/rgbt210, GTOT at DATA/gtot (a differently-cased existing folder such as
DATA/LasHeR is picked up), results and checkpoints under --save_dir, pretrained weights in
<workspace_dir>/pretrained_models. Edit the files afterwards if your folders live elsewhere.
Existing files are overwritten.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib.test.evaluation.environment import DATA_SUBDIRS, LOCAL_FILE as TEST_LOCAL, PRJ_DIR, default_paths  # noqa: E402
from lib.train.admin.environment import LOCAL_FILE as TRAIN_LOCAL  # noqa: E402
from lib.utils.io import atomic_write  # noqa: E402

HEADER = ('"""Local paths ({what}). Written by tracking/create_default_local_file.py; ignored by git.\n'
          'Edit freely. lasher_dir: the folder holding trainingset/ and testingset/ (or, for testing,\n'
          'the testingset folder itself)."""\n')


def _lines(paths, attrs, indent, target):
    width = max(len(a) for a in attrs)
    return [f"{indent}{target}.{a.ljust(width)} = {str(paths[a])!r}" for a in attrs]


def train_local_text(paths) -> str:
    attrs = ["workspace_dir", "save_dir", "tensorboard_dir", "pretrained_networks", *DATA_SUBDIRS]
    body = "\n".join(_lines(paths, attrs, " " * 8, "self"))
    return (HEADER.format(what="training") + "\n\nclass EnvironmentSettings:\n"
            "    def __init__(self):\n" + body + "\n")


def test_local_text(paths) -> str:
    attrs = ["workspace_dir", "save_dir", "results_path", "tensorboard_dir", "pretrained_networks", *DATA_SUBDIRS]
    body = "\n".join(_lines(paths, attrs, " " * 4, "settings"))
    return (HEADER.format(what="testing") + "\nfrom lib.test.evaluation.environment import EnvSettings\n\n\n"
            "def local_env_settings():\n    settings = EnvSettings()\n" + body + "\n    return settings\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace_dir", default=".", help="project workspace (default: .)")
    parser.add_argument("--data_dir", required=True,
                        help="folder holding the datasets: lasher/, rgbt234/, rgbt210/, gtot/")
    parser.add_argument("--save_dir", default="./output",
                        help="where checkpoints, logs and tracking results go (default: ./output)")
    parser.add_argument("--output_root", default=None, help=argparse.SUPPRESS)  # tests: write elsewhere
    args = parser.parse_args(argv)

    paths = default_paths(args.workspace_dir, args.data_dir, args.save_dir)
    train_file, test_file = TRAIN_LOCAL, TEST_LOCAL
    if args.output_root is not None:
        root = Path(args.output_root)
        train_file = root / TRAIN_LOCAL.relative_to(PRJ_DIR)
        test_file = root / TEST_LOCAL.relative_to(PRJ_DIR)
    atomic_write(train_file, train_local_text(paths))
    atomic_write(test_file, test_local_text(paths))
    print(f"wrote {train_file}")
    print(f"wrote {test_file}")
    for attr in DATA_SUBDIRS:
        state = "" if Path(paths[attr]).is_dir() else "   (does not exist yet)"
        print(f"  {attr:12s} = {paths[attr]}{state}")
    print(f"  save_dir     = {paths['save_dir']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
