"""The skeleton's joint scatter caches its bounding box: it must always equal pyqtgraph's own answer (a stale box
hides joints from the mouse: a drag then grabs nothing)."""

from __future__ import annotations

import gc

import numpy as np
import pytest

pytest.importorskip("pytestqt")
pg = pytest.importorskip("pyqtgraph")
from PySide6 import QtCore

from poseeditor.document import EditorDocument
from poseeditor.ui.photo_view import PhotoView


@pytest.fixture(autouse=True)
def _collect_qt_garbage():
    yield
    gc.collect()  # this test's Qt objects go now, not inside a later test's Qt call (see test_ui.py)


def assert_box_is_current(scatter) -> None:
    cached, fresh = scatter.boundingRect(), pg.ScatterPlotItem.boundingRect(scatter)
    for a, b in ((cached.left(), fresh.left()), (cached.top(), fresh.top()), (cached.width(), fresh.width()),
                 (cached.height(), fresh.height())):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-9)


def test_cached_joint_box_follows_zoom_resize_and_pose(qtbot, person_photo, standing_pose):
    document = EditorDocument()
    view = PhotoView(document)
    qtbot.addWidget(view)
    view.resize(500, 400)
    view.show()
    qtbot.waitExposed(view)
    document.set_photo(person_photo, standing_pose, None)
    scatter = view.skeleton.scatter
    qtbot.wait(20)
    assert_box_is_current(scatter)
    first = QtCore.QRectF(scatter.boundingRect())
    view.view.setRange(QtCore.QRectF(0, 0, 60, 60), padding=0.0)  # zoom in: the symbols' padding shrinks
    qtbot.wait(20)
    assert_box_is_current(scatter)
    assert scatter.boundingRect() != first
    view.resize(900, 700)
    qtbot.wait(20)
    assert_box_is_current(scatter)
    document.move_joint(4, 10.0, 280.0)  # the box grows with the pose
    assert_box_is_current(scatter)
    assert scatter.boundingRect().contains(QtCore.QPointF(10.0, 280.0))
    view.skeleton.set_pose(None)
    assert_box_is_current(scatter)
    np.testing.assert_allclose(document.target_pose.xy[4], (10.0, 280.0))
