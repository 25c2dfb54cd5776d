r"""Track a target through a pair of RGB and TIR videos (or frame folders) and write the annotated video.

    python tracking/video_demo.py tbsi_track vitb_256_tbsi_32x1_1e4_lasher_15ep_sot \
        --rgb visible.mp4 --tir infrared.mp4 --init 120,80,40,60 --out output/demo.mp4

The RGB and TIR inputs must be registered (same size) and have the same number of frames.
Without --init, the first row of an init.txt / groundtruth file next to the RGB input is used.
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib.config import config_name, load_config  # noqa: E402
from lib.test.options import add_inference_args, options_from_args  # noqa: E402
from lib.test.tracker import build_tracker  # noqa: E402
from lib.utils.arguments import add_experiment_args  # noqa: E402
from lib.utils.checkpoint_files import find_checkpoint  # noqa: E402
from lib.utils.io import atomic_write, read_boxes  # noqa: E402
from lib.utils.video import FrameSource, VideoWriter, draw_rgbt, paired_frames  # noqa: E402

GT_FILES = ("init.txt", "groundtruth.txt", "groundTruth_v.txt", "visible.txt")


def parse_box(text):
    try:
        box = [float(v) for v in text.replace(" ", ",").split(",") if v]
    except ValueError:
        box = []
    if len(box) != 4 or box[2] <= 0 or box[3] <= 0:
        raise argparse.ArgumentTypeError(f"--init expects x,y,w,h with w, h > 0, got {text!r}")
    return box


def initial_box(args):
    if args.init is not None:
        return args.init
    rgb = Path(args.rgb)
    for folder in (rgb, rgb.parent):
        for name in GT_FILES:
            if (folder / name).is_file():
                box = read_boxes(folder / name)[0].tolist()
                print(f"initial box {box} from {folder / name}")
                return box
    raise SystemExit(f"error: no --init box given and no {'/'.join(GT_FILES)} next to {rgb}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_experiment_args(parser)
    parser.add_argument("--rgb", required=True, help="RGB video file or folder of frames")
    parser.add_argument("--tir", required=True, help="TIR video file or folder of frames")
    parser.add_argument("--init", type=parse_box, help="initial box x,y,w,h in pixels of the first frame")
    add_inference_args(parser)
    parser.add_argument("--save_dir", default="./output", help="where training wrote its checkpoints")
    parser.add_argument("--out", default="output/video_demo.mp4", help=".mp4, .avi or .gif to write")
    parser.add_argument("--boxes", help="also write the boxes (x,y,w,h per frame) to this text file")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    args = parser.parse_args(argv)
    try:
        options = options_from_args(args)
    except ValueError as err:
        parser.error(str(err))

    try:
        cfg = load_config(args.tracker_param, args.tracker_name)
        name = config_name(args.tracker_param)
        epoch = cfg.TEST.EPOCH if args.epoch is None else args.epoch
        checkpoint = None if options.backend == "onnxruntime" else find_checkpoint(
            args.save_dir, name, epoch, args.tracker_name, args.checkpoint, config_arg=args.tracker_param)
        rgb, tir = FrameSource(args.rgb, "RGB"), FrameSource(args.tir, "TIR")
        frames = paired_frames(rgb, tir)
        box = initial_box(args)
        tracker = build_tracker(cfg, checkpoint, args.device, precision=options.precision, backend=options.backend,
                                onnx=options.onnx, tie_check=options.tie_check)
        if options.backend == "onnxruntime":
            tracker.net.check_config(cfg, name)
            print(f"model {options.onnx} on onnxruntime")
        else:
            print(f"checkpoint {checkpoint}, precision {options.precision}, device {tracker.device}")
        boxes, seconds = [], 0.0  # tracking time only (not reading, drawing or encoding)
        with VideoWriter(args.out, fps=getattr(rgb, "fps", 20.0)) as writer:
            for index, frame in enumerate(frames):
                start = time.perf_counter()
                box = tracker.initialize(frame, box) if index == 0 else tracker.track(frame)
                seconds += time.perf_counter() - start
                boxes.append(box)
                writer.write(draw_rgbt(frame, [box], caption=f"frame {index}"))
    except (FileNotFoundError, ValueError, RuntimeError) as err:
        raise SystemExit(f"error: {err}") from None
    out = writer.path
    if args.boxes:
        atomic_write(args.boxes, "".join(",".join(repr(float(v)) for v in b) + "\n" for b in boxes))
    print(f"tracked {len(boxes)} frames in {seconds:.1f} s of tracking ({len(boxes) / seconds:.1f} FPS); wrote {out}")


if __name__ == "__main__":
    main()
