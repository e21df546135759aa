"""Image views: the photo with the editable skeleton, and plain zoomable image panels.

The photo view also has a "point at the person" mode for re-detection: drag a box around the person, or click
on them (a box of a person's typical size around the click is used).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from poseeditor.skeleton import BONES, Pose
from poseeditor.document import EditorDocument
from poseeditor.ui.skeleton_item import SkeletonItem

pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)


class ImagePanel(pg.GraphicsLayoutWidget):
    """A zoomable, pannable image with the y axis pointing down (wheel zooms, drag pans, right-click menu)."""

    def __init__(self, title: str = "", parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent=parent)
        self.setBackground((30, 30, 34))
        self.view = self.addViewBox(lockAspect=True, invertY=True, enableMenu=True)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image)
        self.placeholder = pg.TextItem(title, color=(200, 200, 200), anchor=(0.5, 0.5))
        self.view.addItem(self.placeholder, ignoreBounds=True)
        self._shape: tuple[int, ...] | None = None
        centre_on_origin(self.view)

    def set_image(self, image: np.ndarray | None, autorange: bool = False) -> None:
        if image is None:
            self.image.clear()
            self._shape = None
            self.placeholder.show()
            centre_on_origin(self.view)
            return
        self.placeholder.hide()
        # uint8 with no levels is pyqtgraph's direct QImage path; floats are scaled from [0, 1]
        levels = (0.0, 1.0) if image.dtype != np.uint8 else None
        self.image.setImage(image, autoLevels=False, levels=levels)
        if autorange or image.shape != self._shape:
            self._shape = image.shape
            self.view.autoRange(padding=0.01)

    def show_message(self, text: str) -> None:
        self.placeholder.setText(text)
        if self._shape is None:
            self.placeholder.show()


def centre_on_origin(view: pg.ViewBox) -> None:
    """With no image, show the view's origin in the middle: a placeholder text anchored there is then centred
    and whole (the default range put it at the left edge, cut: "sed person appears here")."""
    view.setRange(QtCore.QRectF(-1.0, -1.0, 2.0, 2.0), padding=0.0)


class _PhotoViewBox(pg.ViewBox):
    """A ViewBox that, in "pick person" mode, turns a left drag into a box and a click into a point."""

    regionPicked = QtCore.Signal(object)  # (x0, y0, x1, y1) in photo pixels

    def __init__(self) -> None:
        super().__init__(lockAspect=True, invertY=True)
        self.picking = False
        self._band = QtWidgets.QGraphicsRectItem()
        self._band.setPen(pg.mkPen((255, 220, 0), width=2, style=QtCore.Qt.PenStyle.DashLine))
        self._band.setBrush(pg.mkBrush(255, 220, 0, 40))
        self._band.setZValue(100)
        self._band.hide()
        self.addItem(self._band, ignoreBounds=True)

    def mouseDragEvent(self, ev: object, axis: object = None) -> None:  # noqa: N802 - pyqtgraph's name
        if not self.picking or ev.button() != QtCore.Qt.MouseButton.LeftButton:  # type: ignore[attr-defined]
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()  # type: ignore[attr-defined]
        a = self.mapSceneToView(ev.buttonDownScenePos())  # type: ignore[attr-defined]
        b = self.mapSceneToView(ev.scenePos())  # type: ignore[attr-defined]
        rect = QtCore.QRectF(a, b).normalized()
        self._band.setRect(rect)
        self._band.show()
        if ev.isFinish():  # type: ignore[attr-defined]
            self._band.hide()
            self.regionPicked.emit((rect.left(), rect.top(), rect.right(), rect.bottom()))

    def mouseClickEvent(self, ev: object) -> None:  # noqa: N802 - pyqtgraph's name
        if self.picking and ev.button() == QtCore.Qt.MouseButton.LeftButton:  # type: ignore[attr-defined]
            ev.accept()  # type: ignore[attr-defined]
            p = self.mapSceneToView(ev.scenePos())  # type: ignore[attr-defined]
            self.regionPicked.emit((p.x(), p.y(), p.x(), p.y()))
            return
        super().mouseClickEvent(ev)


class PhotoView(pg.GraphicsLayoutWidget):
    """The photo, the source pose as a faint ghost, and the draggable target skeleton on top."""

    regionPicked = QtCore.Signal(object)

    def __init__(self, document: EditorDocument, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent=parent)
        self.document = document
        self.setBackground((30, 30, 34))
        self.view = _PhotoViewBox()
        self.addItem(self.view)
        self.image = pg.ImageItem(axisOrder="row-major")
        # The photo changes only on open, but is repainted under the skeleton on every drag step: cache it as
        # a pixmap at the current zoom so a repaint is a blit, not a rescale of a multi-megapixel image.
        self.image.setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.view.addItem(self.image)
        # The source pose as a thin ghost: what the person's pose was, for reference while dragging.
        self.ghost = QtWidgets.QGraphicsPathItem()
        ghost_pen = pg.mkPen((255, 255, 255, 130), width=1.5)
        ghost_pen.setCosmetic(True)
        self.ghost.setPen(ghost_pen)
        self.view.addItem(self.ghost)
        self.skeleton = SkeletonItem(document)
        self.view.addItem(self.skeleton)
        self.hint = pg.TextItem("Open a photo: File → Open, or drop one here", color=(210, 210, 210),
                                anchor=(0.5, 0.5))
        self.view.addItem(self.hint, ignoreBounds=True)
        centre_on_origin(self.view)
        self.view.regionPicked.connect(self._on_region)
        document.photo_changed.connect(self._on_photo)
        document.source_changed.connect(self._draw_ghost)
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)

    def _on_photo(self) -> None:
        photo = self.document.photo
        if photo is None:
            return
        self.hint.hide()
        self.image.setImage(photo, autoLevels=False, levels=None)
        self._draw_ghost()
        self.fit_person()

    def _draw_ghost(self) -> None:
        pose = self.document.source_pose
        path = QtGui.QPainterPath()
        if pose is not None:
            for a, b in BONES:
                if pose.visible[a] and pose.visible[b]:
                    path.moveTo(*pose.xy[a])
                    path.lineTo(*pose.xy[b])
        self.ghost.setPath(path)

    def fit(self) -> None:
        if self.document.photo is not None:
            h, w = self.document.photo.shape[:2]
            self.view.setRange(QtCore.QRectF(0, 0, w, h), padding=0.02)

    def fit_person(self, margin: float = 0.35) -> None:
        """Zoom to the person (both poses, with a margin): in a wide photo they may be a small part of it."""
        doc = self.document
        poses = [p for p in (doc.source_pose, doc.target_pose) if p is not None]
        if doc.photo is None or not poses:
            return
        boxes = np.array([p.box() for p in poses])
        x0, y0 = boxes[:, 0].min(), boxes[:, 1].min()
        x1, y1 = boxes[:, 2].max(), boxes[:, 3].max()
        side = max(x1 - x0, y1 - y0, 40.0) * (1 + 2 * margin)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        h, w = doc.photo.shape[:2]
        if side >= 0.8 * max(w, h):
            self.fit()
            return
        self.view.setRange(QtCore.QRectF(cx - side / 2, cy - side / 2, side, side), padding=0.0)

    def set_picking(self, on: bool) -> None:
        self.view.picking = on
        cursor = QtCore.Qt.CursorShape.CrossCursor if on else QtCore.Qt.CursorShape.ArrowCursor
        self.setCursor(QtGui.QCursor(cursor))
        self.skeleton.setVisible(not on)

    def _on_region(self, region: tuple[float, float, float, float]) -> None:
        self.set_picking(False)
        self.regionPicked.emit(region)

    def joint_view_position(self, joint: int, pose: Pose | None = None) -> QtCore.QPoint:
        """Where joint `joint` is drawn, in this widget's viewport coordinates (for tests and benchmarks)."""
        pose = pose or self.document.target_pose
        assert pose is not None
        x, y = pose.xy[joint]
        scene = self.view.mapViewToScene(QtCore.QPointF(float(x), float(y)))
        return self.mapFromScene(scene)
