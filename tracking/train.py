r"""Train IIMF.

    python tracking/train.py --script tbsi_track --config vitb_256_tbsi_32x4_4e4_lasher_15ep_in1k \
        --save_dir ./output/vitb_256_tbsi_32x4_4e4_lasher_15ep_in1k --mode multiple --nproc_per_node 4
    python tracking/train.py --script tbsi_track --config tiny_demo --save_dir ./output/tiny \
        --mode multiple --nproc_per_node 2 --data_dir ./data        # CPU: gloo

Rerunning the same command resumes from the latest checkpoint. See lib/train/launch.py.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib.train.launch import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
