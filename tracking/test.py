#!/usr/bin/env python
"""Track a dataset with a trained IIMF checkpoint and write the result files.

    python tracking/test.py tbsi_track <config> --dataset_name lasher_test --threads 6 --num_gpus 1

Checkpoint (unless --checkpoint PATH): TBSITrack_ep<NNNN>.pth.tar with NNNN = TEST.EPOCH of the
config (or --epoch N), looked up as
  <save_dir>/<config>/checkpoints/train/tbsi_track/<config>/  (training with --save_dir ./output/<config>)
  <save_dir>/checkpoints/train/tbsi_track/<config>/
Official checkpoints placed there load as they are.
Results: <save_dir>/test/tracking_results/tbsi_track/<config>/<dataset_name>/<seq>.txt (x,y,w,h per
frame, unrounded) and <seq>_time.txt. With --epoch N other than TEST.EPOCH the folder is
<config>_<NNN>. A rerun skips sequences whose results are complete.
Paths come from lib/test/evaluation/local.py (tracking/create_default_local_file.py writes it) or
--data_dir DATA (DATA/lasher, DATA/rgbt234, DATA/rgbt210, DATA/gtot) and --save_dir.
Without a GPU (or with --num_gpus 0) it runs on the CPU. The default inference path is exact (the
original's boxes within float32 noise); --precision bf16/fp16/int8 and --backend onnxruntime are
opt-in fast paths whose results go to <config>_<variant>/.
"""
import argparse
import signal
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SCRIPTS = ("tbsi_track",)
DATASET_NAMES = ("lasher_test", "lasher_train", "rgbt234", "rgbt210", "gtot")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("tracker_name", help="tracking script: tbsi_track")
    p.add_argument("tracker_param", help="config name in experiments/<tracker_name>/ (or a .yaml path)")
    p.add_argument("--dataset_name", default="lasher_test", help=f"one of {', '.join(DATASET_NAMES)} "
                   "(default: lasher_test)")
    p.add_argument("--sequence", default=None, help="track only this sequence (name, or index in the dataset)")
    p.add_argument("--threads", type=int, default=0,
                   help="worker processes; 0 or 1 runs in this process (default: 0)")
    p.add_argument("--num_gpus", type=int, default=None,
                   help="GPUs to spread the workers over (default: all visible; 0: CPU)")
    p.add_argument("--checkpoint", default=None, help="checkpoint file (default: the training run's, see above)")
    p.add_argument("--epoch", "--runid", dest="epoch", type=int, default=None,
                   help="checkpoint epoch (default: TEST.EPOCH of the config)")
    p.add_argument("--debug", nargs="?", type=int, const=1, default=0,
                   help="run in this process, log every frame, stop at the first error with its traceback")
    p.add_argument("--data_dir", default=None,
                   help="folder holding lasher/, rgbt234/, rgbt210/, gtot/ (overrides local.py)")
    p.add_argument("--save_dir", default=None,
                   help="folder with checkpoints/ and where test/tracking_results/ goes (overrides local.py)")
    p.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "fp16", "int8"),
                   help="fp32 (default): the exact path, boxes as the original's; bf16 (CPU with bf16 support, "
                        "GPU), fp16 (GPU), int8 (CPU): opt-in fast paths, results in <config>_<precision>/")
    p.add_argument("--no_tie_check", action="store_true",
                   help="fast paths: do not recompute exactly the frames whose two best cells the fast path cannot "
                        "tell apart (1-4%% of frames with trained weights; results in <config>_<precision>_unchecked/)")
    p.add_argument("--backend", default="torch", choices=("torch", "onnxruntime"),
                   help="torch (default) or onnxruntime (needs --onnx; results in <config>_onnxruntime/)")
    p.add_argument("--onnx", default=None, help="model exported by tracking/export_onnx.py (--backend onnxruntime)")
    p.add_argument("--no_progress", action="store_true", help="no progress bar")
    p.add_argument("--result_format", default="xywh", choices=("xywh", "rgbt234_toolkit"),
                   help="rgbt234_toolkit: also write <results>_toolkit/<seq>.txt with 8 values per row, the "
                        "format the RGBT234 MATLAB toolkit reads (rgbt234 only)")
    return p.parse_args(argv)


def _stop(signum, frame):
    raise KeyboardInterrupt  # SIGTERM: stop the workers and exit like Ctrl-C


def main(argv=None) -> int:
    args = parse_args(argv)
    if __name__ == "__main__":  # run as a command: short warnings, SIGTERM stops like Ctrl-C
        warnings.formatwarning = lambda message, category, *a, **k: f"warning: {message}\n"
        signal.signal(signal.SIGTERM, _stop)
    try:
        return run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        if args.debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2


def run(args) -> int:
    import torch

    from lib.config import load_config
    from lib.data.datasets import DatasetError, dataset_key, get_dataset
    from lib.models.iimf.checkpoint import check_checkpoint_for_config
    from lib.test.evaluation.environment import dataset_dir, env_settings
    from lib.test.runner import (DatasetSpec, NetTrackerFactory, check_run_info, find_checkpoint,
                                 results_dir, run_dataset, select_devices)

    if args.tracker_name not in SCRIPTS:
        raise ValueError(f"unknown tracker {args.tracker_name!r}; available: {', '.join(SCRIPTS)}")
    if args.threads < 0:
        raise ValueError(f"--threads must be >= 0, got {args.threads}")
    cfg = load_config(args.tracker_param, script=args.tracker_name)
    param = args.tracker_param
    config_name = Path(param).stem if param.endswith((".yaml", ".yml")) else param
    try:
        dataset_name = dataset_key(args.dataset_name)
    except ValueError as err:
        raise ValueError(f"--dataset_name: {err}") from None
    if args.result_format == "rgbt234_toolkit" and dataset_name != "rgbt234":
        raise ValueError(f"--result_format rgbt234_toolkit is the RGBT234 toolkit's format; --dataset_name is "
                         f"{dataset_name}")

    if args.backend == "onnxruntime" and (args.onnx is None or args.precision != "fp32"):
        raise ValueError("--backend onnxruntime needs --onnx PATH (from tracking/export_onnx.py) and "
                         "--precision fp32")
    if args.onnx is not None and args.backend != "onnxruntime":
        raise ValueError("--onnx is used with --backend onnxruntime only")
    if args.no_tie_check and args.precision == "fp32":
        raise ValueError("--no_tie_check applies to the fast paths (--precision bf16, fp16 or int8) only")

    settings = env_settings(data_dir=args.data_dir, save_dir=args.save_dir)
    epoch = int(cfg.TEST.EPOCH) if args.epoch is None else args.epoch
    if args.backend == "onnxruntime":
        if args.checkpoint is not None or args.epoch is not None:
            raise ValueError("--checkpoint and --epoch are not used with --backend onnxruntime: the weights are "
                             "inside the ONNX file (export another one with tracking/export_onnx.py)")
        checkpoint = None
        model_file = Path(args.onnx)
        if not model_file.is_file():
            raise FileNotFoundError(f"ONNX model not found: {model_file} (given with --onnx)")
        from lib.models.iimf.onnx_backend import OnnxRuntimeNet
        OnnxRuntimeNet(model_file, threads=1).check_config(cfg, config_name)  # one clear error, not one per worker
        variant = "onnxruntime"
    else:
        checkpoint = find_checkpoint(settings.save_dir, config_name, epoch, args.tracker_name, args.checkpoint,
                                     config_arg=args.tracker_param)
        model_file = checkpoint
        variant = None if args.precision == "fp32" else args.precision + ("_unchecked" if args.no_tie_check else "")
    run_id = epoch if (args.epoch is not None and args.epoch != int(cfg.TEST.EPOCH)) else None
    out_dir = results_dir(settings.results_path, args.tracker_name, config_name, dataset_name, run_id, variant)

    root = dataset_dir(settings, dataset_name)
    spec = DatasetSpec(dataset_name, str(root))
    dataset = get_dataset(dataset_name, root)
    sequences = None
    if args.sequence is not None:
        if args.sequence not in dataset.names and args.sequence.lstrip("-").isdigit():
            sequences = [dataset[int(args.sequence)].name]
        else:
            sequences = [args.sequence]
    for name in sequences or dataset.names:  # GT files whose length differs from the frames: said once, here
        try:
            problem = dataset[name].gt_length_problem()
        except (DatasetError, KeyError):  # a broken or unknown sequence fails on its own in the run
            continue
        if problem:
            warnings.warn(problem)

    if args.precision == "fp16" and (args.num_gpus == 0 or not torch.cuda.is_available()):
        raise ValueError("--precision fp16 needs a GPU; on the CPU use bf16 or int8")
    devices = select_devices(args.num_gpus)
    threads = 0 if args.debug else args.threads
    if args.precision == "int8" and devices[0].startswith("cuda"):
        raise ValueError("--precision int8 runs on the CPU only (--num_gpus 0); on a GPU use fp16 or bf16")
    if checkpoint is not None:  # one clear error here rather than one per worker
        check_checkpoint_for_config(cfg, checkpoint)
    check_run_info(out_dir, model_file, config_name, {"precision": args.precision, "backend": args.backend})
    if args.backend == "onnxruntime":
        print(f"config      {config_name}")
        print(f"model       {model_file} (onnxruntime)")
    else:
        print(f"config      {config_name} (epoch {epoch})")
        print(f"checkpoint  {model_file}" + (f" (precision {args.precision}"
                                             f"{', no tie check' if args.no_tie_check else ''})" if variant else ""))
    print(f"dataset     {dataset_name}: {len(dataset)} sequences in {root}"
          + (f"; only {sequences[0]!r}" if sequences else ""))
    where = ", ".join(devices)
    print(f"running on  {where}" + (f" with up to {threads} worker processes" if threads > 1 else " in this process"))
    print(f"results     {out_dir}", flush=True)

    factory = NetTrackerFactory(cfg, None if checkpoint is None else str(checkpoint), precision=args.precision,
                                backend=args.backend, onnx=args.onnx, tie_check=not args.no_tie_check)
    summary = run_dataset(spec, factory, out_dir, sequences=sequences,
                          threads=threads, devices=devices, debug=bool(args.debug),
                          progress=not args.no_progress, dataset=dataset)
    if args.result_format == "rgbt234_toolkit":
        from lib.analysis.toolkit_format import write_toolkit_results
        print(f"RGBT234 toolkit files (8 values per row) in {write_toolkit_results(out_dir, sequences or dataset.names)}")
    fps = f", {summary.frames / summary.seconds:.2f} frames/s" if summary.seconds > 0 and summary.frames else ""
    print(f"tracked {len(summary.done)} sequences ({summary.frames} frames{fps}), "
          f"{len(summary.skipped)} already complete, {len(summary.failed)} failed; results in {out_dir}")
    if summary.failed:
        print(f"{len(summary.failed)} sequence(s) failed:", file=sys.stderr)
        for f in summary.failed:
            print(f"  {f}", file=sys.stderr)
        print("rerun the same command to retry them (add --debug --sequence NAME for a traceback)", file=sys.stderr)
        return 1
    if summary.interrupted:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
