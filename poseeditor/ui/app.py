"""`poseeditor [PHOTO | SESSION.posesession] [--source-pose S.json] [--target-pose T.json] [--model DIR]
[--screenshot OUT.png]`.

With `--screenshot` the editor opens, waits for the first render to be displayed, saves a picture of the whole
window and exits (a scripting hook for docs and tests). Such a headless run never shows a dialog: a problem is
one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from poseeditor.errors import EXIT_USER_ERROR, PoseEditorError
from poseeditor.image_io import atomic_write_bytes, load_photo
from poseeditor.pose_io import load_pose
from poseeditor.resources import sample_photo

BACKENDS = ("auto", "onnx", "onnxruntime", "onnx-cpu", "onnx-cuda", "torch", "torch-cpu", "torch-cuda")
NO_DISPLAY = "no display found; use QT_QPA_PLATFORM=offscreen or `poseeditor render`"
# Qt platforms that draw without a window system; any other one (xcb, wayland...) needs a display.
HEADLESS_PLATFORMS = ("offscreen", "minimal", "vnc", "eglfs", "linuxfb", "vkkhrdisplay")


def display_problem(environ: dict[str, str] | None = None, platform: str = sys.platform) -> str | None:
    """Why Qt would abort for want of a display (Linux without DISPLAY/WAYLAND_DISPLAY, no headless platform
    asked for), or None. Checked before Qt starts, whose own message blames libxcb-cursor0."""
    env = os.environ if environ is None else environ
    if not platform.startswith("linux"):
        return None
    qpa = env.get("QT_QPA_PLATFORM", "").split(":")[0].strip().lower()
    if qpa in HEADLESS_PLATFORMS:
        return None
    if qpa.startswith("wayland"):
        return None if env.get("WAYLAND_DISPLAY") else NO_DISPLAY
    if qpa == "xcb":
        return None if env.get("DISPLAY") else NO_DISPLAY
    return None if env.get("DISPLAY") or env.get("WAYLAND_DISPLAY") else NO_DISPLAY


def build_parser(commands_help: str = "") -> argparse.ArgumentParser:
    """The editor's options; `commands_help` (from poseeditor.cli, the layer above, which owns the subcommands)
    lists the subcommands under them."""
    p = argparse.ArgumentParser(
        prog="poseeditor",
        usage="poseeditor [PHOTO | SESSION.posesession] [options]\n       poseeditor COMMAND [options]",
        description="Re-pose the person in a photo. Without a command, opens the editor.",
        epilog=commands_help or None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("photo", nargs="?", metavar="PHOTO | SESSION",
                   help="photo to open, or a saved .posesession (default: the bundled sample, if any)")
    p.add_argument("--source-pose", metavar="S.json", help="the person's pose in the photo (skips detection)")
    p.add_argument("--target-pose", metavar="T.json", help="the pose to start editing from")
    p.add_argument("--model", metavar="DIR", help="generator folder (default: the installed one)")
    p.add_argument("--backend", default="auto", choices=BACKENDS, metavar="NAME",
                   help="inference backend: auto, onnxruntime (= onnx), torch, torch-cpu, torch-cuda, onnx-cuda")
    p.add_argument("--screenshot", metavar="OUT.png", help="render, save a screenshot of the window, exit")
    p.add_argument("--screenshot-timeout", type=float, default=120.0, metavar="S",
                   help="with --screenshot: give up waiting for the render after S seconds")
    p.add_argument("--size", default="1500x950", help="window size WxH")
    p.add_argument("--result-tab", choices=("crop", "photo"), default="crop",
                   help="with --screenshot: show the re-posed crop or the whole photo (waits for the exemplar fill)")
    p.add_argument("--no-recovery", action="store_true", help="neither autosave nor offer crash recovery")
    return p


def main(argv: Sequence[str] | None = None, commands_help: str = "") -> int:
    args = build_parser(commands_help).parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        print(f"poseeditor: --size must be WxH, got {args.size!r}", file=sys.stderr)
        return EXIT_USER_ERROR
    from PySide6 import QtWidgets

    if QtWidgets.QApplication.instance() is None:
        problem = display_problem()
        if problem:
            print(f"poseeditor: {problem}", file=sys.stderr)
            return EXIT_USER_ERROR
    import pyqtgraph as pg

    from poseeditor.ui.main_window import MainWindow

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    app.setApplicationName("poseeditor")
    app.setOrganizationName("poseeditor")
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)
    screenshot = args.screenshot
    window = MainWindow(args.model, args.backend, recovery=not (args.no_recovery or screenshot),
                        interactive=not screenshot)
    window.resize(width, height)
    window.show()
    clean = False
    try:  # whatever happens, the render thread is stopped before Python tears the window down
        recovered = False if screenshot else window.offer_recovery()
        given = Path(args.photo) if args.photo else None
        photo_path = given or (sample_photo() if sample_photo().is_file() else None)
        opened = True
        if given is not None and given.suffix.lower() == ".posesession":
            opened = (window.spawn_window() if recovered else window).open_session(given)
        elif not recovered and photo_path is not None:
            opened = _open_with_poses(window, photo_path, args.source_pose, args.target_pose)
        if screenshot:
            full_photo = args.result_tab == "photo"
            code = (_take_screenshot(window, Path(screenshot), args.screenshot_timeout, full_photo) if opened
                    else EXIT_USER_ERROR)
        else:
            code = int(app.exec())
        clean = True
        return code
    finally:
        window.shutdown(keep_autosave=not clean)  # after an unexpected error the autosave is offered next time


def _open_with_poses(window: object, photo_path: Path, source: str | None, target: str | None) -> bool:
    """Open the photo; pose files are read against its size. Errors are one line on stderr and, when someone
    can close it, a dialog."""
    from poseeditor.ui.main_window import MainWindow

    assert isinstance(window, MainWindow)
    try:
        photo = load_photo(photo_path)
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
    if window.document.has_photo or window.busy:  # type: ignore[attr-defined]  (busy: finding the person)
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
