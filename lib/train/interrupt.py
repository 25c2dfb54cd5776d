"""Stopping a training run cleanly: Ctrl-C, SIGTERM, or the launcher going away."""
from __future__ import annotations

import os
import signal
import threading
from typing import Dict, Optional

__all__ = ["TrainingInterrupted", "StopRequests"]


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C, SIGTERM, or the launcher went away."""


class StopRequests:
    """While active (a ``with`` block), SIGINT/SIGTERM ask for a stop that ``check()`` honours at the
    next safe point; a second signal stops at once. ``watch_parent``: ``check()`` also stops when
    the parent process (torchrun) has gone. Signals are only caught in the main thread."""

    def __init__(self, watch_parent: bool = False):
        self.watch_parent = watch_parent
        self._parent = os.getppid()
        self.signal: Optional[int] = None
        self._old_handlers: Dict = {}

    def __enter__(self) -> "StopRequests":
        self.signal = None
        if threading.current_thread() is threading.main_thread():
            main_pid = os.getpid()

            def on_signal(signum, frame):
                if os.getpid() != main_pid:   # a forked DataLoader worker before its own init
                    return
                if self.signal is not None:
                    raise TrainingInterrupted(f"signal {signum} (second)")
                self.signal = signum
            self._old_handlers = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._old_handlers.items():
            signal.signal(sig, handler)
        self._old_handlers = {}

    def check(self) -> None:
        """Raise ``TrainingInterrupted`` when a stop was requested (an exception raised inside the
        signal handler could be swallowed, e.g. while a destructor runs, so the loop asks here)."""
        if self.signal is not None:
            raise TrainingInterrupted(f"signal {self.signal}")
        if self.watch_parent and os.getppid() != self._parent:
            raise TrainingInterrupted("the launcher (torchrun) went away")
