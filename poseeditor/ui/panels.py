"""The right-hand panels: the result (crop and full photo), the intermediates grid, and the enlarged view."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from poseeditor.montage import Montage, montage_layout, tile_stack
from poseeditor.ui.photo_view import ImagePanel


class ResultPanel(QtWidgets.QWidget):
    """A banner for what is missing or wrong, and tabs for the re-posed crop and the full-resolution photo."""

    tabChanged = QtCore.Signal(int)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.banner = QtWidgets.QLabel()
        self.banner.setWordWrap(True)
        self.banner.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner.setStyleSheet(
            "QLabel { background: #5a4a12; color: #fff6d5; padding: 6px; border-radius: 3px; }"
        )
        self.banner.hide()
        layout.addWidget(self.banner)
        self.tabs = QtWidgets.QTabWidget()
        self.crop = ImagePanel("The re-posed person appears here")
        self.photo = ImagePanel("The result at the photo's resolution appears here")
        self.tabs.addTab(self.crop, "Result (crop)")
        self.tabs.addTab(self.photo, "Result (full photo)")
        self.tabs.currentChanged.connect(self.tabChanged)
        layout.addWidget(self.tabs, 1)

    def show_banner(self, text: str | None) -> None:
        self.banner.setText(text or "")
        self.banner.setVisible(bool(text))

    @property
    def showing_full_photo(self) -> bool:
        return self.tabs.currentWidget() is self.photo


class IntermediatesPanel(pg.GraphicsLayoutWidget):
    """Every module's output as one labelled grid; click a tile to enlarge it with pyqtgraph's image tools."""

    tileClicked = QtCore.Signal(str)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent=parent)
        self.setBackground((38, 38, 42))
        self.view = self.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image)
        self.montage: Montage | None = None
        (height, width), tiles, headers = montage_layout()
        self.image.setImage(np.full((height, width, 3), 38, dtype=np.uint8), autoLevels=False, levels=None)
        # A little room below the last row: its captions are drawn at a fixed screen size under the tiles.
        self.view.setRange(QtCore.QRectF(0, 0, width, height + 12), padding=0.0)
        # Labels as Qt text at a fixed screen size: readable however small the dock makes the tiles.
        caption_font = QtGui.QFont()
        caption_font.setPointSizeF(8.0)
        header_font = QtGui.QFont()
        header_font.setPointSizeF(8.5)
        header_font.setBold(True)
        for tile in tiles:
            label = pg.TextItem(tile.caption, color=(225, 225, 225), anchor=(0.5, 0.0))
            label.setFont(caption_font)
            label.setPos(tile.x + tile.size / 2, tile.y + tile.size + 1)
            self.view.addItem(label)
        for header in headers:
            label = pg.TextItem(header.title, color=(255, 214, 120), anchor=(0.0, 0.0))
            label.setFont(header_font)
            label.setPos(header.x - 2, header.y - 1)
            self.view.addItem(label)
        self.image.mouseClickEvent = self._on_click  # type: ignore[method-assign]
        self.setToolTip("Click a tile to enlarge it (levels, zoom, slider through the stack)")

    def set_montage(self, montage: Montage) -> None:
        first = self.montage is None
        self.montage = montage
        self.image.setImage(montage.image, autoLevels=False, levels=None)
        if first:
            self.view.setRange(QtCore.QRectF(0, 0, montage.image.shape[1], montage.image.shape[0] + 12), padding=0.0)

    def _on_click(self, ev: Any) -> None:
        if self.montage is None or ev.button() != QtCore.Qt.MouseButton.LeftButton:
            return
        pos = ev.pos()
        tile = self.montage.tile_at(pos.x(), pos.y())
        if tile is not None:
            ev.accept()
            self.tileClicked.emit(tile.name)


class EnlargedView(QtWidgets.QDialog):
    """One intermediate (or its whole stack) in a pyqtgraph ImageView: histogram/levels, zoom, frame slider."""

    def __init__(self, result: Any, name: str, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        stack, index, labels = tile_stack(result, name)
        self.setWindowTitle(f"{name} — {len(labels)} frame(s)" if len(labels) > 1 else name)
        self.resize(720, 640)
        layout = QtWidgets.QVBoxLayout(self)
        self.caption = QtWidgets.QLabel()
        layout.addWidget(self.caption)
        self.image_view = pg.ImageView(view=pg.PlotItem())
        self.image_view.getView().invertY(True)
        self.image_view.getView().setAspectLocked(True)
        layout.addWidget(self.image_view, 1)
        self.labels = labels
        if len(stack) == 1:
            # A single picture has no time axis, and so no frame to go to: ImageView.setCurrentIndex would read
            # the time values (tVals) that only a stack has (AttributeError with pyqtgraph 0.14).
            axes = {"y": 0, "x": 1, "c": 2} if stack.ndim == 4 else {"y": 0, "x": 1}
            self.image_view.setImage(stack[0], levels=(0.0, 1.0), autoRange=True, autoLevels=False, axes=axes)
        else:
            axes = {"t": 0, "y": 1, "x": 2, "c": 3} if stack.ndim == 4 else {"t": 0, "y": 1, "x": 2}
            self.image_view.setImage(stack, xvals=np.arange(len(stack)), levels=(0.0, 1.0), autoRange=True,
                                     autoLevels=False, axes=axes)
            self.image_view.sigTimeChanged.connect(self._on_frame)
            self.image_view.setCurrentIndex(index)
        self._on_frame(index, None)

    def _on_frame(self, index: int, _time: Any) -> None:
        index = int(index)
        if 0 <= index < len(self.labels):
            self.caption.setText(f"{index + 1}/{len(self.labels)}: {self.labels[index]}")
