"""Command line of ``tracking/train.py``: single-process training or a torchrun launch.

    python tracking/train.py --script tbsi_track --config NAME --save_dir DIR --mode single
    python tracking/train.py --script tbsi_track --config NAME --save_dir DIR --mode multiple --nproc_per_node 4

``--mode multiple`` runs ``python -m torch.distributed.run`` (torchrun) in this process, which
starts ``--nproc_per_node`` copies of tracking/train.py in worker mode (``--worker``).
Workers use the ``nccl`` backend on GPUs and ``gloo`` on the CPU. ``--nnodes``,
``--node_rank``, ``--master_addr`` and ``--master_port`` are passed to torchrun; on one node
without ``--master_addr``/``--master_port`` torchrun runs ``--standalone`` (a free port).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import List, Optional

import torch
import torch.distributed as dist
from torch.distributed.elastic.multiprocessing.api import SignalException
from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
from torch.distributed.run import parse_args, run

from lib.config import config_name, load_config
from lib.models.iimf import build_iimf, pretrained_path

from .data import pretrained_dir, resolve_dataset_root
from .trainer import Trainer

__all__ = ["build_parser", "torchrun_command", "main"]

REPO_ROOT = Path(__file__).resolve().parents[2]
TRAIN_SCRIPT = REPO_ROOT / "tracking" / "train.py"
SCRIPTS = ("tbsi_track",)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Train IIMF (RGB-T tracker).")
    p.add_argument("--script", default="tbsi_track", help="training script name (only tbsi_track)")
    p.add_argument("--config", required=True, help="config name in experiments/<script>/ or a .yaml path")
    p.add_argument("--save_dir", default="./output", help="where checkpoints/, logs/ and tensorboard/ go")
    p.add_argument("--mode", choices=("single", "multiple"), default="multiple",
                   help="single: one process here; multiple: torchrun with --nproc_per_node processes")
    p.add_argument("--nproc_per_node", type=int, default=1, help="processes per node (GPUs, or CPU processes)")
    p.add_argument("--nnodes", type=int, default=1, help="passed to torchrun")
    p.add_argument("--node_rank", type=int, default=0, help="passed to torchrun")
    p.add_argument("--master_addr", default=None, help="passed to torchrun")
    p.add_argument("--master_port", type=int, default=None, help="passed to torchrun")
    p.add_argument("--data_dir", default=None,
                   help="folder holding lasher/ (and rgbt234/ ...); overrides lib/config/local.py")
    p.add_argument("--seed", type=int, default=42, help="base random seed (per rank, epoch and sample derived)")
    p.add_argument("--num_workers", type=int, default=None, help="data workers per process (default TRAIN.NUM_WORKER)")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return p


def _forwarded_args(args) -> List[str]:
    out = ["--script", args.script, "--config", str(args.config), "--save_dir", str(Path(args.save_dir).resolve()),
           "--seed", str(args.seed)]
    if args.data_dir is not None:
        out += ["--data_dir", str(Path(args.data_dir).resolve())]
    if args.num_workers is not None:
        out += ["--num_workers", str(args.num_workers)]
    if args.device is not None:
        out += ["--device", args.device]
    return out


def torchrun_command(args) -> List[str]:
    """The torchrun command line that ``--mode multiple`` runs."""
    if args.nproc_per_node < 1:
        raise SystemExit(f"--nproc_per_node must be >= 1, got {args.nproc_per_node}")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(args.nproc_per_node)]
    if args.nnodes == 1 and args.master_addr is None and args.master_port is None:
        cmd += ["--standalone", "--nnodes", "1"]
    else:
        cmd += ["--nnodes", str(args.nnodes), "--node_rank", str(args.node_rank)]
        if args.master_addr is not None:
            cmd += ["--master_addr", args.master_addr]
        if args.master_port is not None:
            cmd += ["--master_port", str(args.master_port)]
    return cmd + [str(TRAIN_SCRIPT), "--worker"] + _forwarded_args(args)


def run_training(args) -> int:
    """Train in this process (single mode, or one torchrun worker)."""
    if args.script not in SCRIPTS:
        raise ValueError(f"--script {args.script!r} is not supported (choose {', '.join(SCRIPTS)})")
    cfg = load_config(args.config, script=args.script)
    rank = int(os.environ.get("RANK", 0))
    world = int(os.environ.get("WORLD_SIZE", 1))
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if args.device is not None:
        device_type = torch.device(args.device).type  # "cuda:0" and "cuda" both mean the GPUs
    else:
        device_type = "cuda" if torch.cuda.is_available() else "cpu"
    if device_type == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda requested but CUDA is not available")
    device = torch.device("cuda", local_rank) if device_type == "cuda" else torch.device("cpu")
    distributed = args.worker   # every torchrun worker joins the group, one process too (it checks the backend)
    if distributed:
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend)
        dist.barrier(device_ids=[device.index] if device.type == "cuda" else None)
        if rank == 0:
            print(f"distributed training: {world} processes, backend {backend}", flush=True)
    try:
        trainer = Trainer(cfg, config_name(args.config), args.save_dir, device=device, rank=rank, world_size=world,
                          local_rank=local_rank, seed=args.seed, data_dir=args.data_dir,
                          num_workers=args.num_workers, script=args.script, watch_parent=args.worker)
        trainer.train()
    except KeyboardInterrupt:
        return 130
    finally:
        if distributed and dist.is_initialized():
            try:
                dist.destroy_process_group()
            except Exception:
                pass
    return 0


def _run_torchrun(cmd: List[str]) -> int:
    """Run torchrun in this process (so Ctrl-C and kill reach it directly, and it forwards them to
    the workers); a stop by signal or a failed worker gives a short message, not a traceback."""
    os.environ["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + os.environ["PYTHONPATH"]
                                                 if os.environ.get("PYTHONPATH") else "")
    try:
        run(parse_args(cmd[3:]))
    except SignalException as e:
        print(f"training stopped by signal {e.sigval}; rerun the same command to resume from the last checkpoint",
              file=sys.stderr, flush=True)
        return 128 + int(e.sigval)
    except KeyboardInterrupt:
        print("training stopped (Ctrl-C); rerun the same command to resume from the last checkpoint",
              file=sys.stderr, flush=True)
        return 130
    except ChildFailedError as e:
        codes = {f.exitcode for f in e.failures.values()} if getattr(e, "failures", None) else set()
        if codes and codes <= {130, 143, -2, -15}:
            print("training stopped; rerun the same command to resume from the last checkpoint",
                  file=sys.stderr, flush=True)
            return 130
        if 2 in codes and codes <= {2, 130, 143, -2, -15}:
            # a user error (data, config) that a worker printed as one line above; torchrun stopped the others
            print("training failed with the error above", file=sys.stderr, flush=True)
            return 2
        print(f"training failed: {e}", file=sys.stderr, flush=True)
        return 1
    return 0


def _check_args(args) -> None:
    """Fail before launching anything: unknown script, invalid config or model settings, missing
    dataset folders or pretrained weights."""
    if args.script not in SCRIPTS:
        raise ValueError(f"--script {args.script!r} is not supported (choose {', '.join(SCRIPTS)})")
    cfg = load_config(args.config, script=args.script)
    with torch.device("meta"):  # checks the model settings without allocating weights
        build_iimf(cfg)
    for name in cfg.DATA.TRAIN.DATASETS_NAME:
        resolve_dataset_root(name, args.data_dir)
    if cfg.MODEL.PRETRAIN_FILE:
        pretrained_path(cfg, pretrained_dir(args.data_dir))


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if not args.worker:
            _check_args(args)
        if args.worker or args.mode == "single":
            return run_training(args)
    except (FileNotFoundError, ValueError) as e:
        # user errors (config, data or pretrained paths): a message, not a traceback
        rank = int(os.environ.get("RANK", 0)) if args.worker else 0
        print(f"error{f' on rank {rank}' if rank else ''}: {e}", file=sys.stderr, flush=True)
        return 2
    cmd = torchrun_command(args)
    print("launching: " + " ".join(cmd), flush=True)
    return _run_torchrun(cmd)
