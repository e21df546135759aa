"""Work the GUI thread must not wait for (finding the person, parsing a pose file): run it on a QThread and
get the answer back by a queued signal, so the window keeps repainting and answering the mouse meanwhile."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

from PySide6 import QtCore

from poseeditor.errors import PoseEditorError


class BackgroundJob(QtCore.QThread):
    """Runs `work()` once. `succeeded(job_id, result)` or `failed(job_id, one-line message)` follows, delivered
    in the GUI thread (connect them to methods of a GUI-thread object)."""

    succeeded = QtCore.Signal(int, object)
    failed = QtCore.Signal(int, str)

    def __init__(self, job_id: int, work: Callable[[], Any], parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.job_id = job_id
        self.work = work

    def run(self) -> None:
        try:
            result = self.work()
        except PoseEditorError as exc:
            self.failed.emit(self.job_id, str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug in the job is reported in the window, not lost
            traceback.print_exc()
            self.failed.emit(self.job_id, f"{type(exc).__name__}: {exc}")
        else:
            self.succeeded.emit(self.job_id, result)
