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


def test_empty_panels_show_their_whole_placeholder(qtbot):
    """Item 17: the empty result's placeholder sat on the view's left edge, cut ("sed person appears here")."""
    from poseeditor.document import EditorDocument
    from poseeditor.ui.panels import ResultPanel
    from poseeditor.ui.photo_view import PhotoView

    panel = ResultPanel()
    photo_view = PhotoView(EditorDocument())
    for widget in (panel, photo_view):
        qtbot.addWidget(widget)
        widget.resize(600, 700)
        widget.show()
        qtbot.waitExposed(widget)
    panel.crop.set_image(np.zeros((8, 8, 3), np.uint8))
    panel.crop.set_image(None)  # back to empty after a photo was shown
    def whole(view, text) -> None:
        qtbot.waitUntil(lambda: view.sceneBoundingRect().contains(text.sceneBoundingRect()), timeout=2000)

    whole(panel.crop.view, panel.crop.placeholder)
    whole(photo_view.view, photo_view.hint)
    panel.tabs.setCurrentIndex(1)
    whole(panel.photo.view, panel.photo.placeholder)


def test_warped_layer_tiles_are_brightened_for_display():
    """Item 17: warped layers (source × a soft mask) were too dim to read in the grid and the enlarged view."""
    from poseeditor.montage import build_montage, normalised_for_display, tile_stack

    result = FakeResult()
    result.images = {k: (np.full_like(v, 0.5) if k.startswith("warped_") else v) for k, v in result.images.items()}
    result.images["warped_torso"] = np.linspace(0, 0.2, SIZE * SIZE * 3, dtype=np.float32).reshape(SIZE, SIZE, 3)
    montage = build_montage(result, tile=SIZE)
    tile = next(t for t in montage.tiles if t.name == "warped_torso")
    assert montage.image[tile.y : tile.y + SIZE, tile.x : tile.x + SIZE].max() >= 250
    stack, index, _ = tile_stack(result, "warped_torso")
    assert stack[index].max() == pytest.approx(1.0)
    empty = normalised_for_display(np.full((SIZE, SIZE), 0.001, np.float32))
    assert empty.max() <= 0.01  # an empty layer stays dark: the gain is bounded


def test_animation_dialog_says_what_it_animates(qtbot):
    """Item 17: "source → 2 keyframe(s) → current pose" confused."""
    from poseeditor.ui.exports import AnimationDialog

    dialog = AnimationDialog(2)
    qtbot.addWidget(dialog)
    text = dialog.description.text()
    assert "→" not in text and "(s)" not in text
    assert "person's pose in the photo" in text and "2 keyframes" in text and "editing now" in text
    dialog.frames.setValue(10)
    dialog.fps.setValue(10)
    assert dialog.length.text() == "31 frames, 3.1 s"
    none = AnimationDialog(0)
    qtbot.addWidget(none)
    assert "Add current pose as animation keyframe" in none.description.text()
