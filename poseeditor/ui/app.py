"""`poseeditor [PHOTO] [--source-pose S.json] [--target-pose T.json] [--model DIR] [--screenshot OUT.png]`.

With `--screenshot` the editor opens, waits for the first render to be displayed, saves a picture of the whole
window and exits (a scripting hook for docs and tests).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from poseeditor.errors import PoseEditorError
from poseeditor.image_io import atomic_write_bytes, load_image
from poseeditor.pose_io import load_pose
from poseeditor.resources import sample_photo


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="poseeditor", description="Re-pose the person in a photo (the editor).")
    p.add_argument("photo", nargs="?", help="photo to open (default: the bundled sample, if any)")
    p.add_argument("--source-pose", metavar="S.json", help="the person's pose in the photo (skips detection)")
    p.add_argument("--target-pose", metavar="T.json", help="the pose to start editing from")
    p.add_argument("--model", metavar="DIR", help="generator folder (default: the installed one)")
    p.add_argument("--backend", default="auto", help="inference backend: auto, onnxruntime, torch")
    p.add_argument("--screenshot", metavar="OUT.png", help="render, save a screenshot of the window, exit")
    p.add_argument("--screenshot-timeout", type=float, default=120.0, metavar="S",
                   help="with --screenshot: give up waiting for the render after S seconds")
    p.add_argument("--size", default="1500x950", help="window size WxH")
    p.add_argument("--result-tab", choices=("crop", "photo"), default="crop",
                   help="with --screenshot: show the re-posed crop or the whole photo (waits for the exemplar fill)")
    p.add_argument("--no-recovery", action="store_true", help="neither autosave nor offer crash recovery")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    import pyqtgraph as pg
    from PySide6 import QtWidgets

    from poseeditor.ui.main_window import MainWindow

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    app.setApplicationName("poseeditor")
    app.setOrganizationName("poseeditor")
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)
    screenshot = args.screenshot
    window = MainWindow(args.model, args.backend, recovery=not (args.no_recovery or screenshot))
    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
        window.resize(width, height)
    except ValueError:
        print(f"poseeditor: --size must be WxH, got {args.size!r}", file=sys.stderr)
        return 2
    window.show()

    recovered = False if screenshot else window.offer_recovery()
    photo_path = Path(args.photo) if args.photo else (sample_photo() if sample_photo().is_file() else None)
    if not recovered and photo_path is not None:
        if not _open_with_poses(window, photo_path, args.source_pose, args.target_pose):
            if screenshot:
                window.shutdown()
                return 2
    if screenshot:
        return _take_screenshot(window, Path(screenshot), args.screenshot_timeout, args.result_tab == "photo")
    code = app.exec()
    window.shutdown()
    return int(code)


def _open_with_poses(window: object, photo_path: Path, source: str | None, target: str | None) -> bool:
    """Open the photo; pose files are read against its size. Errors are shown in a dialog."""
    from poseeditor.ui.main_window import MainWindow

    assert isinstance(window, MainWindow)
    try:
        photo = load_image(photo_path)
        h, w = photo.shape[:2]
        source_pose = load_pose(source, image_size=(w, h)) if source else None
        target_pose = load_pose(target, image_size=(w, h)) if target else None
    except PoseEditorError as exc:
        window.error("Cannot open", str(exc))
        return False
    return window.open_photo(photo_path, source_pose, target_pose, photo=photo)


def _take_screenshot(window: object, out: Path, timeout_s: float, full_photo: bool = False) -> int:
    """Wait for the first displayed render (or the news that there is no model), then grab the window. With
    `full_photo`, the full-photo tab is shown and the grab waits for the exemplar fill to be composited."""
    from PySide6 import QtCore as qc

    state = {"done": False}
    loop = qc.QEventLoop()

    def finish() -> None:
        if not state["done"]:
            state["done"] = True
            loop.quit()

    def on_shown(_outcome: object, _latency: float) -> None:
        # Let the paste-back and the repaint land before grabbing.
        qc.QTimer.singleShot(1500, finish)

    if full_photo:
        window.worker.fillReady.connect(lambda *_: qc.QTimer.singleShot(1500, finish))  # type: ignore[attr-defined]
    else:
        window.resultShown.connect(on_shown)  # type: ignore[attr-defined]
    qc.QTimer.singleShot(int(timeout_s * 1000), finish)
    if window.document.has_photo:  # type: ignore[attr-defined]
        window.result_panel.tabs.setCurrentIndex(1 if full_photo else 0)  # type: ignore[attr-defined]
        loop.exec()
    else:
        qc.QTimer.singleShot(500, finish)
        loop.exec()
    pixmap = window.grab()  # type: ignore[attr-defined]
    buffer = qc.QBuffer()
    buffer.open(qc.QIODevice.OpenModeFlag.WriteOnly)
    pixmap.save(buffer, out.suffix.lstrip(".").upper() or "PNG")
    try:
        atomic_write_bytes(out, bytes(buffer.data()))
    except PoseEditorError as exc:
        print(f"poseeditor: {exc}", file=sys.stderr)
        window.shutdown()  # type: ignore[attr-defined]
        return 2
    window.shutdown()  # type: ignore[attr-defined]
    print(f"screenshot written to {out}")
    return 0
