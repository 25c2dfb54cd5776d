r"""Size, FLOPs and speed of one IIMF tracking forward (batch 1, template + search, eval mode),
through the same inference path as tracking/test.py; --breakdown adds where the time goes (torch
profiler, milliseconds per frame by operator).

    python tracking/profile_model.py --script tbsi_track --config vitb_256_tbsi_32x1_1e4_lasher_15ep_sot \
        --threads 2 --runs 10 --device cpu --json output/profile.json --breakdown
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from lib.config import load_config  # noqa: E402
from lib.models.iimf import build_iimf  # noqa: E402
from lib.models.iimf.checkpoint import parameter_counts  # noqa: E402
from lib.models.iimf.inference import PRECISIONS, prepare_for_inference  # noqa: E402
from lib.models.iimf.int8 import RangeRecorder  # noqa: E402
from lib.utils.io import atomic_write  # noqa: E402
from lib.utils.profiling import (count_flops, summarize_times, time_forward,  # noqa: E402
                                 tracking_inputs)


def time_by_operator(forward, runs, device="cpu", top=12):
    """Milliseconds per frame of each operator's own (self) time, the ``top`` largest and 'other': CPU
    time on the CPU, the GPU kernels' time on a GPU (where CPU time would be launch overhead)."""
    activities = [torch.profiler.ProfilerActivity.CPU]
    on_gpu = torch.device(device).type == "cuda"
    if on_gpu:
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    forward()
    with torch.profiler.profile(activities=activities) as prof:
        for _ in range(runs):
            forward()
        if on_gpu:
            torch.cuda.synchronize()
    own_time = (lambda event: event.self_device_time_total) if on_gpu else (lambda event: event.self_cpu_time_total)
    times = sorted(((event.key, own_time(event) / 1000 / runs) for event in prof.key_averages() if own_time(event) > 0),
                   key=lambda item: -item[1])
    table = dict(times[:top])
    table["other"] = sum(ms for _, ms in times[top:])
    return table


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--script", default="tbsi_track", help="experiment family (folder under experiments/)")
    parser.add_argument("--config", required=True, help="config name (experiments/<script>/<config>.yaml) or path")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--runs", type=int, default=10, help="timed forward passes (after 2 warm-up passes)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--precision", default="fp32", choices=PRECISIONS,
                        help="inference path as in test.py (default fp32: the exact path)")
    parser.add_argument("--json", type=Path, help="also write the numbers to this JSON file")
    parser.add_argument("--breakdown", action="store_true", help="also print the time per operator (profiler)")
    args = parser.parse_args(argv)

    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available here")
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_config(args.config, args.script)
    net = build_iimf(cfg).eval()
    counts = parameter_counts(net)
    template, search = tracking_inputs(cfg)
    with torch.inference_mode():  # counted on the plain modules: fused kernels hide their FLOPs
        gflops = count_flops(lambda: net(template=template, search=search, return_features=False)) / 1e9
    int8_ranges = None
    if args.precision == "int8":  # calibrated on the profiling inputs (the tracker reads a calibration file)
        with RangeRecorder(net.backbone) as recorder, torch.inference_mode():
            net(template=template, search=search, return_features=False)
        int8_ranges = recorder.ranges
    net = prepare_for_inference(net, args.precision, args.device, int8_ranges=int8_ranges)  # what the tracker runs
    template, search = tracking_inputs(cfg, args.device)

    def forward():
        with torch.inference_mode():
            return net(template=template, search=search, return_features=False)

    result = {"config": args.config, "device": args.device,
              "device_name": torch.cuda.get_device_name() if args.device == "cuda" else "cpu",
              "threads": torch.get_num_threads(), "precision": args.precision, **counts,
              "gflops": gflops, **summarize_times(time_forward(forward, args.runs, device=args.device))}
    print(f"{args.config} on {result['device_name']} ({result['threads']} threads): "
          f"{result['params_m']:.2f} M parameters ({result['params_official_m']:.2f} M with the official "
          f"never-used ones), {result['gflops']:.1f} GFLOPs per frame, latency median {result['latency_ms']:.1f} ms "
          f"(min {result['latency_min_ms']:.1f} ms), {result['fps']:.2f} FPS")
    if args.breakdown:
        result["breakdown_ms"] = time_by_operator(forward, runs=max(1, min(args.runs, 3)), device=args.device)
        total = sum(result["breakdown_ms"].values())
        print(f"{'operator (self time)':<52} {'ms/frame':>9} {'share':>6}")
        for name, ms in result["breakdown_ms"].items():
            print(f"{name:<52} {ms:9.1f} {100 * ms / total:5.1f}%")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(args.json, json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    try:
        main()
    except (FileNotFoundError, ValueError) as err:  # user errors: a message, not a traceback
        sys.exit(f"error: {err}")
