"""Training data: the sampler of DATA.TRAIN and its DataLoader (docs/training.md#epochs-batches-and-processes).

``TrackingSampler`` draws ``ceil(SAMPLE_PER_EPOCH / world_size)`` samples per process and epoch
(no DistributedSampler: each rank seeds its own draws), ``BATCH_SIZE`` per process, the
incomplete last batch dropped. Dataset folders come from the settings (lib/config/settings.py)
or ``--data_dir``.
"""
from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Optional, Union

import cv2
import torch
from torch.utils.data import DataLoader

from lib.config import Config
from lib.config.settings import dataset_dir, env_settings
from lib.data.datasets import dataset_key, get_dataset
from lib.data.processing import RGBTProcessing
from lib.data.sampler import TrackingSampler

__all__ = ["pretrained_dir", "resolve_dataset_root", "build_train_sampler", "make_loader"]

PathLike = Union[str, os.PathLike]


def pretrained_dir(data_dir: Optional[PathLike] = None) -> str:
    """The ``pretrained_networks`` folder of the settings ("" when unset: the repository's)."""
    return env_settings(data_dir=data_dir).pretrained_networks


def resolve_dataset_root(name: str, data_dir: Optional[PathLike] = None) -> Path:
    """Root folder of training dataset ``name`` (as in DATA.TRAIN.DATASETS_NAME): ``data_dir/lasher``
    ... with ``data_dir``, else the local settings. SettingsError (a FileNotFoundError) names the
    setting and the path tried."""
    return dataset_dir(env_settings(data_dir=data_dir), dataset_key(name, lasher_split="train"))


def build_train_sampler(cfg: Config, samples_per_epoch: int, seed: int = 0, rank: int = 0,
                        data_dir: Optional[PathLike] = None) -> TrackingSampler:
    """The ``TrackingSampler`` of DATA.TRAIN with the config's processing.

    Args:
        cfg: the config (``DATA.*``, ``TRAIN.USE_ABSENCE_LABELS``, ``TRAIN.FIX_ZERO_SIZE_FRAMES``).
        samples_per_epoch: samples this process draws per epoch.
        seed, rank: seed every sample from ``(seed, epoch, rank, index)``.
        data_dir: folder holding ``lasher/`` ...; default the local settings' folders.
    """
    if str(cfg.DATA.SAMPLER_MODE).lower() != "causal":
        raise ValueError(f"DATA.SAMPLER_MODE {cfg.DATA.SAMPLER_MODE!r} is not supported (only 'causal')")
    if int(cfg.DATA.TEMPLATE.NUMBER) != 1 or int(cfg.DATA.SEARCH.NUMBER) != 1:
        raise ValueError(f"DATA.TEMPLATE.NUMBER and DATA.SEARCH.NUMBER must be 1, got "
                         f"{cfg.DATA.TEMPLATE.NUMBER} and {cfg.DATA.SEARCH.NUMBER}")
    names = list(cfg.DATA.TRAIN.DATASETS_NAME)
    datasets = [get_dataset(dataset_key(n, lasher_split="train"), resolve_dataset_root(n, data_dir)) for n in names]
    return TrackingSampler(datasets, list(cfg.DATA.TRAIN.DATASETS_RATIO), RGBTProcessing.from_cfg(cfg),
                           samples_per_epoch=samples_per_epoch, max_gap=int(cfg.DATA.MAX_SAMPLE_INTERVAL),
                           seed=seed, rank=rank, use_absence_labels=bool(cfg.TRAIN.USE_ABSENCE_LABELS),
                           positive_boxes_only=bool(cfg.TRAIN.FIX_ZERO_SIZE_FRAMES), dataset_names=names)


def _worker_init(_) -> None:
    # The training process handles Ctrl-C / SIGTERM and then shuts its data workers down.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(1)


def make_loader(sampler: TrackingSampler, batch_size: int, num_workers: int, pin_memory: bool = False) -> DataLoader:
    """A DataLoader over the sampler's indices in order (each index seeds its own sample).

    OpenCV's thread pool is not fork-safe (a worker forked while the parent used it can deadlock
    in its first cv2 call) and the crops are small, so OpenCV runs single-threaded here, set
    before any worker is forked.
    """
    cv2.setNumThreads(1)
    workers = dict(worker_init_fn=_worker_init, prefetch_factor=4) if num_workers > 0 else {}
    return DataLoader(sampler, batch_size=batch_size, shuffle=False, num_workers=num_workers, drop_last=True,
                      pin_memory=pin_memory, **workers)
