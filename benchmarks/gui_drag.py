"""Editor drag latency: 200 real mouse-move events dragging a wrist, request → display latency and fps.

    python benchmarks/gui_drag.py [--model DIR | --config compact --size 256] [--events 200] [--hz 60]
                                  [--pace timer|spin] [--json OUT]
    python benchmarks/gui_drag.py --model A [--compare-model B] [--compare-checkout DIR] [--rounds 5] [--json OUT]
                                  [--ort-options L] [--compare-ort-options L]

The second form compares two variants in one interleaved run: A is this checkout's code with `--model`, B is
`--compare-checkout`'s code (first on sys.path; default this checkout) with `--compare-model` (default A's model);
`--ort-options`/`--compare-ort-options` set each variant's $POSEEDITOR_ORT_OPTIONS (onnxruntime levers; unset = the
defaults, "none" = the plain session).
Every round runs one whole drag per variant, each in a fresh process (A, B, A, B, …), so machine noise hits both
alike; prints pooled median and p95 latency, the median fps and open → first render per variant, and B/A.
Open → first render: from the open_photo call to the first result shown (detection is skipped: the bundled pose);
open → full render: to the first full-size (settled) result, which is later when the first picture is a drag-time
one (docs/drag_speed.md). `--wait-before-open S`: the photo is opened S seconds after the window is shown, the same
for both variants (the model loads at launch in both); default 0, at once. Window → engine ready is printed too.

Opens the real editor window (offscreen unless a display is set), opens the sample photo with its pose, then
presses on the right wrist and sends `--events` mouse moves along a circle at `--hz` (a real mouse reports at
60–125 Hz), holding the button, and releases. Between mouse reports the GUI thread sleeps in its event loop until
the next report is due (`--pace timer`, as in the app); `--pace spin` is the driver used before 2026-11-26, which
polled processEvents in a loop between reports and so kept one of the two cores (and the GIL) busy. Every pose change posts a render request; the worker renders the
newest one (latest request wins). For every result shown in the window we record request → display latency
(the request's time stamp to the moment the images were set in the views). fps = results shown per second
of dragging. Without --model it builds a random-weight model of `--config` at `--size` (speed does not depend
on the weights) in a temporary folder; that needs torch.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from benchmarks.cpu import code_first_on_path, machine_line, percentile, simd_level  # noqa: E402

if __name__ == "__main__" and "--code" in sys.argv:  # a comparison worker: before any project import
    code_first_on_path(sys.argv[sys.argv.index("--code") + 1])


def build_random_model(folder: Path, config: str, size: int) -> Path:
    import torch

    from models.artifact import save_generator
    from models.config import get_config
    from models.generator import PoseWarpGenerator
    from models.onnx_export import export_onnx

    torch.manual_seed(0)
    model = PoseWarpGenerator(get_config(config, size)).eval()
    save_generator(model, folder, {"note": "random weights for benchmarks/gui_drag.py", "steps": 0})
    export_onnx(model, folder)
    return folder


def idle(QtCore, seconds: float) -> None:  # noqa: N803 (the Qt module, imported by the caller)
    """Let the app run for `seconds` in a real event loop. Not QTest.qWait: that kept the GIL from the render
    worker (its Python waits, e.g. the 50 ms pause before the photo side starts, did not end until qWait did)."""
    loop = QtCore.QEventLoop()
    QtCore.QTimer.singleShot(round(seconds * 1000), loop.quit)
    loop.exec()


def run(model: str, photo: Path, pose_file: Path | None, events: int, hz: float, pace: str = "timer",
        result_tab: str = "crop", wait_after_open: float = 0.0, wait_before_open: float = 0.0) -> dict:
    import pyqtgraph as pg
    from PySide6 import QtCore, QtGui, QtTest, QtWidgets

    from poseeditor.image_io import load_image
    from poseeditor.pose_io import load_pose
    from poseeditor.ui.main_window import MainWindow

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    pg.setConfigOptions(mouseRateLimit=-1)  # measure the renderer, not pyqtgraph's mouse throttle
    t_start = time.perf_counter()
    try:
        window = MainWindow(model, recovery=False, interactive=False)  # closes without asking to save the drag
    except TypeError:  # an older checkout (--compare-checkout) without `interactive`
        window = MainWindow(model, recovery=False)
    first_shown: list[float] = []
    first_size: list[object] = []  # the side the first picture's target stage ran at (None: full size)

    def on_first(outcome: object, _latency: float) -> None:
        if not first_shown:
            first_shown.append(time.perf_counter())
            first_size.append(getattr(getattr(outcome, "result", None), "preview_size", None))

    window.resultShown.connect(on_first)
    # The first full-size (settled) result: the first picture itself, or the full render that refines a first
    # picture made from the drag-time source stage (RenderWorker._show_quick).
    full_shown: list[float] = []
    window.resultShown.connect(
        lambda outcome, _lat: full_shown.append(time.perf_counter())
        if not full_shown and outcome is not None and getattr(outcome.result, "preview_size", None) is None else None)
    engine_ready: list[float] = []
    window.worker.engineReady.connect(lambda *_: engine_ready.append(time.perf_counter()))
    window.resize(1500, 950)
    window.show()
    image = load_image(photo)
    source = load_pose(pose_file, image_size=(image.shape[1], image.shape[0])) if pose_file else None
    if result_tab == "photo":  # the full-photo tab: every render is also composited at preview resolution
        window.result_panel.tabs.setCurrentIndex(1)
    if wait_before_open > 0:  # the user picks a photo while the editor starts (the model loads meanwhile)
        idle(QtCore, wait_before_open)
    t_open = time.perf_counter()
    if not window.open_photo(photo, source_pose=source, photo=image):
        raise SystemExit("could not open the photo")
    # Wait for the first result in a real event loop (as the app does). Polling with QTest.qWait here made the
    # worker's first source stage and render 10-50x slower on an idle 2-core machine (GIL hand-offs to the polling
    # thread): open -> first render 1.5-4.3 s instead of ~0.2 s, for the release and this code alike (docs/editor.md).
    if window.last_outcome is None:
        waiting = QtCore.QEventLoop()
        window.resultShown.connect(waiting.quit)
        QtCore.QTimer.singleShot(120_000, waiting.quit)
        waiting.exec()
        window.resultShown.disconnect(waiting.quit)
    if window.last_outcome is None:
        raise SystemExit(f"no render arrived: {window.engine_problem}")
    info = dict(window.engine_info or {})
    first_latency = window.latencies_ms[-1]
    if not full_shown:  # the first picture was a drag-time one: wait for its full-size refinement
        waiting = QtCore.QEventLoop()
        window.resultShown.connect(waiting.quit)
        QtCore.QTimer.singleShot(120_000, waiting.quit)
        while not full_shown:
            waiting.exec()
        window.resultShown.disconnect(waiting.quit)
    if wait_after_open > 0:  # let the background work after opening (photo side, fill) finish before the drag
        idle(QtCore, wait_after_open)

    view = window.photo_view
    viewport = view.viewport()
    start = view.joint_view_position(4)
    shown_before = len(window.latencies_ms)
    timings: list[dict] = []
    window.resultShown.connect(lambda outcome, _lat: timings.append(dict(outcome.timings)) if outcome else None)
    QtTest.QTest.mousePress(viewport, QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.KeyboardModifier.NoModifier, start)
    radius = 60.0
    gui_ms: list[float] = []  # GUI-thread time per mouse report: the drag handling, redraws, results shown
    gui_cpu_ms: list[float] = []  # the same in CPU time of the GUI thread: what it costs on an idle core
    period = 1.0 / hz

    def send(k: int) -> None:
        angle = 2 * math.pi * k / events
        # a loop that starts at the wrist: down-left, round and back
        p = QtCore.QPointF(start.x() + radius * (math.cos(angle) - 1), start.y() + radius * math.sin(angle))
        event = QtGui.QMouseEvent(QtCore.QEvent.Type.MouseMove, p, QtCore.QPointF(viewport.mapToGlobal(p)),
                                  QtCore.Qt.MouseButton.NoButton, QtCore.Qt.MouseButton.LeftButton,
                                  QtCore.Qt.KeyboardModifier.NoModifier)
        handled, handled_cpu = time.perf_counter(), time.thread_time()
        QtWidgets.QApplication.sendEvent(viewport, event)
        # Process what is queued (renders that arrived, repaints) after every mouse report, as a real event loop
        # interleaves them; when the GUI falls behind, reports come back to back.
        app.processEvents()
        gui_ms.append((time.perf_counter() - handled) * 1000.0)
        gui_cpu_ms.append((time.thread_time() - handled_cpu) * 1000.0)

    t0 = time.perf_counter()
    cpu0, gui_cpu0 = time.process_time(), time.thread_time()
    if pace == "spin":
        # The old driver: between reports the GUI thread polls processEvents in a loop. That keeps one core busy
        # (≈100% CPU in the GUI thread, holding the GIL between polls), which a real event loop does not.
        for k in range(1, events + 1):
            send(k)
            due = t0 + k * period
            while time.perf_counter() < due:
                app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 2)
    else:
        # A real event loop: the GUI thread sleeps until the next mouse report (a precise single-shot timer at its
        # due time) or until a result arrives, as it does when a user drags.
        loop = QtCore.QEventLoop()
        timer = QtCore.QTimer()
        timer.setSingleShot(True)
        timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        sent = [0]

        def next_report() -> None:
            sent[0] += 1
            send(sent[0])
            if sent[0] >= events:
                loop.quit()
                return
            wait_ms = (t0 + (sent[0] + 1) * period - time.perf_counter()) * 1000.0
            timer.start(max(0, round(wait_ms)))

        timer.timeout.connect(next_report)
        timer.start(round(period * 1000.0))
        loop.exec()
    drag_seconds = time.perf_counter() - t0
    drag_cpu_seconds = time.process_time() - cpu0  # all our threads; ≈ cores × wall when nothing else runs
    gui_cpu_seconds = time.thread_time() - gui_cpu0  # the GUI thread alone, everything it did
    QtTest.QTest.mouseRelease(viewport, QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.KeyboardModifier.NoModifier,
                              start)
    idle(QtCore, 2.0)
    latencies = window.latencies_ms[shown_before:]
    undo_steps = window.document.history.index
    window.close()

    def median_of(key: str) -> float:
        values = [t[key] for t in timings if key in t]
        return round(statistics.median(values), 2) if values else float("nan")

    return {
        "model": info.get("model"),
        "config": info.get("config"),
        "size": info.get("size"),
        "drag_size": info.get("drag_size", info.get("size")),  # the target stage's side while dragging
        "backend": info.get("backend"),
        "photo": str(photo),
        "mouse_events": events,
        "mouse_hz": hz,
        "pace": pace,
        "drag_seconds": round(drag_seconds, 3),
        "renders_shown": len(latencies),
        "fps": round(len(latencies) / drag_seconds, 1),
        "latency_ms_median": round(statistics.median(latencies), 1),
        "latency_ms_p95": round(percentile(latencies, 0.95), 1),
        "latency_ms_max": round(max(latencies), 1),
        "gui_thread_ms_per_event_median": round(statistics.median(gui_ms), 2),
        "gui_thread_cpu_ms_per_event_median": round(statistics.median(gui_cpu_ms), 2),
        "first_render_latency_ms": round(first_latency, 1),
        "open_to_first_render_ms": round((first_shown[0] - t_open) * 1000.0, 1),
        "window_to_first_render_ms": round((first_shown[0] - t_start) * 1000.0, 1),
        "open_to_full_render_ms": round((full_shown[0] - t_open) * 1000.0, 1),
        "window_to_engine_ready_ms": round((engine_ready[0] - t_start) * 1000.0, 1) if engine_ready else None,
        "wait_before_open_s": wait_before_open,
        "first_render_size": f"{first_size[0]}²" if first_size and first_size[0] else "full",
        "target_stage_ms_median": median_of("target_ms"),
        "warp_ms_median": median_of("warp_ms"),
        "target_network_ms_median": median_of("target_network_ms"),
        "undo_steps_after_drag": undo_steps,
        "process_cpu_per_wall_during_drag": round(drag_cpu_seconds / drag_seconds, 2),
        "gui_thread_cpu_per_wall_during_drag": round(gui_cpu_seconds / drag_seconds, 2),
        "load_average": os.getloadavg()[0],
        "simd": simd_level(),
        "code": str(Path(sys.modules["poseeditor"].__file__).parents[1]),
        "latencies_ms": [round(x, 2) for x in latencies],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model folder (default: a random-weight --config/--size model)")
    parser.add_argument("--config", default="compact")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--photo", type=Path, help="photo (default: the bundled sample)")
    parser.add_argument("--pose", type=Path, help="its pose file (default: PHOTO.pose.json beside it, if any)")
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--hz", type=float, default=60.0)
    parser.add_argument("--pace", choices=("timer", "spin"), default="timer",
                        help="timer: the GUI thread sleeps in its event loop between mouse reports (as in the app); "
                             "spin: the old driver, polling processEvents between reports (keeps a core busy)")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    parser.add_argument("--compare-model", help="variant B's model folder (default: --model)")
    parser.add_argument("--compare-checkout", help="variant B's code: an older checkout's root (default: this one)")
    parser.add_argument("--rounds", type=int, default=5, help="drags per variant in a comparison")
    parser.add_argument("--ort-options", default="", help="variant A's POSEEDITOR_ORT_OPTIONS in a comparison")
    parser.add_argument("--compare-ort-options", default="", help="variant B's POSEEDITOR_ORT_OPTIONS")
    parser.add_argument("--wait-after-open", type=float, default=0.0,
                        help="seconds to wait after the first render before the drag (default 0: drag at once)")
    parser.add_argument("--wait-before-open", type=float, default=0.0,
                        help="seconds between showing the window and opening the photo, the same for both variants "
                             "(a user picks a photo while the model loads; default 0: open at once)")
    parser.add_argument("--code", help=argparse.SUPPRESS)  # a comparison worker's checkout
    parser.add_argument("--result-tab", choices=("crop", "photo"), default="crop",
                        help="which result tab is shown while dragging (photo: the live full-photo composite)")
    args = parser.parse_args(argv)

    from poseeditor.image_io import atomic_write_text
    from poseeditor.resources import sample_photo

    photo = args.photo or sample_photo()
    pose = args.pose or (photo.with_name(photo.stem + ".pose.json"))
    pose = pose if pose.is_file() else None
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or str(build_random_model(Path(tmp) / "model", args.config, args.size))
        if args.compare_model or args.compare_checkout or args.ort_options or args.compare_ort_options:
            report = compare(args, model, photo, pose)
        else:
            report = run(model, photo, pose, args.events, args.hz, args.pace, args.result_tab, args.wait_after_open,
                         args.wait_before_open)
            width = max(len(k) for k in report)
            for key, value in report.items():
                if key != "latencies_ms":
                    print(f"{key:<{width}}  {value}")
            print(machine_line())
    if args.json:
        atomic_write_text(args.json, json.dumps(report, indent=1) + "\n")
    return 0


def compare(args: argparse.Namespace, model: str, photo: Path, pose: Path | None) -> dict:
    """A, B, A, B, … one drag each per round, each in a fresh process; returns the pooled numbers."""
    import subprocess

    here = Path(__file__).resolve()
    variants = {
        "A": {"code": str(here.parents[1]), "model": str(Path(model).resolve()), "ort": args.ort_options},
        "B": {"code": str(Path(args.compare_checkout or here.parents[1]).resolve()),
              "model": str(Path(args.compare_model or model).resolve()), "ort": args.compare_ort_options},
    }
    print(machine_line())
    for name, v in variants.items():
        levers = v["ort"] or "(unset: the default levers)"
        print(f"  {name}: code {v['code']} · model {v['model']} · POSEEDITOR_ORT_OPTIONS={levers}")
    runs: dict[str, list[dict]] = {name: [] for name in variants}
    loads = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.rounds):
            for name, v in variants.items():
                loads.append(os.getloadavg()[0])
                out = Path(tmp) / f"{name}-{k}.json"
                command = [sys.executable, str(here), "--code", v["code"], "--model", v["model"], "--photo",
                           str(photo), "--events", str(args.events), "--hz", str(args.hz), "--pace", args.pace,
                           "--json", str(out), "--wait-after-open", str(args.wait_after_open),
                           "--wait-before-open", str(args.wait_before_open)]
                command += ["--pose", str(pose)] if pose else []
                env = dict(os.environ, POSEEDITOR_ORT_OPTIONS=v["ort"])
                subprocess.run(command, check=True, cwd=v["code"], stdout=subprocess.DEVNULL, env=env)
                runs[name].append(json.loads(out.read_text()))
                print(f"  round {k + 1}/{args.rounds} {name}: median {runs[name][-1]['latency_ms_median']} ms, "
                      f"{runs[name][-1]['fps']} fps (load {loads[-1]:.2f})", flush=True)

    def pooled(name: str) -> dict:
        latencies = [x for r in runs[name] for x in r["latencies_ms"]]
        return {
            "code": runs[name][0]["code"],
            "latency_ms_median": round(statistics.median(latencies), 1),
            "latency_ms_p95": round(percentile(latencies, 0.95), 1),
            "fps_median": statistics.median(r["fps"] for r in runs[name]),
            "open_to_first_render_ms_median": statistics.median(r["open_to_first_render_ms"] for r in runs[name]),
            "window_to_first_render_ms_median": statistics.median(r["window_to_first_render_ms"]
                                                                  for r in runs[name]),
            "open_to_full_render_ms_median": statistics.median(r["open_to_full_render_ms"] for r in runs[name]),
            "window_to_engine_ready_ms_median": statistics.median(r["window_to_engine_ready_ms"] or float("nan")
                                                                  for r in runs[name]),
            "first_render_size": runs[name][0].get("first_render_size"),
            "target_network_ms_median": statistics.median(r["target_network_ms_median"] for r in runs[name]),
            "warp_ms_median": statistics.median(r["warp_ms_median"] for r in runs[name]),
            "per_run_latency_ms_median": [r["latency_ms_median"] for r in runs[name]],
            "drag_size": runs[name][0].get("drag_size"),
        }

    result = {name: pooled(name) for name in variants}
    print(f"\n{args.rounds} rounds × one {args.events}-event drag per variant at {args.hz:g} Hz, interleaved; "
          f"load average during the run {min(loads):.2f}–{max(loads):.2f}; photo opened "
          f"{args.wait_before_open:g} s after the window was shown (both variants)")
    print(f"{'':32} {'A':>9} {'B':>9} {'B/A':>6}")
    for key in ("latency_ms_median", "latency_ms_p95", "fps_median", "open_to_first_render_ms_median",
                "window_to_first_render_ms_median", "open_to_full_render_ms_median",
                "window_to_engine_ready_ms_median", "target_network_ms_median", "warp_ms_median"):
        a, b = result["A"][key], result["B"][key]
        print(f"{key:32} {a:9.1f} {b:9.1f} {b / a:6.2f}")
    for name in variants:
        print(f"{name}: code imported from {result[name]['code']}; target stage while dragging at "
              f"{result[name]['drag_size']}²; first picture {result[name]['first_render_size']}; per-run medians "
              f"{result[name]['per_run_latency_ms_median']}")
    print(machine_line())
    return {"simd": simd_level(), "load_average_during_run": loads, "variants": variants, "pooled": result,
            "runs": runs}


if __name__ == "__main__":
    sys.exit(main())
