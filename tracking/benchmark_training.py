r"""Training throughput: data-loading samples/s with N workers, model-step samples/s, and both together.

    python tracking/benchmark_training.py --config tiny_demo --workers 0 1 2
    python tracking/benchmark_training.py --config vitb_256_tbsi_32x1_1e4_lasher_15ep_sot --workers 4 8 16 \
        --size 640x480 --device cuda

Without --data_dir a synthetic dataset (LasHeR layout, --size frames) is generated in a temporary
folder (or reused from --synthetic_dir). The model is built without loading pretrained weights
(same architecture and cost). Numbers are samples (template/search pairs) per second for this
process; "data" runs only the DataLoader, "model" repeats one batch already on the device (no
data), "end-to-end" is the training loop with the fastest worker count.
"""
import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402


def _size(text):
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--size must look like 640x480, got {text!r}") from None
    return w, h


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench_loader(sampler, batch_size, workers, batches, pin):
    from lib.train.data import make_loader
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
    for _ in range(warmup):
        trainer.train_step(batch)
    _sync(trainer.device)
    t0 = time.perf_counter()
    for _ in range(steps):
        trainer.train_step(batch)
    _sync(trainer.device)
    return steps * trainer.batch_size / (time.perf_counter() - t0)


def bench_end_to_end(trainer, sampler, workers, steps, warmup=3):
    from lib.train.data import make_loader
    loader = make_loader(sampler, trainer.batch_size, workers, pin_memory=trainer.device.type == "cuda")
    it = iter(loader)
    for _ in range(warmup):
        trainer.train_step(next(it))
    _sync(trainer.device)
    t0 = time.perf_counter()
    for _ in range(steps):
        trainer.train_step(next(it))
    _sync(trainer.device)
    dt = time.perf_counter() - t0
    del it
    return steps * trainer.batch_size / dt


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="tiny_demo")
    p.add_argument("--data_dir", default=None, help="folder holding lasher/ (default: a synthetic dataset)")
    p.add_argument("--synthetic_dir", default=None, help="where to generate (or reuse) the synthetic dataset")
    p.add_argument("--size", type=_size, default=(320, 256), help="synthetic frame size WxH (LasHeR: 640x480)")
    p.add_argument("--workers", type=int, nargs="+", default=[0, 2], help="DataLoader worker counts to time")
    p.add_argument("--batches", type=int, default=10, help="timed batches per measurement")
    p.add_argument("--batch_size", type=int, default=None, help="default TRAIN.BATCH_SIZE")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    p.add_argument("--skip_model", action="store_true", help="time data loading only")
    p.add_argument("--json", default=None, help="also write the results to this JSON file")
    a = p.parse_args(argv)

    from lib.config import load_config
    from lib.models.iimf import build_iimf
    from lib.train.data import build_train_sampler
    from lib.train.trainer import Trainer

    cfg = load_config(a.config)
    if a.batch_size:
        cfg.TRAIN.BATCH_SIZE = a.batch_size
    bs = int(cfg.TRAIN.BATCH_SIZE)
    device = torch.device(a.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    tmp = None
    data_dir = a.data_dir
    if data_dir is None:
        from lib.data.synthetic import generate_dataset
        if a.synthetic_dir is None:
            tmp = tempfile.TemporaryDirectory(prefix="iimf_bench_")
            base = Path(tmp.name)
        else:
            base = Path(a.synthetic_dir)
        generate_dataset(base / "lasher", 8, 1, frames=(60, 80), size=a.size, seed=0)
        data_dir = base
    n_samples = (a.batches + 8) * bs
    cfg.DATA.TRAIN.SAMPLE_PER_EPOCH = n_samples
    sampler = build_train_sampler(cfg, n_samples, seed=0, data_dir=data_dir)
    results = {"config": a.config, "device": str(device), "batch_size": bs, "torch_threads": torch.get_num_threads(),
               "frame_size": None if a.data_dir else f"{a.size[0]}x{a.size[1]}", "data": {}}
    if device.type == "cuda":
        results["gpu"] = torch.cuda.get_device_name(device)
    print(f"config {a.config}, batch {bs}, device {device}"
          + (f" ({results['gpu']})" if device.type == "cuda" else f", {torch.get_num_threads()} torch threads"))
    for w in a.workers:
        sps, startup = bench_loader(sampler, bs, w, a.batches, device.type == "cuda")
        results["data"][w] = sps
        print(f"data loading, {w:2d} worker(s): {sps:8.1f} samples/s   (start-up + first batch {startup:.2f} s)",
              flush=True)
    if not a.skip_model:
        net = build_iimf(cfg, training=False)
        with tempfile.TemporaryDirectory(prefix="iimf_bench_out_") as out:
            trainer = Trainer(cfg, a.config, out, device=device, net=net, num_workers=0)
            if trainer.amp_message:
                print(trainer.amp_message)
            batch = next(iter(torch.utils.data.DataLoader(sampler, batch_size=bs)))
            batch = {k: (v.to(device) if torch.is_tensor(v) else v) for k, v in batch.items()}
            model_sps = bench_model(trainer, batch, a.batches)
            results["model"] = model_sps
            print(f"model step (forward+backward+AdamW{', AMP' if trainer.amp else ''}): {model_sps:8.1f} samples/s",
                  flush=True)
            best_w = max(results["data"], key=results["data"].get)
            e2e = bench_end_to_end(trainer, sampler, best_w, a.batches)
            results["end_to_end"] = {"workers": best_w, "samples_per_s": e2e}
            print(f"end-to-end training, {best_w} worker(s): {e2e:8.1f} samples/s", flush=True)
            if max(results["data"].values()) < model_sps:
                print(f"note: data loading ({max(results['data'].values()):.1f} samples/s) is slower than the model "
                      f"step ({model_sps:.1f}): use more workers (TRAIN.NUM_WORKER)")
    if a.json:
        from lib.utils.io import atomic_write
        atomic_write(a.json, json.dumps(results, indent=2))
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
