"""What a training run reports: console lines, a text log, tensorboard scalars and loss meters.

* The text log ``<save_dir>/logs/<script>-<config>.log`` gets the trainer's lines and the data
  pipeline's warnings (unreadable frames ...), which also reach the console above the progress
  bar. Only rank 0 writes.
* ``Meters`` averages whatever named values the actor's loss returns (``Loss/total``,
  ``Loss/giou``, ``IoU`` ...): a new loss shows up in the logs without touching the loop.
"""
from __future__ import annotations

import logging
import math
import sys
from pathlib import Path
from typing import Dict, Optional

from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

__all__ = ["RunLog", "Meters", "format_time", "short_name"]

FILE_LOG = logging.getLogger("lib.train.log")   # the trainer's lines for the text log
DATA_LOG = logging.getLogger("lib.data")        # data pipeline warnings
LOG_SOURCES = (FILE_LOG, DATA_LOG)              # loggers whose records go to the text log


class _ConsoleHandler(logging.Handler):
    """Log records on stderr without breaking tqdm's progress bar."""

    def emit(self, record):
        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # noqa: BLE001 - logging must never stop training
            self.handleError(record)


class RunLog:
    """Console, text log and tensorboard of one run; everything is a no-op unless ``enabled`` (rank 0)."""

    def __init__(self, log_path: Path, tensorboard_dir: Path, enabled: bool = True):
        self.log_path = Path(log_path)
        self.tensorboard_dir = Path(tensorboard_dir)
        self.enabled = enabled
        self._file_handler: Optional[logging.Handler] = None
        self._console_handler: Optional[logging.Handler] = None
        self.writer: Optional[SummaryWriter] = None

    def open(self) -> None:
        """Start the text log (appending) and show data warnings on the console."""
        if not self.enabled or self._file_handler is not None:
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._file_handler = logging.FileHandler(self.log_path, encoding="utf-8")
        self._file_handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%Y-%m-%d %H:%M:%S"))
        for logger in LOG_SOURCES:
            logger.addHandler(self._file_handler)
        FILE_LOG.setLevel(logging.INFO)
        FILE_LOG.propagate = False  # the console gets these lines from tqdm.write already
        self._console_handler = _ConsoleHandler()
        self._console_handler.setFormatter(logging.Formatter("warning: %(message)s"))
        DATA_LOG.addHandler(self._console_handler)

    def open_tensorboard(self) -> None:
        if self.enabled and self.writer is None:
            self.writer = SummaryWriter(str(self.tensorboard_dir))

    def log(self, message: str, also_print: bool = True) -> None:
        """A line for the text log (and the console unless ``also_print`` is False)."""
        if not self.enabled:
            return
        if also_print:
            tqdm.write(message, file=sys.stdout)
        if self._file_handler is not None:
            FILE_LOG.info(message)

    def scalars(self, prefix: str, values: Dict[str, float], step: int) -> None:
        if self.writer is not None:
            for name, value in values.items():
                self.writer.add_scalar(f"{prefix}/{name}", value, step)

    def flush(self) -> None:
        if self.writer is not None:
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        if self._file_handler is not None:
            for logger in LOG_SOURCES:
                logger.removeHandler(self._file_handler)
            DATA_LOG.removeHandler(self._console_handler)
            self._file_handler.close()
            self._file_handler = self._console_handler = None


class Meters:
    """Running sums of named values, over the epoch and over the window since the last report."""

    def __init__(self):
        self.epoch: Dict[str, float] = {}
        self.window: Dict[str, float] = {}
        self.epoch_count = self.window_count = 0

    def update(self, values: Dict[str, float]) -> None:
        for name, value in values.items():
            self.epoch[name] = self.epoch.get(name, 0.0) + value
            self.window[name] = self.window.get(name, 0.0) + value
        self.epoch_count += 1
        self.window_count += 1

    def window_average(self) -> Dict[str, float]:
        return {name: total / self.window_count for name, total in self.window.items()}

    def epoch_average(self) -> Dict[str, float]:
        return {name: total / max(self.epoch_count, 1) for name, total in self.epoch.items()}

    def reset_window(self) -> None:
        self.window, self.window_count = {}, 0


def short_name(name: str) -> str:
    """``Loss/giou`` -> ``giou`` (progress-bar labels)."""
    return name.rsplit("/", 1)[-1].lower()


def format_time(seconds: float) -> str:
    """``h:mm:ss``, or ``?`` for an unknown duration."""
    if not math.isfinite(seconds):
        return "?"
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:d}:{minutes:02d}:{secs:02d}"
