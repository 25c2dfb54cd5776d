"""The training loop: one config, one process of a (possibly distributed) run (docs/training.md).

    trainer = Trainer(cfg, "tiny_demo", save_dir="./output", data_dir="./data")
    trainer.train()          # resumes from the latest checkpoint of this config, if any

The recipe lives elsewhere: the optimiser, LR groups and schedule in ``optim.py``, AMP and the
optimiser step in ``amp.py``, the data in ``data.py``, the loss in the actor (``actor.py``), the
console/log/tensorboard reporting in ``monitor.py``. This file runs epochs over them and keeps
the run resumable:

* Checkpoints (docs/checkpoints.md#training-checkpoints):
  ``<save_dir>/checkpoints/train/<script>/<config>/TBSITrack_ep%04d.pth.tar`` = ``{'net' (no
  'module.' prefix, CPU tensors), 'optimizer', 'scheduler', 'scaler', 'epoch', 'rng', 'cfg', ...}``,
  written atomically by rank 0 every ``TRAIN.SAVE_INTERVAL`` epochs and after the last one.
* Ctrl-C / SIGTERM stop the run cleanly; rerunning the same command continues after the last
  checkpoint. Every epoch reseeds torch from ``(seed, epoch, rank)`` and the sampler seeds every
  sample from ``(seed, epoch, rank, index)``, so a resumed run repeats what an uninterrupted one
  would have done.
"""
from __future__ import annotations

import math
import sys
import time
import warnings
from pathlib import Path
from typing import Dict, Optional

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from lib.config import Config
from lib.models.iimf import build_iimf
from lib.models.iimf.checkpoint import check_state_dict
from lib.utils.checkpoint_files import checkpoint_dir, checkpoint_path, latest_checkpoint
from lib.utils.system import available_cpus

from .actor import TBSITrackActor
from .amp import OptimizerStep, amp_policy
from .data import build_train_sampler, make_loader, pretrained_dir
from .interrupt import StopRequests, TrainingInterrupted
from .monitor import Meters, RunLog, format_time, short_name
from .optim import build_optimizer
from .resume import atomic_torch_save, config_changes, read_training_checkpoint, training_state

__all__ = ["Trainer", "TrainingInterrupted"]


class Trainer:
    """Trains one config (see the module docstring).

    Args:
        cfg: the experiment config.
        config_name: names the checkpoint, log and tensorboard folders.
        save_dir: where ``checkpoints/``, ``logs/`` and ``tensorboard/`` go.
        device: default ``cuda:<local_rank>`` when CUDA is available, else the CPU.
        rank, world_size, local_rank: this process in a torchrun job (the process group must be
            initialised when ``world_size > 1``).
        seed: base seed of the network init, the epochs and the samples.
        data_dir: folder holding ``lasher/`` ...; default the local settings.
        num_workers: data workers (default ``TRAIN.NUM_WORKER``, capped at the CPU count).
        script: experiment family (``tbsi_track``), part of the output paths.
        watch_parent: stop when the parent process (torchrun) disappears.
        net: a prebuilt network (default ``build_iimf(cfg, training=True)``).
        amp: force AMP on or off (default: ``TRAIN.AMP`` on GPUs only, as the original).
    """

    def __init__(self, cfg: Config, config_name: str, save_dir, *, device=None, rank: int = 0, world_size: int = 1,
                 local_rank: int = 0, seed: int = 42, data_dir=None, num_workers: Optional[int] = None,
                 script: str = "tbsi_track", watch_parent: bool = False, net: Optional[torch.nn.Module] = None,
                 amp: Optional[bool] = None):
        self.cfg, self.config_name, self.script = cfg, config_name, script
        self.save_dir = Path(save_dir).resolve()
        self.rank, self.world_size, self.local_rank = int(rank), int(world_size), int(local_rank)
        self.distributed = self.world_size > 1
        self.is_main = self.rank == 0
        self.seed, self.data_dir = int(seed), data_dir
        self.stop = StopRequests(watch_parent)
        self.device = self._select_device(device)
        self._plan_epochs(num_workers)
        self.ckpt_dir = checkpoint_dir(self.save_dir, config_name, script)
        self.run_log = RunLog(self.save_dir / "logs" / f"{script}-{config_name}.log",
                              self.save_dir / "tensorboard" / "train" / script / config_name, enabled=self.is_main)
        self.amp, self.amp_message = amp_policy(cfg, self.device, force=amp)

        torch.manual_seed(self.seed)   # the same init on every rank (DDP broadcasts rank 0's anyway)
        if net is None:
            net = build_iimf(cfg, training=True, pretrained_dir=pretrained_dir(data_dir) if cfg.MODEL.PRETRAIN_FILE else None)
        self.net = net.to(self.device).train()
        self.optimizer, self.scheduler = build_optimizer(self.net, cfg)
        self.step = OptimizerStep(self.optimizer, self.device, self.amp, cfg.TRAIN.GRAD_CLIP_NORM,
                                  cfg.TRAIN.FIX_GRAD_CLIP_AMP)
        self.model = self._wrap_distributed(self.net)
        self.actor = TBSITrackActor(self.model, cfg)
        self.epoch = 0
        self.sampler = None

    @property
    def clip_active(self) -> bool:
        return self.step.clip

    # ------------------------------------------------------------------ setup
    def _select_device(self, device) -> torch.device:
        if device is None:
            device = torch.device("cuda", self.local_rank) if torch.cuda.is_available() else torch.device("cpu")
        device = torch.device(device)
        if device.type == "cuda":
            torch.cuda.set_device(device)
            torch.backends.cudnn.benchmark = True
        return device

    def _plan_epochs(self, num_workers: Optional[int]) -> None:
        """Batches per epoch and data workers of this process."""
        cfg = self.cfg
        self.max_epochs, self.batch_size = int(cfg.TRAIN.EPOCH), int(cfg.TRAIN.BATCH_SIZE)
        total = int(cfg.DATA.TRAIN.SAMPLE_PER_EPOCH)
        self.samples_per_rank = math.ceil(total / self.world_size)
        self.batches_per_epoch = self.samples_per_rank // self.batch_size
        if self.batches_per_epoch < 1:
            raise ValueError(f"DATA.TRAIN.SAMPLE_PER_EPOCH = {total} over {self.world_size} process(es) gives "
                             f"{self.samples_per_rank} samples per process, less than one batch of "
                             f"TRAIN.BATCH_SIZE = {self.batch_size}")
        self.print_interval = max(1, int(cfg.TRAIN.PRINT_INTERVAL))
        self.save_interval = max(1, int(cfg.TRAIN.SAVE_INTERVAL))
        requested = int(cfg.TRAIN.NUM_WORKER if num_workers is None else num_workers)
        self.num_workers = min(requested, available_cpus())   # more loaders than CPUs only add memory
        self.workers_note = (f" (TRAIN.NUM_WORKER {requested} capped at the {self.num_workers} CPUs here)"
                             if requested > self.num_workers else "")

    def _wrap_distributed(self, net: torch.nn.Module) -> torch.nn.Module:
        if not self.distributed:
            return net
        # static_graph: the set of used parameters never changes. gradient_as_bucket_view: grads live
        # in the all-reduce buckets. 1x1-conv grads trip DDP's harmless stride-mismatch warning.
        warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(net, device_ids=ids, static_graph=True, gradient_as_bucket_view=True)

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self, epoch: int, stats: Optional[Dict] = None) -> Optional[Path]:
        if not self.is_main:
            return None
        path = checkpoint_path(self.ckpt_dir, epoch)
        atomic_torch_save(training_state(self, epoch, stats or {}), path)
        return path

    def load_checkpoint(self, path) -> int:
        """Restore network, optimiser, scheduler, scaler and epoch from ``path``; returns the epoch."""
        path = Path(path)
        ckpt = read_training_checkpoint(path)
        check_state_dict(self.net, ckpt["net"], f"{path} (the run's last checkpoint; a different config "
                                                f"needs another --save_dir)")
        self.net.load_state_dict(ckpt["net"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        self.step.load_state_dict(ckpt.get("scaler"))
        if ckpt.get("rng", {}).get("torch") is not None:
            torch.set_rng_state(ckpt["rng"]["torch"])
        self._note_changes_since(ckpt, path)
        return int(ckpt["epoch"])

    def _note_changes_since(self, ckpt: Dict, path: Path) -> None:
        """Say what differs from the run that wrote ``ckpt``: the config, the number of processes."""
        diff = config_changes(ckpt["cfg"], self.cfg.to_dict()) if ckpt.get("cfg") is not None else []
        if diff:
            self.run_log.log(f"warning: the config differs from the one checkpoint {path.name} was trained with: "
                             + "; ".join(diff[:8]) + (" ..." if len(diff) > 8 else ""))
        if ckpt.get("world_size", self.world_size) != self.world_size:
            self.run_log.log(f"note: resuming with {self.world_size} process(es); the checkpoint was written by a run "
                             f"with {ckpt.get('world_size')}: each process now draws {self.samples_per_rank} samples "
                             f"per epoch ({self.batches_per_epoch} iterations of {self.batch_size})")

    def maybe_resume(self) -> int:
        """Load the latest checkpoint of this run, if any; returns the epochs already done."""
        latest = latest_checkpoint(self.ckpt_dir)
        if self.distributed and dist.is_available() and dist.is_initialized():
            seen = [None] * self.world_size
            dist.all_gather_object(seen, latest[0] if latest else 0)
            if len(set(seen)) > 1:
                raise RuntimeError(f"the processes see different last checkpoints in {self.ckpt_dir} (epoch by "
                                   f"rank: {seen}); with several nodes --save_dir must be on a shared filesystem")
        if latest is None:
            return 0
        epoch = self.load_checkpoint(latest[1])
        self.run_log.log(f"resuming from {latest[1]} (epoch {epoch} done)")
        return epoch

    # ------------------------------------------------------------------ the loop
    def train_step(self, batch: Dict) -> Dict[str, float]:
        """Forward, loss and one optimiser update; returns the actor's named values."""
        batch = {k: (v.to(self.device, non_blocking=True) if torch.is_tensor(v) else v) for k, v in batch.items()}
        with self.step.autocast():
            out = self.actor.forward(batch)
        loss, stats = self.actor.loss(out, batch)
        self.step(loss, self.net.parameters())
        return stats

    def _lr_text(self) -> str:
        return ", ".join(f"{g.get('name', i)}={g['lr']:.2e}" for i, g in enumerate(self.optimizer.param_groups))

    def train_epoch(self, epoch: int, t_start: float, steps_before: int, total_steps: int) -> Dict[str, float]:
        """One epoch; returns the epoch averages of the actor's values and ``samples_per_s``."""
        self.sampler.set_epoch(epoch)
        torch.manual_seed(_epoch_seed(self.seed, epoch, self.rank))
        loader = make_loader(self.sampler, self.batch_size, self.num_workers, pin_memory=self.device.type == "cuda")
        n, per_step = self.batches_per_epoch, self.batch_size * self.world_size
        bar = tqdm(total=n, desc=f"epoch {epoch}/{self.max_epochs}", unit="it", disable=not self.is_main,
                   dynamic_ncols=True, mininterval=1.0, file=sys.stdout, leave=True)
        meters, data_time = Meters(), 0.0
        t_epoch = t_window = time.time()
        batches = iter(loader)
        try:
            t_data = time.time()
            for i in range(1, n + 1):
                self.stop.check()
                batch = next(batches)
                data_time += time.time() - t_data
                stats = self.train_step(batch)
                meters.update(stats)
                now, done = time.time(), steps_before + i
                eta = (now - t_start) / max(done, 1) * (total_steps - done)
                bar.set_postfix_str(" ".join(f"{short_name(k)}={v:.3f}" for k, v in stats.items())
                                    + f" {per_step * i / max(now - t_epoch, 1e-9):.1f} samples/s "
                                      f"ETA(all)={format_time(eta)}", refresh=False)
                bar.update(1)
                if i % self.print_interval == 0 or i == n:
                    self._report_window(epoch, i, meters, per_step / max(now - t_window, 1e-9), data_time / i, done)
                    t_window = now
                t_data = time.time()
        finally:
            bar.close()
            del batches
        averages = meters.epoch_average()
        averages["samples_per_s"] = per_step * n / max(time.time() - t_epoch, 1e-9)
        return averages

    def _report_window(self, epoch: int, i: int, meters: Meters, steps_per_s: float, data_time: float,
                       step: int) -> None:
        averages, samples_per_s = meters.window_average(), steps_per_s * meters.window_count
        self.run_log.log(f"[train: {epoch}, {i} / {self.batches_per_epoch}] samples/s: {samples_per_s:.1f}, "
                         f"data time: {data_time:.3f}s/it, " + ", ".join(f"{k}: {v:.5f}" for k, v in averages.items())
                         + f", lr: {self._lr_text()}", also_print=False)
        self.run_log.scalars("train", {**averages, "samples_per_s": samples_per_s}, step)
        self.run_log.scalars("lr", {g.get("name", "?"): g["lr"] for g in self.optimizer.param_groups}, step)
        meters.reset_window()

    def train(self) -> int:
        """Train up to TRAIN.EPOCH (resuming if a checkpoint exists); returns the last epoch done.

        Ctrl-C / SIGTERM request a stop, honoured before the next iteration (a second signal stops
        at once); ``TrainingInterrupted`` (a KeyboardInterrupt) is then raised.
        """
        self.run_log.open()
        try:
            with self.stop:
                return self._train()
        except KeyboardInterrupt as e:
            self._log_stop(str(e) or "Ctrl-C")
            raise
        except Exception as e:
            if self.stop.signal is None:
                raise
            # e.g. a collective failing because another rank already stopped
            self._log_stop(f"signal {self.stop.signal}; then {type(e).__name__}: {e}")
            raise TrainingInterrupted(f"signal {self.stop.signal}") from e
        finally:
            self.run_log.close()

    def _log_stop(self, why: str) -> None:
        done = latest_checkpoint(self.ckpt_dir)
        where = f"the last checkpoint is {done[1]}" if done else "no checkpoint was written yet"
        self.run_log.log(f"training stopped during epoch {self.epoch} ({why}); {where}. "
                         f"Run the same command again to resume.")

    def _train(self) -> int:
        if self.amp_message:
            self.run_log.log(self.amp_message)
        start = self.maybe_resume()
        if start >= self.max_epochs:
            self.run_log.log(f"training of {self.config_name} is already complete (epoch {start} of "
                             f"{self.max_epochs}); checkpoints in {self.ckpt_dir}")
            return start
        self.run_log.open_tensorboard()
        self.sampler = build_train_sampler(self.cfg, self.samples_per_rank, seed=self.seed, rank=self.rank,
                                           data_dir=self.data_dir)
        self._log_plan()
        t_start = time.time()
        total_steps = (self.max_epochs - start) * self.batches_per_epoch
        for epoch in range(start + 1, self.max_epochs + 1):
            self.stop.check()
            self.epoch = epoch
            stats = self.train_epoch(epoch, t_start, (epoch - start - 1) * self.batches_per_epoch, total_steps)
            self.scheduler.step()
            skipped = f" ({self.step.skipped} steps skipped by the AMP scaler so far)" if self.step.skipped else ""
            self.run_log.log(f"epoch {epoch}/{self.max_epochs} done: "
                             + ", ".join(f"{k}: {v:.4f}" for k, v in stats.items()) + skipped)
            self.run_log.scalars("epoch", stats, epoch)
            self.run_log.flush()
            if epoch % self.save_interval == 0 or epoch == self.max_epochs:
                path = self.save_checkpoint(epoch, stats)
                if path is not None:
                    self.run_log.log(f"saved {path}")
            if self.distributed:
                dist.barrier()
        return self.max_epochs

    def _log_plan(self) -> None:
        n_params = sum(p.numel() for p in self.net.parameters())
        clipping = f"at {self.step.grad_clip_norm}" if self.clip_active else "off"
        self.run_log.log(f"config {self.config_name}: {n_params:,} parameters, device {self.device}, "
                         f"{self.world_size} process(es), batch {self.batch_size} per process, "
                         f"{self.batches_per_epoch} iterations per epoch, {self.num_workers} data worker(s) per "
                         f"process{self.workers_note}, gradient clipping {clipping}, lr: {self._lr_text()}")
        self.run_log.log(f"checkpoints: {self.ckpt_dir}; log: {self.run_log.log_path}; "
                         f"tensorboard: {self.run_log.tensorboard_dir}")


def _epoch_seed(seed: int, epoch: int, rank: int) -> int:
    return int(np.random.SeedSequence([int(seed), int(epoch), int(rank), 7]).generate_state(1, np.uint64)[0] >> 1)
