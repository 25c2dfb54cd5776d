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
Paths come from lib/config/local.py (tracking/create_default_local_file.py writes it) or
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

from lib.analysis.toolkit_format import write_toolkit_results  # noqa: E402
from lib.config import config_name, load_config  # noqa: E402
from lib.config.settings import dataset_dir, env_settings  # noqa: E402
from lib.data.datasets import DATASETS, DatasetError, dataset_key, get_dataset  # noqa: E402
from lib.models.iimf import check_checkpoint_for_config  # noqa: E402
from lib.models.iimf.int8 import default_calibration_path, load_calibration  # noqa: E402
from lib.models.iimf.onnx_backend import OnnxRuntimeNet  # noqa: E402
from lib.test.options import add_inference_args, options_from_args  # noqa: E402
from lib.test.pool import select_devices  # noqa: E402
from lib.test.results import check_run_info, results_dir  # noqa: E402
from lib.test.runner import DatasetSpec, NetTrackerFactory, run_dataset  # noqa: E402
from lib.utils.arguments import add_experiment_args  # noqa: E402
from lib.utils.checkpoint_files import find_checkpoint  # noqa: E402

SCRIPTS = ("tbsi_track",)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_experiment_args(p)
    p.add_argument("--dataset_name", default="lasher_test", help=f"one of {', '.join(DATASETS)} "
                   "(default: lasher_test)")
    p.add_argument("--sequence", default=None, help="track only this sequence (name, or index in the dataset)")
    p.add_argument("--threads", type=int, default=0,
                   help="worker processes; 0 or 1 runs in this process (default: 0)")
    p.add_argument("--num_gpus", type=int, default=None,
                   help="GPUs to spread the workers over (default: all visible; 0: CPU)")
    add_inference_args(p)
    p.add_argument("--debug", nargs="?", type=int, const=1, default=0,
                   help="run in this process, log every frame, stop at the first error with its traceback")
    p.add_argument("--data_dir", default=None,
                   help="folder holding lasher/, rgbt234/, rgbt210/, gtot/ (overrides local.py)")
    p.add_argument("--save_dir", default=None,
                   help="folder with checkpoints/ and where test/tracking_results/ goes (overrides local.py)")
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


def _chosen_sequences(args, dataset):
    """The --sequence (a name, or an index into the dataset) as a list, or None for all."""
    if args.sequence is None:
        return None
    if args.sequence not in dataset.names and args.sequence.lstrip("-").isdigit():
        return [dataset[int(args.sequence)].name]
    return [args.sequence]


def _warn_ground_truth_lengths(dataset, sequences):
    """GT files whose length differs from the frames: said once, here, not per worker."""
    for name in sequences or dataset.names:
        try:
            problem = dataset[name].gt_length_problem()
        except (DatasetError, KeyError):  # a broken or unknown sequence fails on its own in the run
            continue
        if problem:
            warnings.warn(problem)


def run(args) -> int:
    if args.tracker_name not in SCRIPTS:
        raise ValueError(f"unknown tracker {args.tracker_name!r}; available: {', '.join(SCRIPTS)}")
    if args.threads < 0:
        raise ValueError(f"--threads must be >= 0, got {args.threads}")
    cfg = load_config(args.tracker_param, script=args.tracker_name)
    name = config_name(args.tracker_param)
    try:
        dataset_name = dataset_key(args.dataset_name)
    except ValueError as err:
        raise ValueError(f"--dataset_name: {err}") from None
    if args.result_format == "rgbt234_toolkit" and dataset_name != "rgbt234":
        raise ValueError(f"--result_format rgbt234_toolkit is the RGBT234 toolkit's format; --dataset_name is "
                         f"{dataset_name}")
    options = options_from_args(args)
    settings = env_settings(data_dir=args.data_dir, save_dir=args.save_dir)
    epoch = int(cfg.TEST.EPOCH) if args.epoch is None else args.epoch
    if options.backend == "onnxruntime":
        checkpoint, model_file = None, Path(args.onnx)
        if not model_file.is_file():
            raise FileNotFoundError(f"ONNX model not found: {model_file} (given with --onnx)")
        OnnxRuntimeNet(model_file, threads=1).check_config(cfg, name)  # one clear error, not one per worker
    else:
        checkpoint = find_checkpoint(settings.save_dir, name, epoch, args.tracker_name, args.checkpoint,
                                     config_arg=args.tracker_param)
        model_file = checkpoint
    run_id = epoch if (args.epoch is not None and args.epoch != int(cfg.TEST.EPOCH)) else None
    out_dir = results_dir(settings.results_path, args.tracker_name, name, dataset_name, run_id, options.variant)

    root = dataset_dir(settings, dataset_name)
    dataset = get_dataset(dataset_name, root)
    sequences = _chosen_sequences(args, dataset)
    _warn_ground_truth_lengths(dataset, sequences)
    devices = select_devices(args.num_gpus)
    options.validate(devices[0])
    threads = 0 if args.debug else args.threads
    calibration = None
    if checkpoint is not None:  # one clear error here rather than one per worker
        check_checkpoint_for_config(cfg, checkpoint)
        if options.precision == "int8":
            calibration = default_calibration_path(checkpoint)
            load_calibration(calibration, cfg, checkpoint)
    check_run_info(out_dir, model_file, name, {"precision": options.precision, "backend": options.backend},
                   calibration=calibration)
    if options.backend == "onnxruntime":
        print(f"config      {name}")
        print(f"model       {model_file} (onnxruntime)")
    else:
        fast = f" (precision {options.precision}{'' if options.tie_check else ', no tie check'})"
        print(f"config      {name} (epoch {epoch})")
        print(f"checkpoint  {model_file}" + (fast if options.variant else ""))
    print(f"dataset     {dataset_name}: {len(dataset)} sequences in {root}"
          + (f"; only {sequences[0]!r}" if sequences else ""))
    workers = f" with up to {threads} worker processes" if threads > 1 else " in this process"
    print(f"running on  {', '.join(devices)}{workers}")
    print(f"results     {out_dir}", flush=True)

    factory = NetTrackerFactory(cfg, None if checkpoint is None else str(checkpoint), precision=options.precision,
                                backend=options.backend, onnx=options.onnx, tie_check=options.tie_check)
    summary = run_dataset(DatasetSpec(dataset_name, str(root)), factory, out_dir, sequences=sequences,
                          threads=threads, devices=devices, debug=bool(args.debug),
                          progress=not args.no_progress, dataset=dataset)
    if args.result_format == "rgbt234_toolkit":
        print(f"RGBT234 toolkit files (8 values per row) in {write_toolkit_results(out_dir, sequences or dataset.names)}")
    fps = f", {summary.frames / summary.seconds:.2f} frames/s" if summary.seconds > 0 and summary.frames else ""
    print(f"tracked {len(summary.done)} sequences ({summary.frames} frames{fps}), "
          f"{len(summary.skipped)} already complete, {len(summary.failed)} failed; results in {out_dir}")
    if summary.frames and summary.network_seconds > 0:
        print(f"per frame: {1000 * summary.track_seconds / summary.frames:.1f} ms in the tracker (<seq>_time.txt), "
              f"of which {1000 * summary.network_seconds / summary.frames:.1f} ms in the network's forward")
    if summary.failed:
        print(f"{len(summary.failed)} sequence(s) failed:", file=sys.stderr)
        for failure in summary.failed:
            print(f"  {failure}", file=sys.stderr)
        print("rerun the same command to retry them (add --debug --sequence NAME for a traceback)", file=sys.stderr)
        return 1
    if summary.interrupted:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
