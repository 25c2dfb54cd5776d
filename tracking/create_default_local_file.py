#!/usr/bin/env python
"""Write the local path file for training, testing and analysis (ignored by git):

    python tracking/create_default_local_file.py --workspace_dir . --data_dir DATA --save_dir ./output

writes lib/config/local.py with absolute paths: LasHeR at DATA/lasher (the folder holding
trainingset/, testingset/ and the list files; pointing lasher_dir at the testingset folder itself
also works for testing), RGBT234 at DATA/rgbt234, RGBT210 at DATA/rgbt210, GTOT at DATA/gtot (a
differently-cased existing folder such as DATA/LasHeR is picked up), results and checkpoints under
--save_dir, pretrained weights in <workspace_dir>/pretrained_models. Edit it afterwards if your
folders live elsewhere. OSTrack's lib/train/admin/local.py and lib/test/evaluation/local.py are
written as shims that re-export it. Existing files are overwritten.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib.config.settings import (DATA_SUBDIRS, LOCAL_FILE, OSTRACK_LOCAL_FILES, PRJ_DIR,  # noqa: E402
                                 default_paths, local_file_text)
from lib.utils.io import atomic_write  # noqa: E402

SHIM = ('"""OSTrack\'s place for the local paths. This project keeps one set of paths for training and\n'
        'testing in lib/config/local.py (edit that file); this shim re-exports it."""\n'
        'from lib.config.local import *  # noqa: F401,F403\n')


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
    root = Path(args.output_root) if args.output_root is not None else PRJ_DIR
    local_file = root / LOCAL_FILE.relative_to(PRJ_DIR)
    atomic_write(local_file, local_file_text(paths))
    print(f"wrote {local_file}")
    for shim in OSTRACK_LOCAL_FILES:
        atomic_write(root / shim.relative_to(PRJ_DIR), SHIM)
    for setting in DATA_SUBDIRS:
        state = "" if Path(paths[setting]).is_dir() else "   (does not exist yet)"
        print(f"  {setting:12s} = {paths[setting]}{state}")
    print(f"  save_dir     = {paths['save_dir']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
