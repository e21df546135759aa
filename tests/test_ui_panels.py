"""The enlarged view of every single tile (not only stacked ones), and readable placeholders and tiles."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")
pg = pytest.importorskip("pyqtgraph")

from poseeditor.skeleton import JOINT_NAMES, LAYER_NAMES, LIMB_NAMES  # noqa: E402
from poseeditor.ui.panels import EnlargedView  # noqa: E402

SIZE = 32


class FakeResult:
    """What tile_stack reads of a RenderResult: intermediates() and the two heatmap stacks."""

    def __init__(self) -> None:
        rng = np.random.default_rng(0)
        colour = lambda: rng.random((SIZE, SIZE, 3), dtype=np.float32)  # noqa: E731
        grey = lambda: rng.random((SIZE, SIZE), dtype=np.float32)  # noqa: E731
        self.images = {"source": colour(), "foreground": colour(), "foreground_mask": grey(),
                       "background": colour(), "output": colour(),
                       "source_heatmaps": colour(), "target_heatmaps": colour()}
        self.images.update({f"source_mask_{n}": grey() for n in LAYER_NAMES})
        self.images.update({f"warped_{n}": colour() * 0.2 for n in LIMB_NAMES})
        self.source_heatmaps = rng.random((len(JOINT_NAMES), SIZE, SIZE), dtype=np.float32)
        self.target_heatmaps = rng.random((len(JOINT_NAMES), SIZE, SIZE), dtype=np.float32)

    def intermediates(self, size=None):
        return dict(self.images)


@pytest.mark.parametrize("name", ["output", "foreground_mask", "foreground", "background", "source",
                                  "warped_torso", "source_mask_head", "target_heatmaps"])
def test_every_tile_enlarges(qtbot, name):
    """Issue 12 item 9: the single tiles (output, fg mask, foreground, background, source crop) raised
    AttributeError 'tVals' in pyqtgraph 0.14's ImageView; stacks worked."""
    view = EnlargedView(FakeResult(), name)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    shown = view.image_view.getImageItem().image
    assert shown is not None and shown.shape[:2] == (SIZE, SIZE)
    assert view.caption.text().startswith("1/") or "/" in view.caption.text()
