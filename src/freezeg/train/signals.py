"""Stopping a run cleanly: the first SIGINT/SIGTERM asks for a checkpoint and a stop, a second acts at once."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Callable

log = logging.getLogger("freezeg")


class StopRequested(Exception):
    """Raised out of the loop after a checkpoint was written on SIGINT/SIGTERM."""


class StopOnSignal:
    """While entered, SIGINT/SIGTERM set `requested` (the loop checkpoints and stops at the end
    of its step) and restore the previous handler, so a second signal acts at once."""

    def __init__(self, describe: Callable[[], str]):
        self.describe = describe  # what the run is doing, for the warning ("finishing step 12")
        self.requested = threading.Event()
        self._previous: dict[int, object] = {}

    def __enter__(self) -> "StopOnSignal":
        if threading.current_thread() is not threading.main_thread():
            return self  # signals reach only the main thread
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.getsignal(sig)
            signal.signal(sig, self._handler)
        return self

    def _handler(self, signum, frame) -> None:
        log.warning("%s: %s, writing a checkpoint, then stopping (again to abort)",
                    signal.Signals(signum).name, self.describe())
        self.requested.set()
        signal.signal(signum, self._previous[signum])

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}
