"""Stopping a run cleanly: SIGTERM/SIGINT ask the loop to checkpoint and stop at the end of the current step."""

from __future__ import annotations

import signal
from typing import Any


class StopFlag:
    """SIGTERM/SIGINT ask the loop to checkpoint and stop at the end of the current step."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread (e.g. under a test runner thread): no signal handling
                pass

    def _handle(self, signum: int, _frame: Any) -> None:
        if self.requested:  # asked twice (e.g. the loop is stuck waiting for data): stop now, no checkpoint
            self.restore()
            raise KeyboardInterrupt
        self.requested = True

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
