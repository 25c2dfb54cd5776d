r"""Draw the ground truth and several trackers' boxes on the RGB and TIR frames of chosen sequences.

    python tracking/vis_results.py --dataset_name lasher_test --sequence 1blackteacher --sequence 2girl \
        --results_dir IIMF=output/test/tracking_results/tbsi_track/CONFIG/lasher_test \
        --results_dir APFNet=raw/APFNet --results_dir MTNet=raw/MTNet_tracking_result \
        --video vis/                                 # vis/1blackteacher.mp4, vis/2girl.mp4
    ... --frames_dir vis/ --every 5                  # vis/<seq>/00000.png, 00005.png, ...
    ... --grid figure.png --frames 10,150,400        # a paper figure: one row per sequence and frame

Each panel shows RGB | TIR side by side: the visible GT on the RGB half, the infrared GT on the TIR
half (white, outlined), every tracker in its own colour on both, and a legend strip below. Result
folders are read as analysis_results.py reads them (``<prefix><seq><suffix>.txt``, prefix detected
or given as ``NAME=DIR:PREFIX``; 8-value corner rows as the RGBT234/GTOT toolkits read them).
Frame numbers count from 0. Frames come from --data_dir (or lib/config/local.py).
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib.analysis.boxfile import AnalysisError  # noqa: E402
from lib.analysis.qualitative import (encode_png, grid_figure, load_tracker_boxes, render_panel,  # noqa: E402
                                      with_legend)
from lib.analysis.resultfolder import parse_results_entry  # noqa: E402
from lib.data.datasets import DATASETS, DatasetError, get_dataset  # noqa: E402
from lib.config.settings import SettingsError, dataset_dir, env_settings  # noqa: E402
from lib.utils.io import ImageReadError, atomic_write  # noqa: E402
from lib.utils.video import VideoWriter  # noqa: E402

USER_ERROR = 2


def _frame_list(text):
    try:
        frames = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--frames takes frame numbers like 10,150,400, got {text!r}") from None
    if not frames or min(frames) < 0:
        raise argparse.ArgumentTypeError(f"--frames takes frame numbers >= 0, got {text!r}")
    return frames


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset_name", default="lasher_test", choices=list(DATASETS))
    parser.add_argument("--sequence", action="append", required=True, help="sequence name; repeat for several")
    parser.add_argument("--results_dir", action="append", default=[], metavar="NAME=DIR[:PREFIX]",
                        help="a tracker's result folder; repeat for several (one colour each)")
    parser.add_argument("--frames_dir", metavar="DIR", help="write DIR/<seq>/<frame>.png")
    parser.add_argument("--video", metavar="DIR", help="write DIR/<seq>.mp4 (or .gif with --video_format gif)")
    parser.add_argument("--video_format", choices=("mp4", "gif"), default="mp4")
    parser.add_argument("--fps", type=float, default=20.0)
    parser.add_argument("--grid", metavar="PATH", help="write the frames of --frames as one PNG figure")
    parser.add_argument("--frames", type=_frame_list, help="frame numbers (from 0): the grid's frames, or the "
                                                           "only frames written by --frames_dir / --video")
    parser.add_argument("--every", type=int, default=1, help="--frames_dir / --video: every N-th frame")
    parser.add_argument("--columns", type=int, default=1, help="--grid: panels per row")
    parser.add_argument("--data_dir", help="folder holding lasher/, rgbt234/, rgbt210/, gtot/ (overrides local.py)")
    args = parser.parse_args(argv)
    if not (args.frames_dir or args.video or args.grid):
        parser.error("say what to write: --frames_dir DIR, --video DIR and/or --grid PATH")
    if args.grid and not args.frames:
        parser.error("--grid needs --frames (e.g. --frames 10,150,400)")
    if args.every < 1 or args.columns < 1:
        parser.error("--every and --columns must be >= 1")
    return args


def load_trackers(args, seq_names):
    trackers = []
    for index, entry in enumerate(args.results_dir):
        name, folder, prefix = parse_results_entry(entry)
        if not folder.is_dir():
            raise AnalysisError(f"{folder}: results folder not found (given with --results_dir {entry})")
        trackers.append(load_tracker_boxes(name or folder.resolve().name, index, folder, seq_names,
                                           args.dataset_name, prefix))
    return trackers


def frame_indexes(args, sequence):
    """The frames to draw of ``sequence``; an error names the sequence when one is past its end."""
    if args.frames is None:
        return list(range(0, sequence.num_frames, args.every))
    late = [i for i in args.frames if i >= sequence.num_frames]
    if late:
        raise ValueError(f"sequence {sequence.name} has {sequence.num_frames} frames (0..{sequence.num_frames - 1}); "
                         f"--frames asks for {late}")
    return args.frames


def panels(sequence, indexes, trackers):
    """(frame index, panel) for each index, frames read once each."""
    gt = sequence.ground_truth
    gt_rgb = sequence.gt_rgb if sequence.gt_rgb is not None else gt
    gt_tir = sequence.gt_tir if sequence.gt_tir is not None else gt
    for index in indexes:
        yield index, render_panel(sequence.read_frame(index), index, gt_rgb, gt_tir, trackers, sequence.name)


def run(args):
    root = dataset_dir(env_settings(data_dir=args.data_dir), args.dataset_name)
    dataset = get_dataset(args.dataset_name, root)
    sequences = [dataset[name] for name in args.sequence]
    trackers = load_trackers(args, [s.name for s in sequences])
    grid_panels = []
    for sequence in sequences:
        indexes = frame_indexes(args, sequence)
        writer = None
        if args.video:
            writer = VideoWriter(Path(args.video) / f"{sequence.name}.{args.video_format}", args.fps)
        for index, panel in panels(sequence, indexes, trackers):
            if args.frames_dir:
                atomic_write(Path(args.frames_dir) / sequence.name / f"{index:05d}.png",
                             encode_png(with_legend(panel, trackers)))
            if writer is not None:
                writer.write(with_legend(panel, trackers))
            if args.grid:
                grid_panels.append(panel)
        if writer is not None:
            print(f"video written to {writer.close()}")
        if args.frames_dir:
            print(f"{len(indexes)} frames written to {Path(args.frames_dir) / sequence.name}")
    if args.grid:
        atomic_write(args.grid, encode_png(grid_figure(grid_panels, trackers, args.columns)))
        print(f"figure written to {args.grid} ({len(grid_panels)} panels)")
    return 0


def main(argv=None):
    args = parse_args(argv)
    try:
        return run(args)
    except (AnalysisError, DatasetError, SettingsError, ImageReadError, KeyError, ValueError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"error: {str(message).replace(chr(10), ' ')}", file=sys.stderr)
        return USER_ERROR


if __name__ == "__main__":
    sys.exit(main())
