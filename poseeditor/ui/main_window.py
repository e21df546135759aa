"""The editor window: thin Qt over EditorDocument and the render worker.

Every menu action calls a document method (or an export function); the views redraw on document events;
renders come back from the worker by signal. Nothing here waits on the generator.
"""

from __future__ import annotations

import collections
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from poseeditor.document import EditorDocument
from poseeditor.engine import read_model_json
from poseeditor.errors import ModelError, PoseEditorError
from poseeditor.image_io import load_photo
from poseeditor.montage import Montage
from poseeditor.person import find_person, sidecar_pose, sidecar_pose_file
from poseeditor.pose_io import load_pose, save_openpose, save_pose
from poseeditor.presets import load_presets
from poseeditor.recovery import AutosaveSlot, Orphan, find_orphans, recovery_dir
from poseeditor.session import SessionData, load_session, save_session
from poseeditor.skeleton import JOINT_NAMES, Pose
from poseeditor.ui import exports, settings
from poseeditor.ui.background import BackgroundJob
from poseeditor.ui.panels import EnlargedView, IntermediatesPanel, ResultPanel
from poseeditor.ui.photo_view import PhotoView
from poseeditor.ui.render_worker import RenderOutcome, RenderWorker

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp)"
POSE_FILTER = "Pose files (*.json *.mat)"
SESSION_FILTER = "poseeditor sessions (*.posesession)"
AUTOSAVE_DELAY_MS = 1500
MONTAGE_INTERVAL_MS = 100

CONTROLS_HELP = """<b>Mouse</b> (on the photo)<br>
drag a joint — move it<br>
drag a limb line — swing the limb and everything below it<br>
Shift+drag on the skeleton — move the whole skeleton<br>
Ctrl+drag on the skeleton — rotate and scale it about the hips<br>
drag elsewhere — pan; wheel — zoom; hover a joint — its name<br><br>
<b>Keys</b><br>
arrows — nudge the selected joint (or everything) by 1 px, with Shift by 10 px<br>
H — hide/show the selected joint; Esc — select none<br>
[ ] — rotate the skeleton; + − — scale it; M — mirror; Ctrl+Z / Ctrl+Shift+Z — undo / redo<br>
Click a tile in Intermediates to enlarge it."""


class MainWindow(QtWidgets.QMainWindow):
    resultShown = QtCore.Signal(object, float)  # RenderOutcome, request→display latency in ms
    autosaveFailed = QtCore.Signal(str)  # emitted from the autosave thread; shown in the status bar

    def __init__(self, model_dir: str | None = None, backend: str = "auto", recovery: bool = True,
                 interactive: bool = True) -> None:
        """`interactive=False` (headless runs such as --screenshot): errors go to stderr, never to a modal
        dialog nobody can close, and closing never asks."""
        super().__init__()
        self.setWindowTitle("poseeditor")
        self.resize(1500, 950)
        self.setAcceptDrops(True)
        self.document = EditorDocument()
        self.model_dir = model_dir
        self.session_path: Path | None = None
        self.last_outcome: RenderOutcome | None = None
        self.last_pasted: np.ndarray | None = None
        self.engine_info: dict[str, Any] | None = None
        self.engine_problem: str | None = None
        self.person_message: str | None = None
        self._photo_id = 0
        self._source_ms = 0.0
        self._shown_times: collections.deque[float] = collections.deque(maxlen=120)
        self.latencies_ms: list[float] = []
        self.backend = backend
        self.interactive = interactive
        self.modified = False  # edits since the photo/session was opened or saved
        self.recovery_enabled = recovery
        self.recovery_dir = recovery_dir(self._app_data_dir())
        self.autosave_slot: AutosaveSlot | None = None
        if recovery:
            try:
                self.autosave_slot = AutosaveSlot(self.recovery_dir, on_error=self.autosaveFailed.emit)
            except OSError as exc:
                self.recovery_enabled = False
                print(f"poseeditor: no crash recovery: {self.recovery_dir}: {exc.strerror or exc}", file=sys.stderr)
        # Emitted from the autosave thread; this window lives in the GUI thread, so Qt queues the call there.
        self.autosaveFailed.connect(self._on_autosave_failed)
        self.spawned_windows: list[MainWindow] = []  # windows opened for further recovered autosaves
        # Detection and pose-file parsing run on BackgroundJobs; their answers come back by signal.
        self._jobs: dict[int, tuple[BackgroundJob, Any, str]] = {}
        self._next_job = 0
        self._open_token = 0  # the newest photo being opened; an older one's detection is ignored

        self._actions_state: tuple[object, ...] | None = None
        self._build_views()
        self._build_status_bar()
        self._build_actions()
        self._build_menus()
        self._connect_document()

        self.worker = RenderWorker(model_dir, backend)
        self.worker.engineReady.connect(self._on_engine_ready)
        self.worker.engineMissing.connect(self._on_engine_missing)
        self.worker.sourceReady.connect(self._on_source_ready)
        self.worker.rendered.connect(self._on_rendered)
        self.worker.montageReady.connect(self._on_montage)
        self.worker.pasted.connect(self._on_pasted)
        self.worker.fillReady.connect(self._on_fill_ready)
        self.worker.failed.connect(self._on_worker_failed)
        self.worker.start()

        self.autosave_timer = QtCore.QTimer(self)
        self.autosave_timer.setSingleShot(True)
        self.autosave_timer.setInterval(AUTOSAVE_DELAY_MS)
        self.autosave_timer.timeout.connect(self.autosave)
        self._pending_montage: Montage | None = None
        self._pending_montage_request = -1
        self.montage_request_id = -1  # the render whose intermediates the grid shows
        self._montage_shown_at = 0.0
        self.montage_timer = QtCore.QTimer(self)
        self.montage_timer.setSingleShot(True)
        self.montage_timer.setInterval(MONTAGE_INTERVAL_MS)
        self.montage_timer.timeout.connect(self._flush_montage)
        self._update_actions()

    # ---------------------------------------------------------------------------------------------- building
    def _build_views(self) -> None:
        self.photo_view = PhotoView(self.document)
        self.photo_view.regionPicked.connect(self.redetect_in_region)
        self.result_panel = ResultPanel()
        self.result_panel.tabChanged.connect(self._on_result_tab)
        splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        splitter.addWidget(self.photo_view)
        splitter.addWidget(self.result_panel)
        splitter.setSizes([900, 600])
        self.setCentralWidget(splitter)
        self.intermediates = IntermediatesPanel()
        self.intermediates.tileClicked.connect(self.enlarge)
        dock = QtWidgets.QDockWidget("Intermediates (click a tile to enlarge)", self)
        dock.setObjectName("intermediates")
        dock.setWidget(self.intermediates)
        dock.setFeatures(QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetClosable
                         | QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(QtCore.Qt.DockWidgetArea.BottomDockWidgetArea, dock)
        self.resizeDocks([dock], [400], QtCore.Qt.Orientation.Vertical)
        self.intermediates_dock = dock

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.backend_label = QtWidgets.QLabel("model: loading…")
        self.timing_label = QtWidgets.QLabel("")
        self.fps_label = QtWidgets.QLabel("")
        for label in (self.timing_label, self.fps_label, self.backend_label):
            label.setContentsMargins(8, 0, 8, 0)
            bar.addPermanentWidget(label)

    def _action(self, text: str, slot: Any, shortcut: Any = None, tip: str = "") -> QtGui.QAction:
        action = QtGui.QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QtGui.QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)  # shortcuts work whichever panel has the focus
        return action

    def _build_actions(self) -> None:
        K = QtGui.QKeySequence.StandardKey
        a = self._action
        self.act_open = a("&Open photo…", self.open_photo_dialog, K.Open)
        self.act_open_session = a("Open &session…", self.open_session_dialog)
        self.act_save_session = a("&Save session", self.save_session, K.Save)
        self.act_save_session_as = a("Save session &as…", self.save_session_as, K.SaveAs)
        self.act_open_model = a("Use &model folder…", self.open_model_dialog)
        self.act_export_result = a("&Result at full resolution…", self.export_result, "Ctrl+E")
        self.act_export_crop = a("Result &crop…", self.export_crop)
        self.act_export_intermediates = a("All &intermediates to a folder…", self.export_intermediates)
        self.act_export_animation = a("&Animation (GIF/MP4)…", self.export_animation)
        self.act_quit = a("&Quit", self.close, K.Quit)
        self.act_undo = a("&Undo", self.document.undo, K.Undo)
        self.act_redo = a("&Redo", self.document.redo, "Ctrl+Shift+Z")
        self.act_select_none = a("Select &none", lambda: self.document.select(None), "Esc")
        self.act_toggle = a("&Hide/show selected joint", self.document.toggle_visible, "H")
        self.act_mirror = a("&Mirror pose", self.document.mirror, "M")
        self.act_reset = a("Reset to &source pose", self.document.reset_to_source, "Ctrl+R")
        self.act_rot_left = a("Rotate skeleton left", lambda: self._scale_rotate(1.0, -5.0), "[")
        self.act_rot_right = a("Rotate skeleton right", lambda: self._scale_rotate(1.0, 5.0), "]")
        self.act_grow = a("Scale skeleton up", lambda: self._scale_rotate(1.05, 0.0), "+")
        self.act_shrink = a("Scale skeleton down", lambda: self._scale_rotate(1 / 1.05, 0.0), "-")
        self.nudges = [
            a(name, lambda d=d: self._nudge(*d), key)
            for name, d, key in (
                ("Nudge left", (-1, 0), "Left"), ("Nudge right", (1, 0), "Right"),
                ("Nudge up", (0, -1), "Up"), ("Nudge down", (0, 1), "Down"),
                ("Nudge left ×10", (-10, 0), "Shift+Left"), ("Nudge right ×10", (10, 0), "Shift+Right"),
                ("Nudge up ×10", (0, -10), "Shift+Up"), ("Nudge down ×10", (0, 10), "Shift+Down"),
            )
        ]
        self.act_add_keyframe = a("Add current pose as animation &keyframe", self.add_keyframe, "K")
        self.act_clear_keyframes = a("Clear keyframes", self.clear_keyframes)
        self.act_open_pose = a("&Open pose file (ours, OpenPose, COCO, .mat)…", self.open_pose_dialog)
        self.act_save_pose = a("&Save target pose…", lambda: self.save_pose_dialog(openpose=False))
        self.act_export_openpose = a("Export target pose as &OpenPose JSON…",
                                     lambda: self.save_pose_dialog(openpose=True))
        self.act_pose_from_photo = a("Take pose from &another photo…", self.pose_from_photo_dialog)
        self.act_redetect = a("&Re-detect the person", lambda: self.redetect_in_region(None))
        self.act_point = a("&Point at the person (drag a box or click)…", self.start_picking, "P")
        self.act_use_as_source = a("&Use skeleton as the person's pose (source)", self.use_skeleton_as_source)
        self.act_fit = a("&Fit photo", self.photo_view.fit, "F")
        self.act_fit_person = a("Zoom to the &person", self.photo_view.fit_person, "G")
        self.act_controls = a("&Controls", self.show_controls, K.HelpContents)

    def _build_menus(self) -> None:
        menu = self.menuBar()
        file = menu.addMenu("&File")
        file.addAction(self.act_open)
        self.recent_menu = file.addMenu("Open &recent")
        file.addSeparator()
        for act in (self.act_open_session, self.act_save_session, self.act_save_session_as):
            file.addAction(act)
        file.addSeparator()
        file.addAction(self.act_open_model)
        export = file.addMenu("&Export")
        for act in (self.act_export_result, self.act_export_crop, self.act_export_intermediates,
                    self.act_export_animation):
            export.addAction(act)
        file.addSeparator()
        file.addAction(self.act_quit)
        edit = menu.addMenu("&Edit")
        for act in (self.act_undo, self.act_redo, None, self.act_select_none, self.act_toggle, self.act_mirror,
                    self.act_reset, None, self.act_rot_left, self.act_rot_right, self.act_grow, self.act_shrink,
                    None, self.act_add_keyframe, self.act_clear_keyframes):
            edit.addSeparator() if act is None else edit.addAction(act)
        pose = menu.addMenu("&Pose")
        for act in (self.act_open_pose, self.act_save_pose, self.act_export_openpose, None,
                    self.act_pose_from_photo):
            pose.addSeparator() if act is None else pose.addAction(act)
        self.presets_menu = pose.addMenu("Pr&esets")
        try:
            for preset in load_presets():
                self.presets_menu.addAction(preset.name).triggered.connect(
                    lambda _c=False, p=preset: self.document.apply_preset(p) if self.document.has_photo else None
                )
        except PoseEditorError as exc:
            self.presets_menu.addAction(f"(presets unreadable: {exc})").setEnabled(False)
        pose.addSeparator()
        for act in (self.act_redetect, self.act_point, self.act_use_as_source):
            pose.addAction(act)
        view = menu.addMenu("&View")
        view.addAction(self.act_fit)
        view.addAction(self.act_fit_person)
        view.addAction(self.intermediates_dock.toggleViewAction())
        help_menu = menu.addMenu("&Help")
        help_menu.addAction(self.act_controls)
        self._refresh_recent_menu()

    def _connect_document(self) -> None:
        doc = self.document
        doc.photo_changed.connect(self._on_photo_changed)
        doc.source_changed.connect(self._send_source)
        doc.pose_changed.connect(self._on_pose_changed)
        doc.history_changed.connect(self._update_actions)
        doc.history_changed.connect(self._mark_modified)
        doc.selection_changed.connect(self._on_selection)

    # -------------------------------------------------------------------------------------------- opening
    def open_photo(self, path: str | Path, source_pose: Pose | None = None, target_pose: Pose | None = None,
                   photo: np.ndarray | None = None) -> bool:
        """Open a photo (`photo`: its pixels, when already read); finds the person unless `source_pose` is given.
        Errors become a dialog, never a crash."""
        path = Path(os.path.abspath(path))  # a session reopened from another folder must still find it
        if photo is None:
            try:
                photo = load_photo(path)
            except PoseEditorError as exc:
                self.error("Cannot open the photo", str(exc))
                return False
        self.person_message = None
        self._open_token += 1
        token = self._open_token
        if source_pose is None:
            source_pose = sidecar_pose(path, photo.shape[1], photo.shape[0])
            if source_pose is not None:
                self.person_message = f"Using the pose saved beside the photo ({sidecar_pose_file(path).name})"
        if source_pose is None:  # the detector may take seconds: the window stays responsive meanwhile
            pixels = photo

            def found(result: tuple[Pose, str]) -> None:
                if token == self._open_token:  # not overtaken by a newer open
                    self.person_message = result[1]
                    self._show_photo(pixels, result[0], path, target_pose)

            self.run_in_background(lambda: find_person(pixels), found, f"Finding the person in {path.name}…",
                                   "Cannot find the person")
            return True
        self._show_photo(photo, source_pose, path, target_pose)
        return True

    def _show_photo(self, photo: np.ndarray, source_pose: Pose, path: Path, target_pose: Pose | None) -> None:
        self.session_path = None
        self.document.set_photo(photo, source_pose, path, target_pose)
        self.modified = target_pose is not None
        self._add_recent(path)
        self.setWindowTitle(f"poseeditor — {path.name}")
        self.statusBar().showMessage(self.person_message or f"Opened {path.name}", 15000)

    # ----------------------------------------------------------------------------------------- background
    def run_in_background(self, work: Any, on_done: Any, doing: str, error_title: str) -> int:
        """Run `work()` off the GUI thread; `on_done(result)` runs in the GUI thread when it is back, an error
        becomes `self.error(error_title, ...)`."""
        self._next_job += 1
        job = BackgroundJob(self._next_job, work)
        job.succeeded.connect(self._on_job_succeeded)
        job.failed.connect(self._on_job_failed)
        self._jobs[job.job_id] = (job, on_done, error_title)
        self.statusBar().showMessage(doing)
        job.start()
        return job.job_id

    @property
    def busy(self) -> bool:
        """Background work (detection, pose parsing) is still out."""
        return bool(self._jobs)

    def _on_job_succeeded(self, job_id: int, result: Any) -> None:
        entry = self._jobs.pop(job_id, None)
        if entry is not None:
            entry[0].wait()
            entry[1](result)

    def _on_job_failed(self, job_id: int, message: str) -> None:
        entry = self._jobs.pop(job_id, None)
        if entry is not None:
            entry[0].wait()
            self.error(entry[2], message)

    def open_photo_dialog(self) -> None:
        if not self.ask_to_save_edits("opening another photo"):
            return
        path, _ = self._ask_path("photo", "Open photo", IMAGE_FILTER)
        if path:
            self.open_photo(path)

    def open_model_dialog(self) -> None:
        folder = self._ask_folder("model", "Model folder (with model.json)")
        if folder:
            self.model_dir = folder
            self.backend_label.setText("model: loading…")
            self.worker.set_model(folder)

    def dragEnterEvent(self, event: QtGui.QDragEnterEvent) -> None:  # noqa: N802 - Qt's name
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QtGui.QDropEvent) -> None:  # noqa: N802 - Qt's name
        if not self.ask_to_save_edits("opening another photo"):
            return
        for url in event.mimeData().urls():
            path = Path(url.toLocalFile())
            if path.suffix.lower() == ".posesession":
                self.open_session_in_background(path)
            else:
                self.open_photo(path)
            break

    # ------------------------------------------------------------------------------------------ recent files
    def _app_data_dir(self) -> Path:
        location = QtCore.QStandardPaths.writableLocation(QtCore.QStandardPaths.StandardLocation.AppDataLocation)
        return Path(location) if location else Path.home() / ".local" / "share" / "poseeditor"

    def recent_files(self) -> list[str]:
        return settings.recent_files()

    def _add_recent(self, path: Path) -> None:
        settings.add_recent_file(path)
        self._refresh_recent_menu()

    # ------------------------------------------------------------------------------------------ file dialogs
    def _suggested_name(self, ending: str) -> str:
        """A file name from the photo's: `photo_reposed.png` for ending "_reposed.png"."""
        stem = self.document.photo_path.stem if self.document.photo_path else "poseeditor"
        return stem + ending

    def _ask_path(self, kind: str, title: str, file_filter: str, suggested: str = "",
                  save: bool = False) -> tuple[str, str]:
        """A file dialog that starts in the folder last used for `kind` (else the photo's), with `suggested` as
        the name; the chosen folder is remembered for next time."""
        start = settings.start_path(kind, suggested, self.document.photo_path)
        ask = QtWidgets.QFileDialog.getSaveFileName if save else QtWidgets.QFileDialog.getOpenFileName
        name, chosen = ask(self, title, start, file_filter)
        if name:
            settings.remember_folder(kind, Path(name).parent)
        return name, chosen

    def _ask_folder(self, kind: str, title: str) -> str:
        folder = QtWidgets.QFileDialog.getExistingDirectory(
            self, title, settings.start_path(kind, "", self.document.photo_path))
        if folder:
            settings.remember_folder(kind, folder)
        return folder

    def _refresh_recent_menu(self) -> None:
        self.recent_menu.clear()
        items = self.recent_files()
        for item in items:
            self.recent_menu.addAction(item).triggered.connect(lambda _c=False, p=item: self.open_recent(p))
        self.recent_menu.setEnabled(bool(items))

    def open_recent(self, path: str) -> bool:
        return self.ask_to_save_edits("opening another photo") and self.open_photo(path)

    # ------------------------------------------------------------------------------------------------ render
    def _on_photo_changed(self) -> None:
        self.last_outcome = None
        self._pending_montage = None
        self.last_pasted = None
        self.result_panel.crop.set_image(None)
        self.result_panel.photo.set_image(None)
        self._send_source()
        self._update_actions()

    def _send_source(self) -> None:
        doc = self.document
        if doc.photo is None or doc.source_pose is None:
            return
        self._photo_id += 1
        # The source and its first render request go together: the worker shows a drag-time picture of it before
        # the full source stage when the model can (RenderWorker._show_quick).
        self.worker.set_paste_enabled(self.result_panel.showing_full_photo)
        self.worker.set_source(self._photo_id, doc.photo, doc.source_pose,
                               doc.target_pose if self.worker.isRunning() else None)

    def _on_pose_changed(self, _pose: Pose | None) -> None:
        self._request_render()

    def _request_render(self) -> None:
        pose = self.document.target_pose
        if pose is not None and self.worker.isRunning():
            self.worker.set_paste_enabled(self.result_panel.showing_full_photo)
            self.worker.request_render(self._photo_id, pose)

    def _on_source_ready(self, photo_id: int, timings: dict) -> None:
        if photo_id == self._photo_id:
            self._source_ms = sum(timings.values())
            self._request_render()

    def _on_rendered(self, outcome: RenderOutcome) -> None:
        if outcome.photo_id != self._photo_id:
            return
        self.last_outcome = outcome
        self.result_panel.crop.set_image(outcome.output_rgb8)
        now = time.perf_counter()
        latency = (now - outcome.requested_at) * 1000.0
        if not outcome.refined:  # a full-size re-render after a drag paused answers no pose change
            self.latencies_ms.append(latency)
        self._shown_times.append(now)
        # Frames actually shown during the last second: the rate a dragging user sees (blank when idle).
        fps = sum(1 for t in self._shown_times if now - t < 1.0)
        t = outcome.timings
        self.timing_label.setText(
            f"source {self._source_ms:.0f} ms · warp {t.get('warp_ms', 0):.0f} ms · "
            f"target net {t.get('target_network_ms', 0):.0f} ms · shown after {latency:.0f} ms"
        )
        self.fps_label.setText(f"{fps} fps" if fps >= 3 else "")
        self.resultShown.emit(outcome, latency)

    def _on_montage(self, request_id: int, photo_id: int, montage: Montage) -> None:
        """The intermediates grid follows at most every MONTAGE_INTERVAL_MS (it is a large image to redraw and
        nobody reads 28 tiles at 30 Hz); the newest one is always shown in the end."""
        if photo_id != self._photo_id:
            return
        self._pending_montage = montage
        self._pending_montage_request = request_id
        if time.perf_counter() - self._montage_shown_at >= MONTAGE_INTERVAL_MS / 1000.0:
            self._flush_montage()
        elif not self.montage_timer.isActive():
            self.montage_timer.start()

    def _flush_montage(self) -> None:
        if self._pending_montage is not None:
            self.intermediates.set_montage(self._pending_montage)
            self.montage_request_id = self._pending_montage_request
            self._montage_shown_at = time.perf_counter()
        self._pending_montage = None

    def _on_pasted(self, request_id: int, image: np.ndarray) -> None:
        if self.last_outcome is not None and request_id == self.last_outcome.request_id:
            self.last_pasted = image
            self.result_panel.photo.set_image(image)

    def _on_fill_ready(self, photo_id: int, _kind: str) -> None:
        if photo_id == self._photo_id:
            self.statusBar().showMessage("Background behind the person filled from the photo (exemplar fill)", 5000)

    def _on_result_tab(self, _index: int) -> None:
        if self.result_panel.showing_full_photo and self.last_pasted is None:
            self._request_render()

    def _on_engine_ready(self, info: dict) -> None:
        self.engine_info, self.engine_problem = info, None
        trained = "" if self._model_is_trained() else " · untrained (random weights)"
        self.backend_label.setText(
            f"{info.get('backend')} ({str(info.get('device', 'cpu')).upper()}) · {info.get('config')} "
            f"@ {info.get('size')}²{trained}"
        )
        self.result_panel.show_banner(
            None if self._model_is_trained() else
            f"The model in {info.get('model')} has not been trained (random weights): the pipeline runs, "
            "but the pictures it makes are noise."
        )

    def _model_is_trained(self) -> bool:
        folder = Path(str((self.engine_info or {}).get("model", "")))
        try:
            meta = read_model_json(folder)
        except ModelError:
            return True
        training = meta.get("training") or {}
        return not (training.get("random_weights") or int(training.get("steps", 1) or 0) == 0)

    def _on_engine_missing(self, message: str) -> None:
        self.engine_info, self.engine_problem = None, message
        self.backend_label.setText("model: none")
        self.result_panel.show_banner(
            f"No generator: {message}. You can still place and edit the skeleton and save poses; "
            "File → Use model folder… loads one."
        )
        self.result_panel.crop.show_message("No generator model installed")
        self.statusBar().showMessage(f"No generator model: {message}", 20000)
        self.resultShown.emit(None, 0.0)

    def _on_worker_failed(self, message: str) -> None:
        self.statusBar().showMessage(f"Render failed: {message}", 15000)

    # -------------------------------------------------------------------------------------------- editing
    def _nudge(self, dx: float, dy: float) -> None:
        if self.document.has_photo:
            self.document.nudge(dx, dy)

    def _scale_rotate(self, scale: float, angle: float) -> None:
        if self.document.has_photo:
            self.document.scale_rotate_all(scale, angle)

    def _on_selection(self, joint: int | None) -> None:
        if joint is not None:
            self.statusBar().showMessage(f"Selected {JOINT_NAMES[joint]} (arrows nudge, H hides/shows)", 5000)

    def _update_actions(self) -> None:
        doc = self.document
        has = doc.has_photo
        history = doc.history
        can_undo, can_redo = bool(history and history.can_undo()), bool(history and history.can_redo())
        undo_text = f"&Undo {history.undo_label()}" if history and can_undo else "&Undo"
        redo_text = f"&Redo {history.redo_label()}" if history and can_redo else "&Redo"
        state = (has, can_undo, can_redo, undo_text, redo_text)
        if state == self._actions_state:
            return  # history changes at every mouse report of a drag; the menus only when this changes
        self._actions_state = state
        self.act_undo.setEnabled(can_undo)
        self.act_redo.setEnabled(can_redo)
        self.act_undo.setText(undo_text)
        self.act_redo.setText(redo_text)
        for act in (self.act_save_session, self.act_save_session_as, self.act_export_result, self.act_export_crop,
                    self.act_export_intermediates, self.act_export_animation, self.act_mirror, self.act_reset,
                    self.act_save_pose, self.act_export_openpose, self.act_open_pose, self.act_pose_from_photo,
                    self.act_redetect, self.act_point, self.act_use_as_source, self.act_add_keyframe):
            act.setEnabled(has)
        self.presets_menu.setEnabled(has)

    def use_skeleton_as_source(self) -> None:
        pose = self.document.target_pose
        if pose is not None:
            self.document.set_source_pose(pose, "Use skeleton as source")
            self.person_message = None
            self.statusBar().showMessage("The skeleton is now the person's pose; drag it to re-pose them", 8000)

    def start_picking(self) -> None:
        self.photo_view.set_picking(True)
        self.statusBar().showMessage("Drag a box around the person, or click on them", 10000)

    def redetect_in_region(self, region: tuple[float, float, float, float] | None) -> None:
        doc = self.document
        if doc.photo is None:
            return
        photo = doc.photo

        def found(result: tuple[Pose, str]) -> None:
            if self.document.photo is photo:  # still the same photo
                pose, self.person_message = result
                self.document.set_source_pose(pose, "Re-detect person")
                self.statusBar().showMessage(self.person_message, 15000)

        self.run_in_background(lambda: find_person(photo, region), found, "Finding the person…",
                               "Cannot find the person")

    def add_keyframe(self) -> None:
        self.document.add_keyframe()
        self._mark_modified()
        self.statusBar().showMessage(f"{len(self.document.keyframes)} animation keyframe(s)", 5000)

    def clear_keyframes(self) -> None:
        self.document.clear_keyframes()
        self._mark_modified()
        self.statusBar().showMessage("Keyframes cleared", 5000)

    # ---------------------------------------------------------------------------------------------- poses
    def open_pose_dialog(self) -> None:
        path, _ = self._ask_path("pose", "Open pose", POSE_FILTER)
        if path:
            self.load_target_pose(path)

    def load_target_pose(self, path: str | Path) -> bool:
        doc = self.document
        if doc.photo is None:
            return False
        photo = doc.photo
        h, w = photo.shape[:2]
        name = Path(path).name

        def loaded(pose: Pose) -> None:
            if self.document.photo is not photo:
                return
            if (pose.width, pose.height) == (w, h):
                self.document.set_target(pose, f"Open pose {name}")
            else:  # a pose of another photo: this person's limb lengths, that pose's directions
                self.document.apply_pose(pose, f"Pose from {name}")

        # Pose files are parsed off the GUI thread (a .mat can be large; its size is checked first).
        self.run_in_background(lambda: load_pose(path, image_size=(w, h)), loaded, f"Reading {name}…",
                               "Cannot open the pose")
        return True

    def save_pose_dialog(self, openpose: bool) -> None:
        pose = self.document.target_pose
        if pose is None:
            return
        title = "Export OpenPose JSON" if openpose else "Save pose"
        suggested = self._suggested_name("_openpose.json" if openpose else "_pose.json")
        path, _ = self._ask_path("pose", title, "JSON (*.json)", suggested, save=True)
        if not path:
            return
        path = path if path.lower().endswith(".json") else path + ".json"
        try:
            (save_openpose if openpose else save_pose)(path, pose)
        except PoseEditorError as exc:
            self.error("Cannot save the pose", str(exc))
            return
        self.statusBar().showMessage(f"Saved {path}", 8000)

    def pose_from_photo_dialog(self) -> None:
        path, _ = self._ask_path("photo", "Take the pose from another photo", IMAGE_FILTER)
        if path:
            self.pose_from_photo(path)

    def pose_from_photo(self, path: str | Path) -> bool:
        try:
            other = load_photo(path)
        except PoseEditorError as exc:
            self.error("Cannot open the photo", str(exc))
            return False
        try:
            from poseeditor.detector import detect
        except ImportError:
            self.error("No detector", "No person detector is installed, so poses cannot be taken from photos.")
            return False
        photo = self.document.photo

        def found(pose: Pose) -> None:
            if self.document.photo is photo and photo is not None:
                self.document.apply_pose(pose, f"Pose from {Path(path).name}")

        self.run_in_background(lambda: detect(other).pose, found, f"Finding the person in {Path(path).name}…",
                               "No pose found")
        return True

    # ------------------------------------------------------------------------------------------- sessions
    def save_session(self) -> bool:
        if self.session_path is None:
            return self.save_session_as()
        return self._write_session(self.session_path)

    def save_session_as(self) -> bool:
        path, _ = self._ask_path("session", "Save session", SESSION_FILTER, self._suggested_name(".posesession"),
                                 save=True)
        if not path:
            return False
        path = path if path.endswith(".posesession") else path + ".posesession"
        return self._write_session(Path(path))

    def _write_session(self, path: Path) -> bool:
        if not self.document.has_photo:
            return False
        try:
            save_session(path, self.document.to_session(self.model_dir))
        except PoseEditorError as exc:
            self.error("Cannot save the session", str(exc))
            return False
        self.session_path = path
        self.modified = False
        if self.autosave_slot is not None:
            self.autosave_timer.stop()
            self.autosave_slot.clear_later()  # the session file holds the work now
        self.statusBar().showMessage(f"Session saved to {path}", 8000)
        return True

    def open_session_dialog(self) -> None:
        if not self.ask_to_save_edits("opening a session"):
            return
        path, _ = self._ask_path("session", "Open session", SESSION_FILTER)
        if path:
            self.open_session_in_background(path)

    def open_session_in_background(self, path: str | Path) -> None:
        """File → Open session and drops: the file is parsed off the GUI thread, then opened."""
        self.run_in_background(lambda: load_session(path), lambda data: self._open_loaded_session(path, data, True),
                               f"Reading {Path(path).name}…", "Cannot open the session")

    def open_session(self, path: str | Path, remember: bool = True) -> bool:
        """Open a session now (the command line and crash recovery need the answer). True when it is open."""
        try:
            data = load_session(path)
        except PoseEditorError as exc:
            self.error("Cannot open the session", str(exc))
            return False
        return self._open_loaded_session(path, data, remember)

    def _open_loaded_session(self, path: str | Path, data: SessionData, remember: bool) -> bool:
        photo_path = data.photo_path
        if photo_path is None or not photo_path.is_file():
            self.error(
                "The session's photo is missing",
                f"The photo this session edits is not at {photo_path} any more. "
                "Move it back, or choose where it is now.",
            )
            if not self.interactive:
                return False
            name = photo_path.name if photo_path else "the photo"
            located, _ = self._ask_path("photo", f"Where is {name}?", IMAGE_FILTER)
            if not located:
                return False
            photo_path = Path(os.path.abspath(located))
            data.photo_path = photo_path
        try:
            photo = load_photo(photo_path)
            self.document.restore_session(photo, data)
        except (PoseEditorError, ValueError) as exc:
            self.error("Cannot open the session", str(exc))
            return False
        self.session_path = Path(path) if remember else None
        self.modified = not remember  # a recovered autosave holds edits that no session file has yet
        if data.model_dir and data.model_dir != self.model_dir:
            self.model_dir = data.model_dir
            self.worker.set_model(data.model_dir)
        self.setWindowTitle(f"poseeditor — {photo_path.name}")
        return True

    # --------------------------------------------------------------------------------------- crash recovery
    @property
    def recovery_path(self) -> Path | None:
        """This window's own autosave file (None without recovery)."""
        return self.autosave_slot.path if self.autosave_slot is not None else None

    def _on_autosave_failed(self, message: str) -> None:
        self.statusBar().showMessage(f"Autosave failed: {message}", 8000)

    def _mark_modified(self) -> None:
        if not self.document.has_photo:
            return
        self.modified = True
        if self.recovery_enabled:
            self.autosave_timer.start()

    def autosave(self, wait: bool = False) -> None:
        """Write this window's autosave (on the autosave thread; `wait` blocks until it is on disk)."""
        slot = self.autosave_slot
        if not (self.recovery_enabled and slot is not None and self.document.has_photo and self.modified):
            return
        slot.write_later(self.document.to_session(self.model_dir))  # only the snapshot is taken here
        if wait:
            slot.wait()

    def ask_recovery(self, orphan: Orphan) -> QtWidgets.QMessageBox.StandardButton:
        """Yes: reopen it; Discard: delete it; No: keep it for the next start."""
        Button = QtWidgets.QMessageBox.StandardButton
        return QtWidgets.QMessageBox.question(
            self, "Recover unsaved work?",
            f"poseeditor did not close normally while editing {orphan.photo_name}. Its unsaved work can be "
            f"reopened:\n\n{orphan.describe()}\n\n"
            "Yes: reopen it.  No: keep it and ask next time.  Discard: delete it.",
            Button.Yes | Button.No | Button.Discard, Button.Yes,
        )

    def offer_recovery(self) -> bool:
        """Offer each autosave whose window is gone (a crash, kill -9), naming its photo. Accepted ones reopen
        here (the first, if this window is empty) or in a window of their own. An autosave is deleted only
        once its work is open again and autosaved by its new window, or when the user discards it.
        True when work was recovered into this window."""
        if not self.recovery_enabled:
            return False
        recovered_here = False
        for orphan in find_orphans(self.recovery_dir):
            if self.autosave_slot is not None and orphan.path == self.autosave_slot.path:
                orphan.release()
                continue
            answer = self.ask_recovery(orphan)
            Button = QtWidgets.QMessageBox.StandardButton
            if answer == Button.Discard:
                orphan.discard()
                continue
            if answer != Button.Yes:
                orphan.release()
                continue
            target = self if not (self.document.has_photo or recovered_here) else self.spawn_window()
            if target.open_session(orphan.path, remember=False):
                target.autosave(wait=True)
                if target.autosave_slot is not None and target.autosave_slot.last_error is None:
                    orphan.discard()  # its content is open again and in the new window's own autosave
                else:
                    orphan.release()
                recovered_here = recovered_here or target is self
            else:
                orphan.release()
                self.statusBar().showMessage(
                    f"The autosave is kept at {orphan.path}; it will be offered again next time", 20000)
        return recovered_here

    def spawn_window(self) -> MainWindow:
        """A new editor window beside this one (for a further recovered autosave)."""
        window = type(self)(self.model_dir, self.backend, recovery=self.recovery_enabled,
                            interactive=self.interactive)
        window.resize(self.size())
        window.show()
        self.spawned_windows.append(window)
        return window

    # -------------------------------------------------------------------------------------------- exports
    def _need_result(self) -> Any:
        if self.last_outcome is None:
            self.error("Nothing to export yet",
                       self.engine_problem or "The first render has not arrived yet; try again in a moment.")
            return None
        # Exports are always full size: a drag-time render (the drag paused less than SETTLE_S ago) is redone.
        return self.worker.full_size_result(self.last_outcome)

    def _ask_image_path(self, title: str, ending: str) -> Path | None:
        name, chosen = self._ask_path("export", title, "PNG (*.png);;JPEG (*.jpg *.jpeg)",
                                      self._suggested_name(ending), save=True)
        return exports.with_suffix(name, chosen, ".png") if name else None

    def export_result(self, path: str | Path | None = None) -> bool:
        result = self._need_result()
        if result is None or self.document.photo is None:
            return False
        path = path or self._ask_image_path("Export result", "_reposed.png")
        if path is None:
            return False
        photo, source = self.document.photo, self.document.source_pose
        person_mask = self.last_outcome.person_mask if self.last_outcome is not None else None
        layers = self.worker.full_photo_layers(result.crop)
        return self._export(lambda: exports.run_busy(
            self, "Composing the photo at full resolution…",
            lambda: exports.write_result_image(Path(path), photo, source, result, person_mask, layers)), path)

    def export_crop(self, path: str | Path | None = None) -> bool:
        result = self._need_result()
        if result is None:
            return False
        path = path or self._ask_image_path("Export crop", "_reposed_crop.png")
        if path is None:
            return False
        return self._export(lambda: exports.write_crop_image(Path(path), result), path)

    def export_intermediates(self, folder: str | Path | None = None) -> bool:
        result = self._need_result()
        doc = self.document
        if result is None or doc.source_pose is None or doc.target_pose is None:
            return False
        if folder is None:
            folder = self._ask_folder("export", "Folder for the intermediates")
            if not folder:
                return False
        source, target = doc.source_pose, doc.target_pose
        return self._export(lambda: exports.write_intermediates_folder(Path(folder), result, source, target), folder)

    def export_animation(self, path: str | Path | None = None, frames_per_segment: int | None = None,
                         fps: float = 12.0, full_photo: bool = False) -> bool:
        doc = self.document
        engine = self.worker.engine
        if engine is None or doc.photo is None or doc.source_pose is None or doc.target_pose is None:
            self.error("Cannot export an animation", self.engine_problem or "No model is loaded yet.")
            return False
        if frames_per_segment is None:
            dialog = exports.AnimationDialog(len(doc.keyframes), self)
            if dialog.exec() != QtWidgets.QDialog.DialogCode.Accepted:
                return False
            frames_per_segment, fps = dialog.frames.value(), float(dialog.fps.value())
            full_photo = dialog.full_photo.isChecked()
        if path is None:
            name, chosen = self._ask_path("animation", "Export animation", "GIF (*.gif);;MP4 video (*.mp4)",
                                          self._suggested_name("_animation.gif"), save=True)
            if not name:
                return False
            path = exports.with_suffix(name, chosen, ".gif")
        keyframes = [doc.source_pose, *doc.keyframes, doc.target_pose]
        try:
            person_mask = self.last_outcome.person_mask if self.last_outcome is not None else None
            job = exports.AnimationJob(engine, doc.photo, doc.source_pose, keyframes, Path(path),
                                       frames_per_segment, fps, full_photo, person_mask)
        except ValueError as exc:
            self.error("Cannot export an animation", str(exc))
            return False
        ok = exports.run_animation_job(self, job)
        if job.error:
            self.error("Animation export failed", job.error)
        elif job.cancelled:
            self.statusBar().showMessage("Animation export cancelled; nothing was written", 8000)
        else:
            self.statusBar().showMessage(f"Wrote {path}", 8000)
        return ok

    def _export(self, write: Any, path: str | Path) -> bool:
        try:
            write()
        except PoseEditorError as exc:
            self.error("Export failed", str(exc))
            return False
        self.statusBar().showMessage(f"Wrote {path}", 8000)
        return True

    # -------------------------------------------------------------------------------------------- inspect
    def enlarge(self, name: str) -> None:
        if self.last_outcome is None:
            return
        try:
            view = EnlargedView(self.last_outcome.result, name, self)
        except Exception as exc:  # noqa: BLE001 - a view that cannot be built is reported, not printed
            self.error("Cannot enlarge the tile", f"{name}: {type(exc).__name__}: {exc}")
            return
        view.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
        view.show()

    def show_controls(self) -> None:
        QtWidgets.QMessageBox.information(self, "Controls", CONTROLS_HELP)

    def error(self, title: str, message: str) -> None:
        """A one-line message in the status bar and on stderr, and a dialog when someone can close it."""
        self.statusBar().showMessage(message, 15000)
        print(f"poseeditor: {message}", file=sys.stderr)
        if self.interactive:
            QtWidgets.QMessageBox.critical(self, title, message)

    # -------------------------------------------------------------------------------------------- closing
    def ask_to_save_edits(self, doing: str = "closing") -> bool:
        """Before closing (or replacing the photo) with unsaved edits: Save, Discard or Cancel. True to go on."""
        if not (self.modified and self.document.has_photo and self.interactive):
            return True
        Button = QtWidgets.QMessageBox.StandardButton
        name = self.document.photo_path.name if self.document.photo_path else "the photo"
        answer = QtWidgets.QMessageBox.question(
            self, "Unsaved edits", f"Save the edits to {name} as a session before {doing}?",
            Button.Save | Button.Discard | Button.Cancel, Button.Save,
        )
        if answer == Button.Save:
            return self.save_session()
        if answer == Button.Discard:
            self.modified = False
            if self.autosave_slot is not None:
                self.autosave_timer.stop()
                self.autosave_slot.clear_later()  # the user threw the edits away explicitly
            return True
        return False

    def shutdown(self, keep_autosave: bool = False) -> None:
        """Stop the worker and forget this window's autosave (a clean exit is not a crash). `keep_autosave`: an
        exit that is not clean (an unexpected error): the autosave stays for the next start to offer."""
        self.autosave_timer.stop()
        self.montage_timer.stop()
        for job, _, _ in list(self._jobs.values()):
            job.wait()  # a QThread must not be destroyed while it runs
        self._jobs.clear()
        if self.worker.isRunning():
            self.worker.stop()
        if self.autosave_slot is not None:
            self.autosave_slot.release() if keep_autosave else self.autosave_slot.discard()
            self.autosave_slot = None

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802 - Qt's name
        if not self.ask_to_save_edits():
            event.ignore()
            return
        self.shutdown()
        super().closeEvent(event)
