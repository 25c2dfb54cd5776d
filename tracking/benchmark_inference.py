r"""Speed of the inference paths side by side, and how far their boxes move from the exact path.

    python tracking/benchmark_inference.py --config vitb_256_tbsi_32x1_1e4_lasher_15ep_sot --threads 2 --runs 5
    python tracking/benchmark_inference.py --config tiny_demo \
        --checkpoint output/demo/train/checkpoints/train/tbsi_track/tiny_demo/TBSITrack_ep0008.pth.tar \
        --data_dir output/demo/data           # adds boxes and scores on the synthetic test sequences

Paths: plain (lib/models/iimf/reference.py: the same weights computed the original's way, per
stream, over all tokens, with the discarded work and the BLAS matrix products; a stand-in for the
official model), exact (the tracker's default), bf16 and int8 (CPU), fp16 and bf16 (GPU),
onnxruntime (float32). Timings alternate between the paths round by round, so drift in machine
load hits all of them alike. Ratios are against `plain`. With --data_dir, every path also tracks
the synthetic test sequences: its SR/PR, and its box deviation from the exact path on the same
crops (its own arithmetic error) and when tracking on its own (where the crop window's rounding to
whole pixels turns any difference into a shifted crop now and then; the last line says how far the
exact path's box moves when its crop moves by one pixel).
"""
import argparse
import copy
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from lib.analysis.protocols import get_protocol  # noqa: E402
from lib.analysis.scores import score_boxes, summarize  # noqa: E402
from lib.config import load_config  # noqa: E402
from lib.data.datasets import DatasetError, get_dataset  # noqa: E402
from lib.models.iimf import build_iimf, load_iimf  # noqa: E402
from lib.models.iimf.inference import prepare_for_inference  # noqa: E402
from lib.models.iimf.int8 import RangeRecorder, default_calibration_path, load_calibration  # noqa: E402
from lib.models.iimf.onnx_backend import OnnxRuntimeNet, export_onnx  # noqa: E402
from lib.models.iimf.reference import ReferenceNet  # noqa: E402
from lib.test.calibration import calibrate_by_tracking, spread  # noqa: E402
from lib.test.runner import track_sequence  # noqa: E402
from lib.test.tracker import TIE_MARGINS, IIMFTracker, TieCheckedNet, response_window  # noqa: E402
from lib.utils.io import atomic_write  # noqa: E402
from lib.utils.profiling import time_call, tracking_inputs  # noqa: E402

PATHS = ("plain", "exact", "bf16", "int8", "fp16", "onnxruntime")


def int8_ranges_for(net, cfg, args, template, search):
    """The int8 path's calibration: --calibration, else the file beside --checkpoint that test.py would
    use, else tracked frames of the training sequences in --data_dir (as tracking/calibrate_int8.py
    makes it; the test sequences' when there are none, with a note), else the timing inputs."""
    if args.calibration or (args.checkpoint and default_calibration_path(args.checkpoint).is_file()):
        path = args.calibration or default_calibration_path(args.checkpoint)
        print(f"int8: calibration {path}")
        return load_calibration(path, cfg, args.checkpoint)
    if args.data_dir:
        split = "lasher_train"
        try:
            dataset = _dataset(args.data_dir, split)
        except DatasetError:
            split = "lasher_test"
            print(f"int8: no training sequences in {args.data_dir}: calibrating on the test sequences' first frames")
            dataset = _dataset(args.data_dir, split)
        sequences = [dataset[i] for i in spread(8, len(dataset))]
        print(f"int8: calibrating on the first 30 frames of {len(sequences)} {split} sequences")
        return calibrate_by_tracking(net, cfg, sequences, 30).ranges
    with RangeRecorder(net.backbone) as recorder, torch.inference_mode():
        net(template=template, search=search, return_features=False)
    return recorder.ranges


def _dataset(data_dir, name):
    return get_dataset(name, Path(data_dir) / "lasher" if (Path(data_dir) / "lasher").is_dir() else data_dir)


def build_paths(net, cfg, device, names, threads, workdir, int8_ranges=None):
    """name -> callable(template, search) for every requested path that this device supports."""
    paths = {}
    for name in names:
        if name == "plain":
            paths[name] = ReferenceNet(net)
        elif name == "onnxruntime":
            tmp = Path(workdir) / "model.onnx"
            export_onnx(net, cfg, tmp)
            paths[name] = OnnxRuntimeNet(tmp, threads=threads, device=device)
        else:
            try:
                paths[name] = prepare_for_inference(copy.deepcopy(net), name if name != "exact" else "fp32", device,
                                                    int8_ranges=int8_ranges)
            except ValueError as err:
                print(f"skipping {name}: {err}")
    return paths


def time_paths(paths, template, search, runs, device):
    """Seconds per forward of each path, the paths taking turns round by round (CUDA events on a GPU)."""
    times = {name: [] for name in paths}
    with torch.inference_mode():
        for fn in paths.values():  # warm-up
            fn(template=template, search=search)
            fn(template=template, search=search)
        for _ in range(runs):
            for name, fn in paths.items():
                times[name].append(time_call(lambda: fn(template=template, search=search), device))
    return times


def box_deviations(paths, cfg, data_dir, device, max_sequences):
    """Each path's boxes on the synthetic test sequences against the exact path's, two ways, and its scores.

    same crops: on every frame, every path predicts from the search crop the exact tracker cut; the
    difference is the path's own numerical error, in pixels.
    own tracking: every path tracks on its own. The crop window is rounded to whole pixels, so any
    difference at all (float32 noise included: see `plain`) now and then shifts a crop by a pixel,
    and from there the boxes differ by as much as the model's prediction depends on where the
    crop falls; this is a property of the model, not of the path's arithmetic.
    """
    window = response_window(cfg).to(device)
    paths = {name: TieCheckedNet(fn, paths["exact"], window, TIE_MARGINS[name]) if name in TIE_MARGINS else fn
             for name, fn in paths.items()}  # the fast paths as test.py runs them
    dataset = _dataset(data_dir, "lasher_test")
    sequences = [dataset[name] for name in list(dataset.names)[:max_sequences]]
    same_crop = {name: [] for name in paths if name != "exact"}
    shifted_crop = []  # the exact path on a crop moved by one pixel: how much boxes depend on the crop
    own = {name: [] for name in paths}
    for seq in sequences:
        trackers = {name: IIMFTracker(fn, cfg, device) for name, fn in paths.items()}
        exact = trackers.pop("exact")
        shifted = IIMFTracker(paths["exact"], cfg, device)
        for i, frame in seq.frames():
            if i == 0:
                for tracker in (exact, shifted, *trackers.values()):
                    tracker.initialize(frame, seq.init_box)
                continue
            state = list(exact.state)
            exact_box = np.asarray(exact.track(frame))
            shifted.state = [state[0] + 1, state[1] + 1, state[2], state[3]]
            shifted_crop.append(np.abs(np.asarray(shifted.track(frame)) - exact_box).max())
            for name, tracker in trackers.items():
                tracker.state = list(state)
                same_crop[name].append(np.abs(np.asarray(tracker.track(frame)) - exact_box).max())
        for name, fn in paths.items():
            own[name].append(np.asarray(track_sequence(IIMFTracker(fn, cfg, device), seq)[0]))
    protocol = get_protocol("pytracking", "lasher_test")
    gts = [{"init": seq.ground_truth} for seq in sequences]
    report = {"crop_moved_1px": _deviation_summary(np.asarray(shifted_crop))}
    for name, boxes in own.items():
        scores = summarize(protocol, score_boxes(protocol, name, boxes, gts, [s.name for s in sequences]))
        entry = {"SR": scores["SR"], "PR": scores["PR"]}
        if name != "exact":
            tracked = np.concatenate([np.abs(b - e).max(axis=1)[1:] for b, e in zip(boxes, own["exact"])])
            entry["same_crops"] = _deviation_summary(np.asarray(same_crop[name]))
            entry["own_tracking"] = _deviation_summary(tracked)
        if isinstance(paths[name], TieCheckedNet):
            entry["rechecked_frames"] = paths[name].rechecked / max(paths[name].frames, 1)
        report[name] = entry
    return report


def _deviation_summary(per_frame):
    return {"max_px": float(per_frame.max()), "mean_px": float(per_frame.mean()),
            "frames_within_1px": float((per_frame <= 1).mean()), "frames": len(per_frame)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="config name or YAML path")
    parser.add_argument("--script", default="tbsi_track", help="experiment family (folder under experiments/)")
    parser.add_argument("--checkpoint", help="weights; default random (fine for speed, not for boxes)")
    parser.add_argument("--calibration", help="int8 calibration file (default: the one beside --checkpoint if "
                                              "there is one, else calibrated here, see int8_ranges_for)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--runs", type=int, default=5, help="timed forward passes per path (median reported)")
    parser.add_argument("--paths", default=",".join(PATHS), help="comma-separated, from: " + ", ".join(PATHS))
    parser.add_argument("--data_dir", help="synthetic dataset (LasHeR layout): adds boxes, scores and deviations")
    parser.add_argument("--max_sequences", type=int, help="track only the first N test sequences")
    parser.add_argument("--json", type=Path, help="write the numbers here too")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs must be >= 1, got {args.runs}")
    if args.max_sequences is not None and args.max_sequences < 1:
        parser.error(f"--max_sequences must be >= 1, got {args.max_sequences}")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: no CUDA device is available here")
    names = list(dict.fromkeys(n.strip() for n in args.paths.split(",") if n.strip()))
    unknown = [n for n in names if n not in PATHS]
    if unknown:
        parser.error(f"--paths: unknown {', '.join(unknown)}; choose from {', '.join(PATHS)}")
    if not names:
        parser.error("--paths: no path given")
    if args.data_dir and "exact" not in names:
        print("--data_dir: adding the exact path, the reference for the box deviations")
        names.insert(0, "exact")
    if args.data_dir and not args.checkpoint:
        print("warning: no --checkpoint: boxes and scores come from random weights")

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    cfg = load_config(args.config, args.script)
    net = load_iimf(cfg, args.checkpoint, verbose=True) if args.checkpoint else build_iimf(cfg).eval()
    net = net.to(device)
    unsupported = "fp16" if device.type == "cpu" else "int8"
    if unsupported in names:
        print(f"skipping {unsupported}: " + ("needs a GPU" if unsupported == "fp16" else "runs on the CPU only"))
        names.remove(unsupported)
    with tempfile.TemporaryDirectory() as workdir:  # holds the exported ONNX model while it runs
        template, search = tracking_inputs(cfg, device)
        int8_ranges = int8_ranges_for(net, cfg, args, template, search) if "int8" in names else None
        paths = build_paths(net, cfg, device, names, args.threads, workdir, int8_ranges)
        times = time_paths(paths, template, search, args.runs, device)
        deviations = box_deviations(paths, cfg, args.data_dir, device, args.max_sequences) if args.data_dir else None
    base = statistics.median(times["plain"]) if "plain" in times else None
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)"
    report = {"config": args.config, "device": device_name, "paths": {}}
    print(f"{args.config} on {device_name}, {args.runs} timed runs each, batch 1")
    print(f"{'path':<12} {'median ms':>10} {'min ms':>10} {'FPS':>8} {'speed-up':>9}")
    for name, ts in times.items():
        median = statistics.median(ts)
        entry = {"latency_ms": 1000 * median, "latency_min_ms": 1000 * min(ts), "fps": 1 / median}
        if base:
            entry["speedup_vs_plain"] = base / median
        report["paths"][name] = entry
        speedup = f"{entry['speedup_vs_plain']:>8.2f}x" if base else f"{'-':>9}"
        print(f"{name:<12} {1000 * median:>10.1f} {1000 * min(ts):>10.1f} {1 / median:>8.2f} {speedup}")
    if deviations:
        print("\nboxes on the synthetic test sequences; deviation = largest coordinate "
              "difference from the exact path per frame (px)")
        print(f"{'path':<12} {'SR':>6} {'PR':>6} | {'same crops: max':>15} {'mean':>7} {'<=1px':>7} | "
              f"{'own tracking: max':>17} {'mean':>7} {'<=1px':>7} | {'re-checked':>10}")
        shift = deviations.pop("crop_moved_1px")
        report["crop_moved_1px"] = shift
        for name, value in deviations.items():
            report["paths"][name]["boxes"] = value
            line = f"{name:<12} {value['SR']:6.2f} {value['PR']:6.2f}"
            for key in ("same_crops", "own_tracking"):
                if key in value:
                    d = value[key]
                    line += f" | {d['max_px']:{15 if key == 'same_crops' else 17}.4f} {d['mean_px']:7.4f} " \
                            f"{100 * d['frames_within_1px']:6.1f}%"
            if "rechecked_frames" in value:
                line += f" | {100 * value['rechecked_frames']:9.1f}%"
            print(line)
        print(f"exact path on a search crop moved by 1 px: max {shift['max_px']:.4f}  mean {shift['mean_px']:.4f}  "
              f"<=1px {100 * shift['frames_within_1px']:.1f}%\n(the crop window is rounded to whole pixels: "
              "when tracking on its own, any difference, float32 noise included, sometimes moves it by a pixel)\n"
              "re-checked: frames the fast path left undecided (two best cells closer than TIE_MARGINS), which the "
              "exact path recomputed; the timings above are of the fast forward alone")
    if args.json:
        atomic_write(args.json, json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    try:
        main()
    except (FileNotFoundError, ValueError) as err:  # user errors: a message, not a traceback
        sys.exit(f"error: {err}")
