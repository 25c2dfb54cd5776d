r"""Training throughput: data-loading samples/s with N workers, model-step samples/s, and both together.

    python tracking/benchmark_training.py --config tiny_demo --workers 0 1 2
    python tracking/benchmark_training.py --config vitb_256_tbsi_32x1_1e4_lasher_15ep_sot \
        vitb_256_tbsi_32x4_4e4_lasher_15ep_in1k --workers 4 8 16 --size 640x480 --device cuda

Each config runs at its own TRAIN.BATCH_SIZE (32 SOT, 16 in1k) unless --batch_size is given, with
its TRAIN.AMP setting (float16 autocast + GradScaler on GPUs). Without --data_dir a synthetic
dataset (LasHeR layout, --size frames) is generated in a temporary folder (or reused from
--synthetic_dir). The model is built without loading pretrained weights (same architecture and
cost). Numbers are samples (template/search pairs) per second for this process; "data" runs only
the DataLoader, "model" repeats one batch already on the device (no data; GPU time measured with
CUDA events after warm-up), "end-to-end" is the training loop with the fastest worker count. On a
GPU the peak memory of the model step is reported too.
"""
import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from lib.config import load_config  # noqa: E402
from lib.data.synthetic import generate_dataset  # noqa: E402
from lib.models.iimf import build_iimf  # noqa: E402
from lib.train.data import build_train_sampler, make_loader  # noqa: E402
from lib.train.trainer import Trainer  # noqa: E402
from lib.utils.arguments import frame_size  # noqa: E402
from lib.utils.io import atomic_write  # noqa: E402
from lib.utils.profiling import time_call  # noqa: E402


def bench_loader(sampler, batch_size, workers, batches, pin):
    loader = make_loader(sampler, batch_size, workers, pin_memory=pin)
    it = iter(loader)
    t0 = time.perf_counter()
    next(it)                                 # worker start-up and first batch: not counted
    startup = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(batches):
        next(it)
    dt = time.perf_counter() - t0
    del it
    return batches * batch_size / dt, startup


def bench_model(trainer, batch, steps, warmup=3):
    """Samples/s of the training step on one batch already on the device."""
    for _ in range(warmup):
        trainer.train_step(batch)
    seconds = sum(time_call(lambda: trainer.train_step(batch), trainer.device) for _ in range(steps))
    return steps * trainer.batch_size / seconds


def bench_end_to_end(trainer, sampler, workers, steps, warmup=3):
    """Samples/s of the training loop: loading and steps, wall clock."""
    loader = make_loader(sampler, trainer.batch_size, workers, pin_memory=trainer.device.type == "cuda")
    batches = iter(loader)

    def run(n):
        for _ in range(n):
            trainer.train_step(next(batches))
    run(warmup)
    return steps * trainer.batch_size / time_call(lambda: run(steps), trainer.device)


def bench_config(name, a, device, data_dir):
    """The three measurements of one config; returns its results dict."""
    cfg = load_config(name)
    cfg.MODEL.PRETRAIN_FILE = ""
    if a.batch_size:
        cfg.TRAIN.BATCH_SIZE = a.batch_size
    bs = int(cfg.TRAIN.BATCH_SIZE)
    n_samples = (a.batches + 8) * bs
    cfg.DATA.TRAIN.SAMPLE_PER_EPOCH = n_samples
    sampler = build_train_sampler(cfg, n_samples, seed=0, data_dir=data_dir)
    results = {"config": name, "device": str(device), "batch_size": bs, "torch_threads": torch.get_num_threads(),
               "data": {}}
    if device.type == "cuda":
        results["gpu"] = torch.cuda.get_device_name(device)
    print(f"config {name}, batch {bs}, device {device}"
          + (f" ({results['gpu']})" if device.type == "cuda" else f", {torch.get_num_threads()} torch threads"))
    for w in a.workers:
        sps, startup = bench_loader(sampler, bs, w, a.batches, device.type == "cuda")
        results["data"][w] = sps
        print(f"data loading, {w:2d} worker(s): {sps:8.1f} samples/s   (start-up + first batch {startup:.2f} s)",
              flush=True)
    if a.skip_model:
        return results
    with tempfile.TemporaryDirectory(prefix="iimf_bench_out_") as out:
        trainer = Trainer(cfg, name, out, device=device, net=build_iimf(cfg, training=True), num_workers=0)
        if trainer.amp_message:
            print(trainer.amp_message)
        batch = next(iter(torch.utils.data.DataLoader(sampler, batch_size=bs)))
        batch = {k: (v.to(device) if torch.is_tensor(v) else v) for k, v in batch.items()}
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        results["model"] = bench_model(trainer, batch, a.batches)
        memory = ""
        if device.type == "cuda":
            results["peak_memory_gib"] = torch.cuda.max_memory_allocated(device) / 2 ** 30
            memory = f", peak GPU memory {results['peak_memory_gib']:.1f} GiB"
        print(f"model step (forward+backward+AdamW{', AMP' if trainer.amp else ''}): {results['model']:8.1f} "
              f"samples/s{memory}", flush=True)
        best_w = max(results["data"], key=results["data"].get)
        e2e = bench_end_to_end(trainer, sampler, best_w, a.batches)
        results["end_to_end"] = {"workers": best_w, "samples_per_s": e2e}
        print(f"end-to-end training, {best_w} worker(s): {e2e:8.1f} samples/s", flush=True)
        if max(results["data"].values()) < results["model"]:
            print(f"note: data loading ({max(results['data'].values()):.1f} samples/s) is slower than the model "
                  f"step ({results['model']:.1f}): use more workers (TRAIN.NUM_WORKER)")
    return results


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", nargs="+", default=["tiny_demo"], help="one or more configs, measured in turn")
    p.add_argument("--data_dir", default=None, help="folder holding lasher/ (default: a synthetic dataset)")
    p.add_argument("--synthetic_dir", default=None, help="where to generate (or reuse) the synthetic dataset")
    p.add_argument("--size", type=frame_size, default=(320, 256), help="synthetic frame size WxH (LasHeR: 640x480)")
    p.add_argument("--workers", type=int, nargs="+", default=[0, 2], help="DataLoader worker counts to time")
    p.add_argument("--batches", type=int, default=10, help="timed batches per measurement")
    p.add_argument("--batch_size", type=int, default=None, help="default TRAIN.BATCH_SIZE of each config")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    p.add_argument("--skip_model", action="store_true", help="time data loading only")
    p.add_argument("--json", default=None, help="also write the results to this JSON file")
    a = p.parse_args(argv)
    device = torch.device(a.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda: no CUDA device is available here")
    with tempfile.TemporaryDirectory(prefix="iimf_bench_") as tmp:
        data_dir = a.data_dir
        if data_dir is None:
            base = Path(a.synthetic_dir or tmp)
            generate_dataset(base / "lasher", 8, 1, frames=(60, 80), size=a.size, seed=0)
            data_dir = base
        results = [bench_config(name, a, device, data_dir) for name in a.config]
    for entry in results:
        entry["frame_size"] = None if a.data_dir else f"{a.size[0]}x{a.size[1]}"
    if a.json:
        atomic_write(a.json, json.dumps(results if len(results) > 1 else results[0], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
