"""IIMF training loop: data, optimiser, AMP, DDP, checkpoints, logs (MODEL.md sections 6 and 7).

    trainer = Trainer(cfg, "tiny_demo", save_dir="./output", data_dir="./data")
    trainer.train()          # resumes from the latest checkpoint of this config, if any

* Optimiser: AdamW (``TRAIN.LR``, ``TRAIN.WEIGHT_DECAY``) with the original's parameter groups
  (``param_groups``), ``StepLR(TRAIN.LR_DROP_EPOCH, 0.1)`` stepped once per epoch.
* AMP (float16 autocast + GradScaler) when ``TRAIN.AMP`` and the device is a GPU; on the CPU it
  is off, with a message. Gradient clipping (``TRAIN.GRAD_CLIP_NORM``) as the original: only
  without AMP, unless ``TRAIN.FIX_GRAD_CLIP_AMP``.
* Data: ``TrackingSampler`` draws ``ceil(SAMPLE_PER_EPOCH / world_size)`` samples per process and
  epoch (no DistributedSampler: each rank seeds its own draws), ``BATCH_SIZE`` per process,
  incomplete last batch dropped.
* Checkpoints: ``<save_dir>/checkpoints/train/<script>/<config>/TBSITrack_ep%04d.pth.tar`` =
  ``{'net': state_dict (no 'module.' prefix, CPU tensors), 'optimizer', 'scheduler', 'scaler',
  'epoch', 'rng', 'cfg', ...}``, written atomically by rank 0 every ``TRAIN.SAVE_INTERVAL``
  epochs and after the last one. Loadable with ``torch.load(..., weights_only=True)``.
* Logs (rank 0): ``<save_dir>/logs/<script>-<config>.log``, tensorboard under
  ``<save_dir>/tensorboard/train/<script>/<config>``, and a tqdm bar per epoch.
* Ctrl-C / SIGTERM stop the run cleanly; rerunning the same command continues after the last
  checkpoint. Every epoch reseeds torch from ``(seed, epoch, rank)`` and the sampler seeds
  every sample from ``(seed, epoch, rank, index)``, so a resumed run repeats what an
  uninterrupted one would have done.
"""
from __future__ import annotations

import logging
import math
import os
import re
import signal
import sys
import time
import warnings
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader

from lib.data.datasets import dataset_key, get_dataset
from lib.data.processing import RGBTProcessing
from lib.data.sampler import TrackingSampler
from lib.models.iimf.checkpoint import NET_TYPE, check_state_dict, checkpoint_dir, checkpoint_path
from .actor import TBSITrackActor

__all__ = [
    "NET_TYPE",
    "Trainer",
    "param_groups",
    "build_optimizer",
    "clip_active",
    "build_train_sampler",
    "make_loader",
    "resolve_dataset_root",
    "checkpoint_dir",
    "checkpoint_path",
    "find_latest_checkpoint",
    "TrainingInterrupted",
]

FILE_LOG = logging.getLogger("lib.train.log")   # the trainer's lines for the text log
DATA_LOG = logging.getLogger("lib.data")        # data pipeline warnings (unreadable frames ...)
LOG_SOURCES = ("lib.train.log", "lib.data")     # loggers whose records go to the text log


class ConsoleHandler(logging.Handler):
    """Log records on stderr without breaking tqdm's progress bar."""

    def emit(self, record):
        try:
            from tqdm import tqdm
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # noqa: BLE001 - logging must never stop training
            self.handleError(record)


_CKPT_RE = re.compile(r"^" + NET_TYPE + r"_ep(\d+)\.pth\.tar$")

# Modules that the pretrained files do not provide (FIX_LR_GROUPS trains them at the full LR).
_NEW_IN_SOT = ("tbsi", "sp_sh_layer", "box_head")
_NEW_IN_BACKBONE = ("tbsi_layers", "sp_sh_layer")


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C, SIGTERM, or the launcher went away."""


# --------------------------------------------------------------------------------------------
# Checkpoint paths
# --------------------------------------------------------------------------------------------
def find_latest_checkpoint(folder) -> Optional[Tuple[int, Path]]:
    """(epoch, path) of the highest-epoch ``TBSITrack_epNNNN.pth.tar`` in ``folder``, or None."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    best = None
    for p in folder.iterdir():
        m = _CKPT_RE.match(p.name)
        if m and p.is_file():
            ep = int(m.group(1))
            if best is None or ep > best[0]:
                best = (ep, p)
    return best


# --------------------------------------------------------------------------------------------
# Optimiser
# --------------------------------------------------------------------------------------------
def _full_lr(name: str, cfg) -> bool:
    """Does parameter ``name`` get TRAIN.LR (True) or TRAIN.LR * BACKBONE_MULTIPLIER (False)?"""
    fix = bool(getattr(cfg.TRAIN, "FIX_LR_GROUPS", False))
    if cfg.TRAIN.SOT_PRETRAIN:
        # Original: only names containing "tbsi" (backbone.tbsi_layers, tbsi_fuse_search,
        # tbsi_fuse_middle) get the LR; the new SpSh layer and the head get 0.1x.
        keys = _NEW_IN_SOT if fix else ("tbsi",)
        return any(k in name for k in keys)
    # in1k: everything outside the backbone gets the LR, every backbone.* parameter 0.1x
    # (including the new tbsi_layers / sp_sh_layer, unless fixed).
    if "backbone" not in name:
        return True
    return fix and any(k in name for k in _NEW_IN_BACKBONE)


def param_groups(net: torch.nn.Module, cfg) -> List[Dict]:
    """The AdamW parameter groups: ``[{'name': 'lr', 'params', 'lr'}, {'name': 'lr_x_multiplier', ...}]``.

    Parameters with ``requires_grad=False`` are left out, as in the original. The names that
    went into each group are in ``group['param_names']`` of the returned dicts (not passed to
    the optimiser).
    """
    lr = float(cfg.TRAIN.LR)
    mult = float(cfg.TRAIN.BACKBONE_MULTIPLIER)
    full, low = ([], []), ([], [])
    for name, p in net.named_parameters():
        if not p.requires_grad:
            continue
        target = full if _full_lr(name, cfg) else low
        target[0].append(name)
        target[1].append(p)
    return [
        {"name": "lr", "params": full[1], "lr": lr, "param_names": full[0]},
        {"name": "lr_x_multiplier", "params": low[1], "lr": lr * mult, "param_names": low[0]},
    ]


def build_optimizer(net: torch.nn.Module, cfg):
    """AdamW with ``param_groups`` and StepLR(LR_DROP_EPOCH, gamma 0.1)."""
    if str(cfg.TRAIN.OPTIMIZER).upper() != "ADAMW":
        raise ValueError(f"TRAIN.OPTIMIZER {cfg.TRAIN.OPTIMIZER!r} is not supported (only 'ADAMW')")
    sched_type = str(cfg.TRAIN.SCHEDULER.TYPE).lower()
    if sched_type != "step":
        raise ValueError(f"TRAIN.SCHEDULER.TYPE {cfg.TRAIN.SCHEDULER.TYPE!r} is not supported (only 'step')")
    groups = [{k: v for k, v in g.items() if k != "param_names"} for g in param_groups(net, cfg)]
    groups = [g for g in groups if g["params"]]
    optimizer = torch.optim.AdamW(groups, lr=float(cfg.TRAIN.LR), weight_decay=float(cfg.TRAIN.WEIGHT_DECAY))
    # The original never reads SCHEDULER.DECAY_RATE: StepLR's default gamma 0.1.
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=int(cfg.TRAIN.LR_DROP_EPOCH), gamma=0.1)
    return optimizer, scheduler


def clip_active(grad_clip_norm: float, amp: bool, fix_grad_clip_amp: bool = False) -> bool:
    """Is gradient clipping applied? The original clips (GRAD_CLIP_NORM > 0) only without AMP;
    ``TRAIN.FIX_GRAD_CLIP_AMP`` clips under AMP too (after unscaling)."""
    return float(grad_clip_norm) > 0 and (not amp or bool(fix_grad_clip_amp))


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------
def pretrained_dir(data_dir=None) -> str:
    """The ``pretrained_networks`` folder of the training settings ("" when unset: the repository's)."""
    from lib.train.admin.environment import env_settings

    return env_settings(data_dir=data_dir).pretrained_networks


def resolve_dataset_root(name: str, data_dir=None) -> Path:
    """Root folder of training dataset ``name`` (as in DATA.TRAIN.DATASETS_NAME).

    With ``data_dir``: ``data_dir/lasher`` (or ``rgbt234`` ...; for LasHeR ``data_dir`` itself when
    it has the LasHeR layout). Otherwise ``lasher_dir`` ... of ``lib/train/admin/local.py``.
    Errors (``SettingsError``, a FileNotFoundError) name the setting and the path tried.
    """
    from lib.train.admin.environment import dataset_dir, env_settings

    settings = env_settings(data_dir=data_dir)
    return dataset_dir(settings, dataset_key(name, lasher_split="train"))


def build_train_sampler(cfg, samples_per_epoch: int, seed: int = 0, rank: int = 0, data_dir=None) -> TrackingSampler:
    """The ``TrackingSampler`` of DATA.TRAIN with the config's processing."""
    mode = str(cfg.DATA.SAMPLER_MODE).lower()
    if mode != "causal":
        raise ValueError(f"DATA.SAMPLER_MODE {cfg.DATA.SAMPLER_MODE!r} is not supported (only 'causal')")
    if int(cfg.DATA.TEMPLATE.NUMBER) != 1 or int(cfg.DATA.SEARCH.NUMBER) != 1:
        raise ValueError(f"DATA.TEMPLATE.NUMBER and DATA.SEARCH.NUMBER must be 1, got "
                         f"{cfg.DATA.TEMPLATE.NUMBER} and {cfg.DATA.SEARCH.NUMBER}")
    names = list(cfg.DATA.TRAIN.DATASETS_NAME)
    datasets = [get_dataset(dataset_key(n, lasher_split="train"), resolve_dataset_root(n, data_dir)) for n in names]
    return TrackingSampler(datasets, list(cfg.DATA.TRAIN.DATASETS_RATIO), RGBTProcessing.from_cfg(cfg),
                           samples_per_epoch=samples_per_epoch, max_gap=int(cfg.DATA.MAX_SAMPLE_INTERVAL),
                           seed=seed, rank=rank, use_absence_labels=bool(getattr(cfg.TRAIN, "USE_ABSENCE_LABELS", False)),
                           dataset_names=names)


def _worker_init(_):
    # The training process handles Ctrl-C / SIGTERM and then shuts its data workers down.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(1)


def _single_threaded_opencv():
    """OpenCV's thread pool is not fork-safe: a worker forked while (or after) the parent used it
    can deadlock in its first cv2 call. The crops are small, so OpenCV runs single-threaded in
    the training process (set before any worker is forked; the workers inherit it)."""
    try:
        import cv2
        cv2.setNumThreads(1)
    except ImportError:  # pragma: no cover
        pass


def make_loader(sampler: TrackingSampler, batch_size: int, num_workers: int, pin_memory: bool = False) -> DataLoader:
    """A DataLoader over the sampler's indices in order (each index seeds its own sample)."""
    _single_threaded_opencv()
    kwargs = {}
    if num_workers > 0:
        kwargs = dict(worker_init_fn=_worker_init, prefetch_factor=4)
    return DataLoader(sampler, batch_size=batch_size, shuffle=False, num_workers=num_workers, drop_last=True,
                      pin_memory=pin_memory, **kwargs)


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------
def _epoch_seed(seed: int, epoch: int, rank: int) -> int:
    return int(np.random.SeedSequence([int(seed), int(epoch), int(rank), 7]).generate_state(1, np.uint64)[0] >> 1)


def _to_cpu(obj):
    if torch.is_tensor(obj):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


def _fmt_time(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h:d}:{m:02d}:{s:02d}"


def _diff_cfg(a, b, prefix="") -> List[str]:
    out = []
    for k in sorted(set(a) | set(b)):
        va, vb = a.get(k, "<absent>"), b.get(k, "<absent>")
        if isinstance(va, dict) and isinstance(vb, dict):
            out += _diff_cfg(va, vb, f"{prefix}{k}.")
        elif va != vb:
            out.append(f"{prefix}{k}: {va!r} -> {vb!r}")
    return out


# --------------------------------------------------------------------------------------------
# Trainer
# --------------------------------------------------------------------------------------------
class Trainer:
    """Trains one config; see the module docstring.

    ``rank``/``world_size``/``local_rank``: this process in a torchrun job (the process group
    must already be initialised when ``world_size > 1``). ``device``: default ``cuda:<local_rank>``
    when CUDA is available, else CPU. ``num_workers``: overrides TRAIN.NUM_WORKER.
    ``watch_parent``: stop when the parent process (torchrun) disappears.
    """

    def __init__(self, cfg, config_name: str, save_dir, *, device=None, rank: int = 0, world_size: int = 1,
                 local_rank: int = 0, seed: int = 42, data_dir=None, num_workers: Optional[int] = None,
                 script: str = "tbsi_track", watch_parent: bool = False, net: Optional[torch.nn.Module] = None):
        self.cfg = cfg
        self.config_name = config_name
        self.script = script
        self.save_dir = Path(save_dir).resolve()
        self.rank, self.world_size, self.local_rank = int(rank), int(world_size), int(local_rank)
        self.distributed = self.world_size > 1
        self.seed = int(seed)
        self.data_dir = data_dir
        self.is_main = self.rank == 0
        self.watch_parent = watch_parent
        self._parent = os.getppid()
        if device is None:
            device = torch.device("cuda", self.local_rank) if torch.cuda.is_available() else torch.device("cpu")
        self.device = torch.device(device)
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
            torch.backends.cudnn.benchmark = True
        self.num_workers = int(cfg.TRAIN.NUM_WORKER if num_workers is None else num_workers)
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        self.workers_note = ""
        if self.num_workers > cpus:  # more loader processes than CPUs only adds memory and contention
            self.workers_note = f" (TRAIN.NUM_WORKER {self.num_workers} capped at the {cpus} CPUs here)"
            self.num_workers = cpus
        self.max_epochs = int(cfg.TRAIN.EPOCH)
        self.batch_size = int(cfg.TRAIN.BATCH_SIZE)
        total = int(cfg.DATA.TRAIN.SAMPLE_PER_EPOCH)
        self.samples_per_rank = math.ceil(total / self.world_size)
        self.batches_per_epoch = self.samples_per_rank // self.batch_size
        if self.batches_per_epoch < 1:
            raise ValueError(f"DATA.TRAIN.SAMPLE_PER_EPOCH = {total} over {self.world_size} process(es) gives "
                             f"{self.samples_per_rank} samples per process, less than one batch of "
                             f"TRAIN.BATCH_SIZE = {self.batch_size}")
        self.print_interval = max(1, int(cfg.TRAIN.PRINT_INTERVAL))
        self.save_interval = max(1, int(getattr(cfg.TRAIN, "SAVE_INTERVAL", 1)))
        self.ckpt_dir = checkpoint_dir(self.save_dir, config_name, script)
        self.log_path = self.save_dir / "logs" / f"{script}-{config_name}.log"
        self.tb_dir = self.save_dir / "tensorboard" / "train" / script / config_name
        self._log_handler = None
        self._writer = None

        # AMP and clipping
        self.amp = bool(cfg.TRAIN.AMP) and self.device.type == "cuda"
        self.amp_message = None
        if cfg.TRAIN.AMP and not self.amp:
            self.amp_message = ("TRAIN.AMP is on in the config, but training runs on the CPU: AMP (float16 "
                                "autocast + GradScaler) is OFF, training in float32")
        elif self.amp:
            self.amp_message = "AMP is on (float16 autocast + GradScaler)"
        self.grad_clip = float(cfg.TRAIN.GRAD_CLIP_NORM)
        self.fix_clip_amp = bool(getattr(cfg.TRAIN, "FIX_GRAD_CLIP_AMP", False))
        self.clip_active = clip_active(self.grad_clip, self.amp, self.fix_clip_amp)

        # Network (same init on every rank; DDP broadcasts rank 0's anyway)
        torch.manual_seed(self.seed)
        if net is None:
            from lib.models.iimf import build_iimf
            folder = pretrained_dir(data_dir) if cfg.MODEL.PRETRAIN_FILE else None
            net = build_iimf(cfg, training=True, pretrained_dir=folder)
        self.net = net.to(self.device)
        self.net.train()
        self.optimizer, self.scheduler = build_optimizer(self.net, cfg)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        if self.distributed:
            from torch.nn.parallel import DistributedDataParallel as DDP
            ids = [self.device.index] if self.device.type == "cuda" else None
            # static_graph: the set of used parameters never changes, so DDP needs no per-step
            # search even if a parameter were left out of the loss graph. gradient_as_bucket_view:
            # grads live in the all-reduce buckets (less memory, no layout-mismatch copies).
            # 1x1-conv grads of shape (1, C, 1, 1) trip DDP's harmless stride-mismatch warning.
            warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
            self.model = DDP(self.net, device_ids=ids, static_graph=True, gradient_as_bucket_view=True)
        else:
            self.model = self.net
        self.actor = TBSITrackActor(self.model, cfg)
        self.epoch = 0
        self.sampler = None
        self._stop_signal = None

    # ------------------------------------------------------------------ logging
    def _open_logs(self):
        if not self.is_main or self._log_handler is not None:
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # One text log: the trainer's lines and the data pipeline's warnings (unreadable frames).
        handler = logging.FileHandler(self.log_path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%Y-%m-%d %H:%M:%S"))
        for name in LOG_SOURCES:
            logging.getLogger(name).addHandler(handler)
        FILE_LOG.setLevel(logging.INFO)
        FILE_LOG.propagate = False  # the console gets these lines from tqdm.write already
        self._log_handler = handler
        # ... and the data warnings reach the console too, above the progress bar.
        self._console_handler = ConsoleHandler()
        self._console_handler.setFormatter(logging.Formatter("warning: %(message)s"))
        DATA_LOG.addHandler(self._console_handler)

    def _open_tensorboard(self):
        if not self.is_main or self._writer is not None:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
            self._writer = SummaryWriter(str(self.tb_dir))
        except Exception as e:  # tensorboard missing: keep training, say so
            self.log(f"tensorboard logging is off: {e}")

    def log(self, msg: str, also_print: bool = True):
        if not self.is_main:
            return
        if also_print:
            try:
                from tqdm import tqdm
                tqdm.write(msg, file=sys.stdout)
            except ImportError:  # pragma: no cover
                print(msg, flush=True)
        if self._log_handler is not None:
            FILE_LOG.info(msg)

    def _close_logs(self):
        if self._writer is not None:
            self._writer.flush()
            self._writer.close()
            self._writer = None
        if self._log_handler is not None:
            for name in LOG_SOURCES:
                logging.getLogger(name).removeHandler(self._log_handler)
            DATA_LOG.removeHandler(self._console_handler)
            self._log_handler.close()
            self._log_handler = None

    # ------------------------------------------------------------------ checkpoints
    def state(self, epoch: int, stats: Optional[Dict] = None) -> Dict:
        rng = {"torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        return {
            "epoch": int(epoch),
            "net_type": NET_TYPE,
            "actor_type": "TBSITrackActor",
            "net": _to_cpu(self.net.state_dict()),
            "optimizer": _to_cpu(self.optimizer.state_dict()),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict() if self.amp else None,
            "rng": rng,
            "seed": self.seed,
            "world_size": self.world_size,
            "cfg": self.cfg.to_dict() if hasattr(self.cfg, "to_dict") else dict(self.cfg),
            "config_name": self.config_name,
            "stats": dict(stats or {}),
        }

    def save_checkpoint(self, epoch: int, stats: Optional[Dict] = None) -> Optional[Path]:
        if not self.is_main:
            return None
        from lib.utils.io import atomic_torch_save

        path = checkpoint_path(self.ckpt_dir, epoch)
        atomic_torch_save(self.state(epoch, stats), path)
        return path

    def load_checkpoint(self, path) -> int:
        """Restore network, optimiser, scheduler, scaler and epoch from ``path``; returns the epoch."""
        path = Path(path)
        try:
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:
            raise RuntimeError(f"cannot load checkpoint {path} to resume from: {e} (move the file away to "
                               f"resume from the one before)") from e
        missing = [k for k in ("net", "optimizer", "scheduler", "epoch") if k not in ckpt]
        if missing:
            raise RuntimeError(f"checkpoint {path} cannot be resumed from: it lacks {missing} (a weights-only "
                               f"file such as an official release?)")
        check_state_dict(self.net, ckpt["net"], f"{path} (the run's last checkpoint; a different config "
                                                f"needs another --save_dir)")
        self.net.load_state_dict(ckpt["net"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        if self.amp and ckpt.get("scaler"):
            self.scaler.load_state_dict(ckpt["scaler"])
        if ckpt.get("rng", {}).get("torch") is not None:
            torch.set_rng_state(ckpt["rng"]["torch"])
        if self.is_main:
            old_cfg = ckpt.get("cfg")
            new_cfg = self.cfg.to_dict() if hasattr(self.cfg, "to_dict") else None
            if old_cfg is not None and new_cfg is not None:
                diff = _diff_cfg(old_cfg, new_cfg)
                if diff:
                    self.log(f"warning: the config differs from the one checkpoint {path.name} was trained with: "
                             + "; ".join(diff[:8]) + (" ..." if len(diff) > 8 else ""))
            if ckpt.get("world_size", self.world_size) != self.world_size:
                self.log(f"note: resuming with {self.world_size} process(es); the checkpoint was written by a run "
                         f"with {ckpt.get('world_size')}: each process now draws {self.samples_per_rank} samples per "
                         f"epoch ({self.batches_per_epoch} iterations of {self.batch_size})")
        return int(ckpt["epoch"])

    def maybe_resume(self) -> int:
        latest = find_latest_checkpoint(self.ckpt_dir)
        if self.world_size > 1 and dist.is_available() and dist.is_initialized():
            seen = [None] * self.world_size
            dist.all_gather_object(seen, latest[0] if latest else 0)
            if len(set(seen)) > 1:
                raise RuntimeError(f"the processes see different last checkpoints in {self.ckpt_dir} (epoch by "
                                   f"rank: {seen}); with several nodes --save_dir must be on a shared filesystem")
        if latest is None:
            return 0
        epoch = self.load_checkpoint(latest[1])
        self.log(f"resuming from {latest[1]} (epoch {epoch} done)")
        return epoch

    # ------------------------------------------------------------------ one step
    def train_step(self, batch: Dict) -> Dict[str, float]:
        batch = {k: (v.to(self.device, non_blocking=True) if torch.is_tensor(v) else v) for k, v in batch.items()}
        with torch.autocast(device_type=self.device.type, dtype=torch.float16, enabled=self.amp):
            out = self.actor.forward(batch)
        loss, stats = self.actor.loss(out, batch)
        self.optimizer.zero_grad(set_to_none=True)
        if self.amp:
            self.scaler.scale(loss).backward()
            if self.clip_active:
                self.scaler.unscale_(self.optimizer)
                torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.grad_clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            if self.clip_active:
                torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.grad_clip)
            self.optimizer.step()
        return stats

    # ------------------------------------------------------------------ main loop
    def _check_stop(self):
        """Raise at a safe point when a stop was requested (the signal handler also raises at once,
        but an exception raised while e.g. a destructor runs is swallowed by Python)."""
        if self._stop_signal is not None:
            raise TrainingInterrupted(f"signal {self._stop_signal}")
        if self.watch_parent and os.getppid() != self._parent:
            raise TrainingInterrupted("the launcher (torchrun) went away")

    def _lr_text(self) -> str:
        return ", ".join(f"{g.get('name', i)}={g['lr']:.2e}" for i, g in enumerate(self.optimizer.param_groups))

    def train_epoch(self, epoch: int, t_start: float, steps_before: int, total_steps: int) -> Dict[str, float]:
        from tqdm import tqdm

        self.sampler.set_epoch(epoch)
        torch.manual_seed(_epoch_seed(self.seed, epoch, self.rank))
        loader = make_loader(self.sampler, self.batch_size, self.num_workers, pin_memory=self.device.type == "cuda")
        n = self.batches_per_epoch
        bar = tqdm(total=n, desc=f"epoch {epoch}/{self.max_epochs}", unit="it", disable=not self.is_main,
                   dynamic_ncols=True, mininterval=1.0, file=sys.stdout, leave=True)
        sums: Dict[str, float] = {}
        window: Dict[str, float] = {}
        window_n = 0
        t_epoch = t_win = time.time()
        data_time = 0.0
        it = iter(loader)
        try:
            t_data = time.time()
            for i in range(1, n + 1):
                self._check_stop()
                batch = next(it)
                data_time += time.time() - t_data
                stats = self.train_step(batch)
                for k, v in stats.items():
                    sums[k] = sums.get(k, 0.0) + v
                    window[k] = window.get(k, 0.0) + v
                window_n += 1
                if self.is_main:
                    now = time.time()
                    done = steps_before + i
                    sps = self.batch_size * self.world_size * i / max(now - t_epoch, 1e-9)
                    eta_all = (now - t_start) / max(done, 1) * (total_steps - done)
                    bar.set_postfix_str(
                        f"loss={stats['Loss/total']:.3f} giou={stats['Loss/giou']:.3f} l1={stats['Loss/l1']:.3f} "
                        f"focal={stats['Loss/location']:.3f} iou={stats['IoU']:.3f} {sps:.1f} samples/s "
                        f"ETA(all)={_fmt_time(eta_all)}", refresh=False)
                    bar.update(1)
                    if i % self.print_interval == 0 or i == n:
                        dt = max(now - t_win, 1e-9)
                        avg = {k: v / window_n for k, v in window.items()}
                        msg = (f"[train: {epoch}, {i} / {n}] samples/s: {self.batch_size * self.world_size * window_n / dt:.1f}"
                               f", data time: {data_time / i:.3f}s/it, "
                               + ", ".join(f"{k}: {v:.5f}" for k, v in avg.items()) + f", lr: {self._lr_text()}")
                        self.log(msg, also_print=False)
                        if self._writer is not None:
                            for k, v in avg.items():
                                self._writer.add_scalar(f"train/{k}", v, done)
                            self._writer.add_scalar("train/samples_per_s", self.batch_size * self.world_size * window_n / dt, done)
                            for g in self.optimizer.param_groups:
                                self._writer.add_scalar(f"lr/{g.get('name', '?')}", g["lr"], done)
                        window, window_n, t_win = {}, 0, now
                t_data = time.time()
        finally:
            bar.close()
            del it
        elapsed = time.time() - t_epoch
        avg = {k: v / n for k, v in sums.items()}
        avg["samples_per_s"] = self.batch_size * self.world_size * n / max(elapsed, 1e-9)
        return avg

    def train(self) -> int:
        """Train up to TRAIN.EPOCH (resuming if a checkpoint exists); returns the last epoch done.

        Ctrl-C / SIGTERM request a stop, honoured before the next iteration (a second signal stops
        at once); ``TrainingInterrupted`` (a KeyboardInterrupt) is then raised.
        """
        self._open_logs()
        old_handlers = {}
        self._stop_signal = None
        if threading_is_main():
            main_pid = os.getpid()

            def _on_signal(signum, frame):
                if os.getpid() != main_pid:   # a forked DataLoader worker before its init
                    return
                if self._stop_signal is not None:
                    raise TrainingInterrupted(f"signal {signum} (second)")
                self._stop_signal = signum
            for sig in (signal.SIGTERM, signal.SIGINT):
                old_handlers[sig] = signal.signal(sig, _on_signal)
        try:
            return self._train()
        except KeyboardInterrupt as e:
            self._log_stop(str(e) or "Ctrl-C")
            raise
        except Exception as e:
            if self._stop_signal is None:
                raise
            # e.g. a collective failing because another rank already stopped
            self._log_stop(f"signal {self._stop_signal}; then {type(e).__name__}: {e}")
            raise TrainingInterrupted(f"signal {self._stop_signal}") from e
        finally:
            for sig, handler in old_handlers.items():
                signal.signal(sig, handler)
            self._close_logs()

    def _log_stop(self, why):
        done = find_latest_checkpoint(self.ckpt_dir)
        where = f"the last checkpoint is {done[1]}" if done else "no checkpoint was written yet"
        self.log(f"training stopped during epoch {self.epoch} ({why}); {where}. "
                 f"Run the same command again to resume.")

    def _train(self) -> int:
        cfg = self.cfg
        if self.amp_message:
            self.log(self.amp_message)
        start = self.maybe_resume()
        if start >= self.max_epochs:
            self.log(f"training of {self.config_name} is already complete (epoch {start} of {self.max_epochs}); "
                     f"checkpoints in {self.ckpt_dir}")
            return start
        self._open_tensorboard()
        self.sampler = build_train_sampler(cfg, self.samples_per_rank, seed=self.seed, rank=self.rank,
                                           data_dir=self.data_dir)
        n_params = sum(p.numel() for p in self.net.parameters())
        self.log(f"config {self.config_name}: {n_params:,} parameters, device {self.device}, "
                 f"{self.world_size} process(es), batch {self.batch_size} per process, "
                 f"{self.batches_per_epoch} iterations per epoch, {self.num_workers} data worker(s) per process{self.workers_note}, "
                 f"gradient clipping {'at ' + str(self.grad_clip) if self.clip_active else 'off'}, lr: {self._lr_text()}")
        self.log(f"checkpoints: {self.ckpt_dir}; log: {self.log_path}; tensorboard: {self.tb_dir}")
        t_start = time.time()
        total_steps = (self.max_epochs - start) * self.batches_per_epoch
        for epoch in range(start + 1, self.max_epochs + 1):
            self._check_stop()
            self.epoch = epoch
            stats = self.train_epoch(epoch, t_start, (epoch - start - 1) * self.batches_per_epoch, total_steps)
            self.scheduler.step()
            self.log(f"epoch {epoch}/{self.max_epochs} done: " + ", ".join(f"{k}: {v:.4f}" for k, v in stats.items()))
            if self._writer is not None:
                for k, v in stats.items():
                    self._writer.add_scalar(f"epoch/{k}", v, epoch)
                self._writer.flush()
            if epoch % self.save_interval == 0 or epoch == self.max_epochs:
                path = self.save_checkpoint(epoch, stats)
                if path is not None:
                    self.log(f"saved {path}")
            if self.distributed:
                dist.barrier()
        return self.max_epochs


def threading_is_main() -> bool:
    import threading
    return threading.current_thread() is threading.main_thread()
