"""How a tracking run computes: the inference options, their command-line arguments and their rules.

    add_inference_args(parser)                  # every script that tracks
    options = options_from_args(args)           # ValueError for a combination that cannot run
    options.validate(device)                    # build_network does this before building anything

Options: ``precision`` fp32 (the exact path, the default), bf16, fp16 or int8 (fast paths,
docs/tracker.md#fast-paths); ``backend`` torch or onnxruntime (with ``onnx``, a file exported by
tracking/export_onnx.py); ``tie_check`` (fast paths: recompute exactly the frames whose two best
response cells the fast path cannot tell apart, docs/tracker.md#tie-check).
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Optional

import torch

from lib.models.iimf.inference import PRECISIONS, check_precision_device

__all__ = ["BACKENDS", "PRECISIONS", "InferenceOptions", "add_inference_args", "options_from_args"]

BACKENDS = ("torch", "onnxruntime")


@dataclass(frozen=True)
class InferenceOptions:
    precision: str = "fp32"
    backend: str = "torch"
    onnx: Optional[str] = None
    tie_check: bool = True

    @property
    def variant(self) -> Optional[str]:
        """The results-folder suffix of a non-default path (``int8``, ``bf16_unchecked``,
        ``onnxruntime``), None for the exact path: fast-path boxes never mix with exact ones."""
        if self.backend == "onnxruntime":
            return "onnxruntime"
        if self.precision == "fp32":
            return None
        return self.precision + ("" if self.tie_check else "_unchecked")

    def validate(self, device: Optional[torch.device] = None) -> None:
        """ValueError naming the option at fault when the options cannot run (on ``device``)."""
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown backend {self.backend!r}; choose one of {', '.join(BACKENDS)}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}; choose one of {', '.join(PRECISIONS)}")
        if self.backend == "onnxruntime" and (self.onnx is None or self.precision != "fp32"):
            raise ValueError("--backend onnxruntime needs --onnx PATH (from tracking/export_onnx.py) and runs the "
                             "exported float32 model (--precision fp32)")
        if self.onnx is not None and self.backend != "onnxruntime":
            raise ValueError("--onnx is used with --backend onnxruntime only (--backend onnxruntime and --onnx PATH "
                             "go together)")
        if not self.tie_check and self.precision == "fp32":
            raise ValueError("--no_tie_check applies to the fast paths (--precision bf16, fp16 or int8) only")
        if device is not None and self.backend == "torch":
            check_precision_device(self.precision, torch.device(device))


def add_inference_args(parser: argparse.ArgumentParser) -> None:
    """The weights and inference-path arguments of every script that tracks: ``--checkpoint``,
    ``--epoch``, ``--precision``, ``--no_tie_check``, ``--backend``, ``--onnx``."""
    parser.add_argument("--checkpoint", default=None,
                        help="checkpoint file (default: the training run's checkpoint of TEST.EPOCH)")
    parser.add_argument("--epoch", "--runid", dest="epoch", type=int, default=None,
                        help="checkpoint epoch (default: TEST.EPOCH of the config)")
    parser.add_argument("--precision", default="fp32", choices=PRECISIONS,
                        help="fp32 (default): the exact path, boxes as the original's; bf16 (CPU with bf16 support, "
                             "GPU), fp16 (GPU), int8 (CPU): opt-in fast paths, results in <config>_<precision>/")
    parser.add_argument("--no_tie_check", action="store_true",
                        help="fast paths: do not recompute exactly the frames whose two best cells the fast path "
                             "cannot tell apart (results in <config>_<precision>_unchecked/)")
    parser.add_argument("--backend", default="torch", choices=BACKENDS,
                        help="torch (default) or onnxruntime (needs --onnx; results in <config>_onnxruntime/)")
    parser.add_argument("--onnx", default=None, help="model exported by tracking/export_onnx.py (--backend onnxruntime)")


def options_from_args(args: argparse.Namespace) -> InferenceOptions:
    """The options of ``add_inference_args``; ValueError for a combination that cannot run."""
    options = InferenceOptions(precision=args.precision, backend=args.backend, onnx=args.onnx,
                               tie_check=not args.no_tie_check)
    options.validate()
    if options.backend == "onnxruntime" and (args.checkpoint is not None or args.epoch is not None):
        raise ValueError("--checkpoint and --epoch are not used with --backend onnxruntime: the weights are inside "
                         "the ONNX file (export another one with tracking/export_onnx.py)")
    return options
