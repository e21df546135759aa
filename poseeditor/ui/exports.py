"""Exports from the editor: result, crop, intermediates, animation. Long ones run in a thread with a
cancellable progress dialog; every file is written atomically by the Qt-free writers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6 import QtCore, QtWidgets

from poseeditor.animation import ExportCancelled, pose_sequence, write_animation
from poseeditor.errors import ExportError
from poseeditor.image_io import clean_stale_temp_files, save_image, to_uint8
from poseeditor.pose_io import save_pose
from poseeditor.skeleton import Pose

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def full_resolution(photo: np.ndarray, source: Pose, result: Any, person_mask: np.ndarray | None,
                    layers: Any = None) -> np.ndarray:
    """The re-posed photo at its own resolution (the photo-true composite; docs/photo_composite.md)."""
    from poseeditor.engine import photo_result

    return photo_result(photo, source, result, person_mask, layers)


def with_suffix(path: str, chosen_filter: str, default: str) -> Path:
    """The file dialog's name with a suffix: the typed one if known, else the chosen filter's."""
    p = Path(path)
    if p.suffix.lower() in (*IMAGE_SUFFIXES, ".gif", ".mp4", ".json", ".posesession"):
        return p
    for suffix in (".png", ".jpg", ".gif", ".mp4"):
        if suffix in chosen_filter:
            return p.with_suffix(suffix)
    return p.with_suffix(default)


def write_result_image(path: Path, photo: np.ndarray, source: Pose, result: Any,
                       person_mask: np.ndarray | None, layers: Any = None) -> None:
    """`layers`: the photo side at full resolution when the editor already made it (else made here)."""
    clean_stale_temp_files(path.parent)  # what killed exports left in this folder
    save_image(path, full_resolution(photo, source, result, person_mask, layers))


def write_crop_image(path: Path, result: Any) -> None:
    clean_stale_temp_files(path.parent)
    save_image(path, to_uint8(result.output))


def write_intermediates_folder(folder: Path, result: Any, source: Pose, target: Pose) -> None:
    from poseeditor.engine.intermediates import write_intermediates

    if not folder.is_dir():
        raise ExportError(f"{folder}: not a folder")
    clean_stale_temp_files(folder)
    write_intermediates(folder, result, {})
    save_pose(folder / "source_pose.json", source)
    save_pose(folder / "target_pose.json", target)


class AnimationJob(QtCore.QThread):
    """Renders poses through the keyframes and writes a GIF/MP4; cancellable between frames."""

    progress = QtCore.Signal(int, int)
    failed = QtCore.Signal(str)

    def __init__(self, engine: Any, photo: np.ndarray, source: Pose, keyframes: list[Pose], path: Path,
                 frames_per_segment: int, fps: float, full_photo: bool, person_mask: np.ndarray | None = None) -> None:
        super().__init__()
        self.engine, self.photo, self.source, self.person_mask = engine, photo, source, person_mask
        self.poses = pose_sequence(keyframes, frames_per_segment)
        self.path, self.fps, self.full_photo = path, fps, full_photo
        self.cancel_requested = False
        self.cancelled = False
        self.error: str | None = None

    def frames(self) -> Any:
        # Its own source state: the live worker may be rendering at the same time with its own.
        from poseeditor.engine import full_resolution_layers

        state = self.engine.prepare_source(self.photo, self.source)
        layers = None
        if self.full_photo:  # the photo side once (person mask, parts, fill); each frame only composes
            layers = full_resolution_layers(self.photo, self.source, state.crop, state.part_masks, self.person_mask,
                                            self.engine.assignment)
        for pose in self.poses:
            result = self.engine.render(state, pose)
            if layers is not None:
                yield full_resolution(self.photo, self.source, result, self.person_mask, layers)
            else:
                yield to_uint8(result.output)

    def run(self) -> None:
        def report(done: int, total: int) -> bool:
            if self.cancel_requested:
                return False
            self.progress.emit(done, total)
            return True

        try:
            write_animation(self.path, self.frames(), len(self.poses), self.fps, report)
        except ExportCancelled:
            self.cancelled = True
        except Exception as exc:  # noqa: BLE001 - reported to the user, the editor stays up
            self.error = str(exc)
            self.failed.emit(self.error)


class BusyJob(QtCore.QThread):
    """Runs one callable off the GUI thread, keeping what it raised."""

    def __init__(self, work: Any) -> None:
        super().__init__()
        self.work = work
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.work()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the GUI thread by run_busy
            self.error = exc


def run_busy(parent: QtWidgets.QWidget, text: str, work: Any, show_after_ms: int = 400) -> None:
    """Run `work` in a thread while the GUI stays live (a busy dialog appears if it takes a while); re-raises
    what it raised. The export of a photo whose exemplar fill is not cached yet takes seconds."""
    job = BusyJob(work)
    dialog = QtWidgets.QProgressDialog(text, "", 0, 0, parent)
    dialog.setCancelButton(None)
    dialog.setWindowModality(QtCore.Qt.WindowModality.WindowModal)
    dialog.setMinimumDuration(show_after_ms)
    _run_with_dialog(job, dialog)
    if job.error is not None:
        raise job.error


def _run_with_dialog(job: QtCore.QThread, dialog: QtWidgets.QProgressDialog) -> None:
    """Start `job` and wait for it in a local event loop (the GUI stays live), then drop `dialog`."""
    loop = QtCore.QEventLoop()
    job.finished.connect(loop.quit)
    job.start()
    if not job.isFinished():
        loop.exec()
    job.wait()
    dialog.reset()
    dialog.deleteLater()


def run_animation_job(parent: QtWidgets.QWidget, job: AnimationJob) -> bool:
    """Run `job` behind a modal progress dialog with Cancel; True when the file was written."""
    dialog = QtWidgets.QProgressDialog("Rendering animation…", "Cancel", 0, len(job.poses), parent)
    dialog.setWindowTitle("Export animation")
    dialog.setWindowModality(QtCore.Qt.WindowModality.WindowModal)
    dialog.setMinimumDuration(0)
    # A bound slot of a GUI-thread object: Qt queues the call to the GUI thread (the job emits from its own).
    job.progress.connect(dialog.setValue)

    def on_cancel() -> None:
        job.cancel_requested = True

    dialog.canceled.connect(on_cancel)
    _run_with_dialog(job, dialog)
    return not job.cancelled and job.error is None


class AnimationDialog(QtWidgets.QDialog):
    """Frames per segment, frames per second, crop or full photo."""

    def __init__(self, keyframe_count: int, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export animation")
        form = QtWidgets.QFormLayout(self)
        self.segments = keyframe_count + 1
        self.description = QtWidgets.QLabel(animation_description(keyframe_count))
        self.description.setWordWrap(True)
        form.addRow(self.description)
        self.frames = QtWidgets.QSpinBox()
        self.frames.setRange(1, 300)
        self.frames.setValue(12)
        form.addRow("Frames between poses", self.frames)
        self.fps = QtWidgets.QSpinBox()
        self.fps.setRange(1, 60)
        self.fps.setValue(12)
        form.addRow("Frames per second", self.fps)
        self.length = QtWidgets.QLabel()
        form.addRow(self.length)
        self.frames.valueChanged.connect(self._update_length)
        self.fps.valueChanged.connect(self._update_length)
        self._update_length()
        self.full_photo = QtWidgets.QCheckBox("Whole photo at full resolution (else the crop)")
        form.addRow(self.full_photo)
        buttons = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.StandardButton.Ok | QtWidgets.QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _update_length(self) -> None:
        frames = self.segments * self.frames.value() + 1
        self.length.setText(f"{frames} frames, {frames / self.fps.value():.1f} s")


def animation_description(keyframe_count: int) -> str:
    """What the animation will show, in words (the old "source → 2 keyframe(s) → current pose" confused)."""
    start = "Animates from the person's pose in the photo"
    end = "to the pose you are editing now."
    if not keyframe_count:
        return (f"{start} {end} To pass through other poses on the way, add them first with "
                "Edit → Add current pose as animation keyframe (K).")
    poses = "1 keyframe" if keyframe_count == 1 else f"{keyframe_count} keyframes"
    return f"{start}, through the {poses} you added (K), in the order you added them, {end}"
