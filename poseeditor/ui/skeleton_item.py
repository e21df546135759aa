"""The draggable skeleton: a pyqtgraph GraphItem (as in pyqtgraph's CustomGraphItem example) over the photo.

Mouse gestures, all turned into EditorDocument calls (one undo step per gesture):
  drag a joint            move that joint
  drag a limb line        swing the limb and everything below it about its upper joint
  Shift+drag              move the whole skeleton
  Ctrl+drag               rotate and scale the whole skeleton about the mid-hip
  click a joint           select it (arrow keys nudge it, H hides/shows it)
Hovering a joint shows its name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pyqtgraph as pg
from pyqtgraph.GraphicsScene.mouseEvents import HoverEvent, MouseDragEvent
from PySide6 import QtCore, QtGui, QtWidgets

from poseeditor.document import EditorDocument, similarity_about
from poseeditor.joint_tree import JOINT_PARENTS, anchor_point
from poseeditor.skeleton import BONES, JOINT_COLOURS, JOINT_NAMES, NUM_JOINTS, SIDE_COLOURS, Pose, bone_colour

HANDLE_SIZE = 13  # screen pixels
LINE_PICK_PIXELS = 7  # how close to a limb line a drag must start to grab the limb
HIDDEN_COLOUR = (150, 150, 150)


class _JointScatter(pg.ScatterPlotItem):
    """pyqtgraph's scatter with its bounding rectangle cached.

    The scene asks an item for its bounding rectangle many times per mouse report (hover search, index update,
    paint: ~20 times per drag step), and the scatter's answer, padded by its on-screen symbol size, costs a
    pixel-size computation in Python each time (~1-2 ms of GUI thread per mouse report in all, measured). The
    cache holds while the data, the symbol sizes and the item's device transform (the zoom) stay the same.
    """

    def __init__(self) -> None:
        self._rect: QtCore.QRectF | None = None
        self._rect_transform: QtGui.QTransform | None = None
        super().__init__()

    def prepareGeometryChange(self) -> None:  # pyqtgraph calls it on every data change
        self._rect = None
        super().prepareGeometryChange()

    def clear(self) -> None:
        self._rect = None
        super().clear()

    def _updateMaxSpotSizes(self, **kwargs: object) -> None:
        super()._updateMaxSpotSizes(**kwargs)
        self._rect = None

    def boundingRect(self) -> QtCore.QRectF:
        view = self.getViewWidget()
        transform = self.deviceTransform(view.viewportTransform()) if view is not None else None
        if self._rect is None or transform is None or transform != self._rect_transform:
            self._rect = super().boundingRect()
            self._rect_transform = transform
        return QtCore.QRectF(self._rect)


def _joint_tip(x: float, y: float, data: object) -> str:
    index = int(data[0]) if data is not None else -1  # type: ignore[index]
    return f"{JOINT_NAMES[index]}  ({x:.0f}, {y:.0f})" if 0 <= index < NUM_JOINTS else ""


@dataclass
class _Drag:
    """One mouse gesture under way: what it does and where it started (photo pixels)."""

    kind: Literal["joint", "limb", "move", "similarity"]
    base: Pose  # the pose when the gesture started; every move is applied to it afresh
    start: np.ndarray  # where the button went down
    joint: int = -1  # "joint": the dragged joint; "limb": the limb's child joint
    offset: np.ndarray = field(default_factory=lambda: np.zeros(2))  # "joint": joint − start
    pivot: np.ndarray = field(default_factory=lambda: np.zeros(2))  # "limb": the upper joint; "similarity": the anchor
    key: object = field(default_factory=object)  # one undo step per gesture


class SkeletonItem(pg.GraphItem):
    """Shows `document.target_pose` and edits it by mouse."""

    scatter: pg.ScatterPlotItem  # the joints (GraphItem's attribute)

    def __init__(self, document: EditorDocument) -> None:
        super().__init__()
        self.scatter.setParentItem(None)  # GraphItem's own scatter, swapped for the one with a cached bounding box
        self.scatter = _JointScatter()
        self.scatter.setParentItem(self)
        self.document = document
        self._drag: _Drag | None = None
        self._pose: Pose | None = None
        # Limb lines: one plain QGraphicsPathItem per side colour, painted by Qt in C++, instead of GraphItem's
        # per-line pen array (replayed line by line) or PlotCurveItems (Python code in every paint): during a
        # drag the lines are repainted at every mouse report.
        self._lines: dict[str, QtWidgets.QGraphicsPathItem] = {}
        for side, colour in SIDE_COLOURS.items():
            pen = pg.mkPen(*colour, 230, width=3.0)
            pen.setCosmetic(True)  # 3 screen pixels at any zoom
            pen.setCapStyle(QtCore.Qt.PenCapStyle.RoundCap)
            item = QtWidgets.QGraphicsPathItem(self)
            item.setPen(pen)
            item.setZValue(-1)
            self._lines[side] = item
        # Pens and brushes built once: the scatter's symbol atlas then finds them again instead of re-rendering.
        self._brush = {(j, v): pg.mkBrush(*(JOINT_COLOURS[j] if v else HIDDEN_COLOUR), 235 if v else 90)
                       for j in range(NUM_JOINTS) for v in (True, False)}
        self._pen = {(v, sel): pg.mkPen("w" if v else (90, 90, 90), width=3.0 if sel else 1.5)
                     for v in (True, False) for sel in (True, False)}
        self._data = np.empty(NUM_JOINTS, dtype=[("index", int)])
        self._data["index"] = np.arange(NUM_JOINTS)
        self.scatter.sigClicked.connect(self._on_point_clicked)
        document.pose_changed.connect(self.set_pose)
        document.selection_changed.connect(lambda _joint: self.set_pose(self._pose))

    # ------------------------------------------------------------------------------------------------ display
    def set_pose(self, pose: Pose | None) -> None:
        self._pose = pose
        if pose is None:
            self.setData(pos=np.zeros((0, 2)), adj=None, pen=None)
            for item in self._lines.values():
                item.setPath(QtGui.QPainterPath())
            return
        for side, item in self._lines.items():
            path = QtGui.QPainterPath()
            for a, b in _BONES_BY_SIDE[side]:
                if pose.visible[a] and pose.visible[b]:
                    path.moveTo(*pose.xy[a])
                    path.lineTo(*pose.xy[b])
            item.setPath(path)
        selected = self.document.selected
        vis = pose.visible
        self.setData(
            pos=np.asarray(pose.xy, dtype=float),
            adj=None,
            pen=None,
            size=HANDLE_SIZE,
            symbol=["o" if vis[j] else "x" for j in range(NUM_JOINTS)],
            symbolBrush=[self._brush[(j, bool(vis[j]))] for j in range(NUM_JOINTS)],
            symbolPen=[self._pen[(bool(vis[j]), j == selected)] for j in range(NUM_JOINTS)],
            pxMode=True,
            data=self._data,
            hoverable=True,
            tip=_joint_tip,
        )

    # ----------------------------------------------------------------------------------------------- picking
    def joint_at(self, pos: QtCore.QPointF) -> int | None:
        points = self.scatter.pointsAt(pos)
        if len(points) == 0:
            return None
        return int(points[0].data()[0])

    def limb_at(self, pos: QtCore.QPointF) -> int | None:
        """The child joint of the limb line nearest to `pos`, if within LINE_PICK_PIXELS on screen."""
        pose = self._pose
        if pose is None:
            return None
        view = self.getViewBox()
        pixel = view.viewPixelSize()[0] if view is not None else 1.0
        p = np.array([pos.x(), pos.y()])
        best, best_distance = None, LINE_PICK_PIXELS * pixel
        for child, parent in enumerate(JOINT_PARENTS):
            if parent < 0 or not (pose.visible[child] and pose.visible[parent]):
                continue
            a, b = pose.xy[parent], pose.xy[child]
            ab = b - a
            t = float(np.clip(np.dot(p - a, ab) / max(np.dot(ab, ab), 1e-9), 0.0, 1.0))
            distance = float(np.linalg.norm(a + t * ab - p))
            if distance < best_distance:
                best, best_distance = child, distance
        return best

    def _on_point_clicked(self, _scatter: object, points: list, _event: object) -> None:
        if len(points):
            self.document.select(int(points[0].data()[0]))

    # ------------------------------------------------------------------------------------------------ drags
    def mouseDragEvent(self, ev: MouseDragEvent) -> None:  # noqa: N802 - pyqtgraph's name
        if ev.button() != QtCore.Qt.MouseButton.LeftButton or self._pose is None:
            ev.ignore()
            return
        if ev.isStart():
            self._drag = self._start_drag(ev)
            if self._drag is None:
                ev.ignore()
                return
        elif self._drag is None:
            ev.ignore()
            return
        drag = self._drag
        pos = np.array([ev.pos().x(), ev.pos().y()])
        if drag.kind == "joint":
            target = pos + drag.offset
            self.document.move_joint(drag.joint, float(target[0]), float(target[1]), merge_key=drag.key)
        elif drag.kind == "limb":
            angle = _angle(drag.pivot, drag.start, pos)
            self.document.swing_chain(drag.joint, angle, merge_key=drag.key, base=drag.base)
        elif drag.kind == "move":
            self.document.translate_all(*(pos - drag.start), merge_key=drag.key, base=drag.base)
        elif drag.kind == "similarity":
            centre = drag.pivot
            r0 = max(float(np.linalg.norm(drag.start - centre)), 1e-6)
            scale = float(np.clip(np.linalg.norm(pos - centre) / r0, 0.2, 5.0))
            matrix = similarity_about(centre, scale, _angle(centre, drag.start, pos))
            self.document.transform_all(matrix, "Rotate/scale skeleton", merge_key=drag.key, base=drag.base)
        if ev.isFinish():
            self.document.end_drag()
            self._drag = None
        ev.accept()

    def _start_drag(self, ev: MouseDragEvent) -> _Drag | None:
        pose = self._pose
        assert pose is not None
        down = ev.buttonDownPos()
        start = np.array([down.x(), down.y()])
        modifiers = ev.modifiers()
        if modifiers & QtCore.Qt.KeyboardModifier.ShiftModifier:
            return _Drag("move", pose, start)
        if modifiers & QtCore.Qt.KeyboardModifier.ControlModifier:
            return _Drag("similarity", pose, start, pivot=anchor_point(pose))
        joint = self.joint_at(down)
        if joint is not None:
            self.document.select(joint)
            return _Drag("joint", pose, start, joint=joint, offset=pose.xy[joint] - start)
        child = self.limb_at(down)
        if child is not None:
            return _Drag("limb", pose, start, joint=child, pivot=pose.xy[JOINT_PARENTS[child]])
        return None

    def hoverEvent(self, ev: HoverEvent) -> None:  # noqa: N802 - pyqtgraph's name
        # Ask for drags only where there is something to grab, so elsewhere the view pans.
        if ev.isExit() or self._pose is None or self._drag is not None:
            return  # nothing to offer while a drag is under way (pyqtgraph sends hovers with every move)
        pos = ev.pos()
        if self.joint_at(pos) is not None or self.limb_at(pos) is not None:
            ev.acceptDrags(QtCore.Qt.MouseButton.LeftButton)
            self.setCursor(QtGui.QCursor(QtCore.Qt.CursorShape.OpenHandCursor))
        else:
            self.unsetCursor()


def _side_of_bone(a: int, b: int) -> str:
    colour = bone_colour(a, b)
    return next(side for side, c in SIDE_COLOURS.items() if c == colour)


_BONES_BY_SIDE: dict[str, tuple[tuple[int, int], ...]] = {
    side: tuple((a, b) for a, b in BONES if _side_of_bone(a, b) == side) for side in SIDE_COLOURS
}


def _angle(pivot: np.ndarray, start: np.ndarray, now: np.ndarray) -> float:
    """Degrees turned about `pivot` going from `start` to `now` (image coordinates: clockwise positive)."""
    a0 = math.atan2(start[1] - pivot[1], start[0] - pivot[0])
    a1 = math.atan2(now[1] - pivot[1], now[0] - pivot[0])
    return math.degrees((a1 - a0 + math.pi) % (2 * math.pi) - math.pi)
