"""Result files of a tracking run: where they go, their format, when they are complete, and the
record of the checkpoint they came from (docs/tracker.md#result-files).

``<out>/<seq>.txt`` holds one ``x,y,w,h`` row per frame, each number written with ``repr`` (the
shortest string that reads back to the same float64, so the boxes are unrounded), frame 0 being
the initial box; ``<out>/<seq>_time.txt`` holds the seconds each frame took (initialisation for
frame 0). Both are written atomically, the time file first, so a box file that exists is whole.
A sequence counts as done when its box file reads back (``lib.utils.io.read_boxes``) as exactly
one finite row per frame; a rerun redoes the others. ``<out>/run_info.json`` records the
checkpoint (path, sha256) behind the results.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional, Sequence, Tuple, Union

import numpy as np

from lib.utils.io import BoxFileError, atomic_write, file_sha256, read_boxes

__all__ = ["RunError", "results_dir", "result_paths", "read_result", "is_complete", "write_result",
           "check_run_info"]

PathLike = Union[str, os.PathLike]


class RunError(RuntimeError):
    """A tracking run cannot start (no dataset, unknown sequence, results of another checkpoint)."""


def results_dir(results_path: PathLike, script: str, config_name: str, dataset_name: str,
                run_id: Optional[int] = None, variant: Optional[str] = None) -> Path:
    """``<results_path>/<script>/<config>[_<run_id:03d>][_<variant>]/<dataset_name>``.

    ``results_path`` is ``<save_dir>/test/tracking_results``; ``variant`` names a non-default
    inference path (``bf16``, ``int8``, ``onnxruntime`` ...) so its boxes never mix with the
    exact ones."""
    param = config_name if run_id is None else f"{config_name}_{int(run_id):03d}"
    if variant:
        param = f"{param}_{variant}"
    return Path(results_path) / script / param / dataset_name


def result_paths(out_dir: PathLike, seq_name: str) -> Tuple[Path, Path]:
    """(box file, time file) of a sequence."""
    out_dir = Path(out_dir)
    return out_dir / f"{seq_name}.txt", out_dir / f"{seq_name}_time.txt"


def read_result(path: PathLike) -> Optional[np.ndarray]:
    """The (N, 4) float64 boxes of a result file, or None when it is missing or damaged (not a
    table of finite numbers): such a file is simply redone."""
    try:
        return read_boxes(path)
    except (OSError, BoxFileError):
        return None


def is_complete(out_dir: PathLike, seq_name: str, num_frames: int) -> bool:
    """True when the box file has exactly ``num_frames`` finite rows and the time file exists."""
    box_file, time_file = result_paths(out_dir, seq_name)
    if not time_file.is_file():
        return False
    boxes = read_result(box_file)
    return boxes is not None and len(boxes) == num_frames


def write_result(out_dir: PathLike, seq_name: str, boxes: Sequence[Sequence[float]],
                 times: Sequence[float]) -> Path:
    """Write ``<seq>_time.txt`` then ``<seq>.txt`` (each atomically); returns the box file."""
    box_file, time_file = result_paths(out_dir, seq_name)
    atomic_write(time_file, "".join(f"{float(t)!r}\n" for t in times))
    atomic_write(box_file, "".join(",".join(repr(float(v)) for v in box) + "\n" for box in boxes))
    return box_file


def check_run_info(out_dir: PathLike, checkpoint: Optional[PathLike], config: str,
                   extra: Optional[dict] = None, calibration: Optional[PathLike] = None) -> None:
    """Record the files behind the results of ``out_dir``: the checkpoint (or ONNX file) and, for
    int8, the calibration file, each with its sha256.

    Raises:
        RunError: ``out_dir`` already holds results made from another file (another checkpoint, the
            same path retrained, or a new calibration); a folder without results (a run that failed
            at once) is reused.
    """
    if checkpoint is None:
        return
    out_dir = Path(out_dir)
    info_file = out_dir / "run_info.json"
    info = {"config": config, "checkpoint": str(Path(checkpoint).absolute()),
            "checkpoint_sha256": file_sha256(checkpoint), **(extra or {})}
    if calibration is not None:
        info.update(calibration=str(Path(calibration).absolute()), calibration_sha256=file_sha256(calibration))
    has_results = out_dir.is_dir() and any(out_dir.glob("*.txt"))
    if info_file.is_file() and has_results:
        try:
            old = json.loads(info_file.read_text())
        except (OSError, ValueError):
            old = {}
        for role in ("checkpoint", "calibration"):
            key = f"{role}_sha256"
            if old.get(key) and info.get(key) and old[key] != info[key]:
                raise RunError(_other_file_message(out_dir, role, old, info))
        if old.get("checkpoint_sha256") == info["checkpoint_sha256"] and old.get("calibration_sha256") == \
                info.get("calibration_sha256"):
            return
    atomic_write(info_file, json.dumps(info, indent=1) + "\n")


def _other_file_message(out_dir: Path, role: str, old: dict, new: dict) -> str:
    if role == "calibration":
        advice = "calibrate into another file (--out) or move these results away"
    else:
        advice = "use another --save_dir" + ("" if new.get("backend") == "onnxruntime"
                                              else " (or --epoch, which gets its own folder)")
    return (f"{out_dir} holds results of another {role} ({old.get(role)}, sha256 {old[f'{role}_sha256'][:12]}...); "
            f"this run uses {new[role]} (sha256 {new[f'{role}_sha256'][:12]}...). Delete that folder to redo it, "
            f"or {advice}.")
