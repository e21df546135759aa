"""Guard against a broken Qt binding: PySide6 6.12.0 on CPython 3.11 drops a reference to None on every call
of a void Qt method (processEvents, setEnabled, ...), so any GUI session aborts with "none_dealloc" after a few
thousand calls. pyproject.toml excludes it; this test names the problem if such a build is installed anyway."""

from __future__ import annotations

import sys

import pytest

QtWidgets = pytest.importorskip("PySide6.QtWidgets")


def test_void_qt_calls_keep_references_to_none(qapp):
    action = __import__("PySide6.QtGui", fromlist=["QAction"]).QAction("probe")
    before = sys.getrefcount(None)
    for _ in range(500):
        action.setEnabled(True)
        qapp.processEvents()
    lost = before - sys.getrefcount(None)
    import PySide6

    assert lost < 100, (
        f"PySide6 {PySide6.__version__} lost {lost} references to None in 1000 void calls: this build corrupts "
        "CPython's reference counts and the editor will crash; install PySide6-Essentials<6.12"
    )
