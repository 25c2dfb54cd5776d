"""Building the IIMF network of a config, and checking checkpoints against it.

    net = build_iimf(cfg)                               # random init (tests, then load weights)
    net = load_iimf(cfg, "IIMF_ep0015.pth.tar")          # with a checkpoint's weights, eval mode
    net = build_iimf(cfg, training=True)                # + MODEL.PRETRAIN_FILE for training
    check_checkpoint_for_config(cfg, "IIMF_ep0015.pth.tar")   # fail fast, no weights built

The modules are in ``iimf.py``; reading and converting weights is ``checkpoint.py``'s job.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

import torch

from lib.config import REPO_ROOT, Config

from .checkpoint import (check_state_dict, convert_official_state_dict, load_official_checkpoint, load_pretrained,
                         read_state_dict)
from .iimf import IIMFBackbone, IIMFTrack

__all__ = ["build_iimf", "load_iimf", "check_checkpoint_for_config", "pretrained_path"]

PathLike = Union[str, os.PathLike]
PRETRAINED_README = "see pretrained_models/README.md for where to get it"


def build_iimf(cfg: Config, training: bool = False, pretrained_dir: Optional[PathLike] = None) -> IIMFTrack:
    """The IIMF network of a config.

    Args:
        cfg: experiment config (``MODEL.*``, ``DATA.{TEMPLATE,SEARCH}.SIZE``; with ``training``
            also ``TRAIN.DROP_PATH_RATE``, ``TRAIN.TBSI_DROP_PATH`` and ``MODEL.PRETRAIN_FILE``).
        training: use the config's stochastic depth and load ``MODEL.PRETRAIN_FILE`` (if set).
        pretrained_dir: folder to look ``MODEL.PRETRAIN_FILE`` up in (default the repository's
            ``pretrained_models/``).

    Raises:
        ValueError: a config the network cannot be built from (unknown head, sizes that are not
            multiples of the patch size, interaction layers in the wrong places).
        FileNotFoundError: ``MODEL.PRETRAIN_FILE`` does not exist.
    """
    bb = cfg.MODEL.BACKBONE
    if cfg.MODEL.HEAD.TYPE != "CENTER":
        raise ValueError(f"MODEL.HEAD.TYPE {cfg.MODEL.HEAD.TYPE!r} is not supported (only 'CENTER')")
    for key, size in (("DATA.TEMPLATE.SIZE", cfg.DATA.TEMPLATE.SIZE), ("DATA.SEARCH.SIZE", cfg.DATA.SEARCH.SIZE)):
        if size % bb.STRIDE:
            raise ValueError(f"{key} = {size} is not a multiple of MODEL.BACKBONE.STRIDE = {bb.STRIDE}")
    backbone = IIMFBackbone(
        embed_dim=bb.EMBED_DIM, depth=bb.DEPTH, num_heads=bb.NUM_HEADS, mlp_ratio=bb.MLP_RATIO,
        patch_size=bb.STRIDE, template_size=cfg.DATA.TEMPLATE.SIZE, search_size=cfg.DATA.SEARCH.SIZE,
        tbsi_loc=bb.TBSI_LOC, spsh_loc=bb.SPSH_LOC,
        drop_path_rate=cfg.TRAIN.DROP_PATH_RATE if training else 0.0,
        tbsi_drop_path=cfg.TRAIN.TBSI_DROP_PATH if training else ())
    net = IIMFTrack(backbone, cfg.MODEL.HEAD.NUM_CHANNELS)
    if training and cfg.MODEL.PRETRAIN_FILE:
        load_pretrained(net, pretrained_path(cfg, pretrained_dir), whole_model=bool(cfg.TRAIN.SOT_PRETRAIN))
    return net


def load_iimf(cfg: Config, checkpoint: PathLike, verbose: bool = False) -> IIMFTrack:
    """The network of ``cfg`` with the weights of ``checkpoint`` (official or ours), in eval mode.

    Raises:
        ValueError: the checkpoint's keys or shapes do not fit the config (all of them listed).
    """
    return load_official_checkpoint(build_iimf(cfg), checkpoint, verbose=verbose).eval()


def pretrained_path(cfg: Config, folder: Optional[PathLike] = None) -> Path:
    """The file ``MODEL.PRETRAIN_FILE`` names: absolute (or relative to the working folder), else under
    ``folder`` (the ``pretrained_networks`` setting; default the repository's ``pretrained_models/``).

    Raises:
        FileNotFoundError: naming the path tried and where to get the weights.
    """
    name = Path(cfg.MODEL.PRETRAIN_FILE)
    folder = Path(folder) if folder else REPO_ROOT / "pretrained_models"
    path = name if name.is_absolute() or name.is_file() else folder / name
    if not path.is_file():
        raise FileNotFoundError(f"pretrained weights {path} (MODEL.PRETRAIN_FILE) not found; {PRETRAINED_README}, "
                                f"or set MODEL.PRETRAIN_FILE: '' to start from random weights")
    return path


def check_checkpoint_for_config(cfg: Config, path: PathLike) -> None:
    """Fail fast when the checkpoint at ``path`` does not fit the network of ``cfg`` (the file is
    memory-mapped and the network built on the meta device: nothing is loaded).

    Raises:
        ValueError: listing the missing, unexpected and wrongly shaped keys.
        RuntimeError: the file is not a readable checkpoint.
    """
    with torch.device("meta"):
        net = build_iimf(cfg)
    state, _ = convert_official_state_dict(read_state_dict(path, mmap=True))
    check_state_dict(net, state, path)
