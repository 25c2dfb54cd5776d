"""Speed of the inference paths side by side, and how far their boxes move from the exact path.

    python tracking/benchmark_inference.py --config vitb_256_tbsi_32x1_1e4_lasher_15ep_sot --threads 2 --runs 5
    python tracking/benchmark_inference.py --config tiny_demo --checkpoint output/demo/.../TBSITrack_ep0002.pth.tar \
        --data_dir output/demo/data           # adds box deviations on the synthetic test sequences

Paths: plain (lib/models/iimf/reference.py: the same weights computed the original's way, per
stream, over all tokens, with the discarded work; a stand-in for the official model), exact (the tracker's default: oneDNN linear kernels on the CPU, only the head outputs), bf16 and int8
(CPU), fp16 and bf16 (GPU), onnxruntime (float32). Timings alternate between the paths round by
round, so drift in machine load hits all of them alike. Ratios are against `plain`.
"""
import argparse
import copy
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from lib.config import load_config  # noqa: E402
from lib.models.iimf import build_iimf, load_official_checkpoint  # noqa: E402
from lib.models.iimf.inference import prepare_for_inference  # noqa: E402
from lib.models.iimf.reference import reference_forward  # noqa: E402
from lib.utils.io import atomic_write  # noqa: E402
from lib.utils.profiling import tracking_inputs  # noqa: E402


def build_paths(net, cfg, device, names, threads, workdir):
    """name -> callable(template, search) for every requested path that this device supports."""
    paths = {}
    for name in names:
        if name == "plain":
            paths[name] = lambda t, s, n=net: reference_forward(n, t, s)
        elif name == "onnxruntime":
            from lib.models.iimf.onnx_backend import OnnxRuntimeNet, export_onnx
            tmp = Path(workdir) / "model.onnx"
            export_onnx(net, cfg, tmp)
            paths[name] = OnnxRuntimeNet(tmp, threads=threads, device=device)
        else:
            try:
                paths[name] = prepare_for_inference(copy.deepcopy(net), name if name != "exact" else "fp32", device)
            except ValueError as err:
                print(f"skipping {name}: {err}")
    return paths


def time_paths(paths, template, search, runs, device):
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    times = {name: [] for name in paths}
    with torch.inference_mode():
        for fn in paths.values():  # warm-up
            fn(template, search)
            fn(template, search)
        for _ in range(runs):
            for name, fn in paths.items():
                sync()
                start = time.perf_counter()
                fn(template, search)
                sync()
                times[name].append(time.perf_counter() - start)
    return times


def box_deviations(paths, cfg, data_dir, device, max_sequences):
    """Track the synthetic test sequences with each path; pixel deviation of every box from exact's."""
    from lib.data.datasets import get_dataset
    from lib.test.runner import track_sequence
    from lib.test.tracker import IIMFTracker
    dataset = get_dataset("lasher_test", Path(data_dir) / "lasher" if (Path(data_dir) / "lasher").is_dir()
                          else data_dir)
    boxes = {name: [] for name in paths}
    for name in list(dataset.names)[:max_sequences]:
        seq = dataset[name]
        for path_name, fn in paths.items():
            if path_name == "plain":
                continue
            boxes[path_name].append(np.asarray(track_sequence(IIMFTracker(fn, cfg, device), seq)[0]))
    exact = np.concatenate(boxes["exact"])
    deviations = {}
    for name, b in boxes.items():
        if b:
            per_frame = np.abs(np.concatenate(b) - exact).max(axis=1)
            deviations[name] = {"max_px": float(per_frame.max()), "mean_px": float(per_frame.mean()),
                                "frames_within_1px": float((per_frame <= 1).mean()), "frames": len(per_frame)}
    return deviations


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True)
    parser.add_argument("--script", default="tbsi_track")
    parser.add_argument("--checkpoint", help="weights; default random (fine for speed, not for box deviations)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--paths", default="plain,exact,bf16,int8,fp16,onnxruntime")
    parser.add_argument("--data_dir", help="synthetic dataset (LasHeR layout) for box deviations")
    parser.add_argument("--max_sequences", type=int, default=4)
    parser.add_argument("--json", type=Path, help="write the numbers here too")
    args = parser.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    cfg = load_config(args.config, args.script)
    net = build_iimf(cfg).eval()
    if args.checkpoint:
        load_official_checkpoint(net, args.checkpoint)
    net = net.to(device)
    names = [n for n in args.paths.split(",") if n]
    if device.type == "cpu":
        names = [n for n in names if n != "fp16"]
    else:
        names = [n for n in names if n != "int8"]
    with tempfile.TemporaryDirectory() as workdir:  # holds the exported ONNX model while it runs
        paths = build_paths(net, cfg, device, names, args.threads, workdir)
        template, search = tracking_inputs(cfg, device)
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
        print(f"{name:<12} {1000 * median:>10.1f} {1000 * min(ts):>10.1f} {1 / median:>8.2f} "
              f"{entry.get('speedup_vs_plain', float('nan')):>8.2f}x")
    if deviations:
        print("box deviation from the exact path on the synthetic test sequences "
              "(largest coordinate difference per frame, px):")
        for name, value in deviations.items():
            report["paths"][name]["box_deviation"] = value
            print(f"  {name:<12} max {value['max_px']:9.4f}  mean {value['mean_px']:8.4f}  "
                  f"frames within 1 px {100 * value['frames_within_1px']:5.1f}% of {value['frames']}")
    if args.json:
        atomic_write(args.json, json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    try:
        main()
    except (FileNotFoundError, ValueError) as err:  # user errors: a message, not a traceback
        sys.exit(f"error: {err}")
