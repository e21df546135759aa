"""The render worker: one QThread that owns the engine; the newest request wins.

The GUI thread only posts requests (a few attribute writes under a lock) and receives results by queued
signals, so it never waits on the model. While the worker is busy, newer requests overwrite older pending
ones: a fast drag renders the latest pose, not a backlog. The source stage runs once per photo (or when the
source pose changes). The photo side of the photo-true composite (person mask, part labels, hole, fill) is
made once per source at a preview resolution; while the full-photo tab is shown every render is composited at
that resolution. The exemplar fill of the hole runs in a thread of its own (seconds of CPU) and swaps in when
ready.
"""

from __future__ import annotations

import os
import threading
import time
import traceback
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PySide6.QtCore import QThread, Signal

from poseeditor.engine.photo_fill import FILL_CACHE, fill_key
from poseeditor.errors import PoseEditorError
from poseeditor.skeleton import Pose
from poseeditor.montage import build_montage

QUIET_S = 0.05  # no new pose for this long = the drag paused: time for the grid and the paste-back
# While poses keep coming (a drag), the target stage runs at the engine's drag-time side (half the crop's: a quarter
# of the pixels, docs/drag_speed.md). When no new pose has come for this long after such a render, its pose is
# rendered again at full size and that render is what the views, the grid and every export show. Long enough not
# to fire between two mouse reports of a slow drag (60–125 Hz: 8–17 ms apart), short enough to feel immediate.
SETTLE_S = 0.15
# While poses keep coming (a drag), the intermediates grid is rebuilt at most this often. Building it costs
# ~15 ms of CPU (~35 ms wall on 2 busy cores) in this thread, right in front of the next render: at 10 Hz it
# delayed 6 renders in 10 (measured, docs/editor.md). It is always rebuilt as soon as the drag pauses (QUIET_S).
GRID_DRAG_INTERVAL_S = 1.0
# The live full-photo composite works on a copy of the photo at most this long (screen resolution); exports
# compose at the photo's own resolution.
PREVIEW_MAX_SIDE = 1280


def grid_due_while_busy(now: float, last_grid_at: float, busy_since: float,
                        interval: float = GRID_DRAG_INTERVAL_S) -> bool:
    """Whether to rebuild the grid right after a render while more poses keep coming: only once `interval` has
    passed both since the last grid and since this run of renders (the drag) began. A drag shorter than
    `interval` builds no grid until it pauses."""
    return now - max(last_grid_at, busy_since) >= interval


@dataclass
class RenderOutcome:
    """One finished render, posted to the GUI thread."""

    request_id: int
    photo_id: int
    pose: Pose
    result: Any  # poseeditor.engine.RenderResult
    output_rgb8: np.ndarray  # the result crop as (S, S, 3) uint8, converted here so the GUI thread only blits
    requested_at: float  # time.perf_counter() when the GUI asked
    rendered_at: float
    timings: dict[str, float] = field(default_factory=dict)
    person_mask: np.ndarray | None = None  # the detector's (H, W) person mask of the source photo, if any
    # A full-size re-render of a drag-time render's pose once the drag paused: not an answer to a pose change (its
    # request came SETTLE_S earlier), so the window does not count it as drag latency.
    refined: bool = False


@dataclass
class _SourceRequest:
    photo_id: int
    photo: np.ndarray
    pose: Pose


@dataclass
class _RenderRequest:
    request_id: int
    photo_id: int
    pose: Pose
    requested_at: float


class RenderWorker(QThread):
    engineReady = Signal(dict)  # engine.info
    engineMissing = Signal(str)  # why no model could be loaded
    sourceReady = Signal(int, dict)  # photo_id, source-stage timings
    rendered = Signal(object)  # RenderOutcome
    montageReady = Signal(int, int, object)  # request_id, photo_id, Montage of that render's intermediates
    pasted = Signal(int, object)  # request_id, (h, w, 3) uint8 re-posed photo at preview resolution
    fillReady = Signal(int, str)  # photo_id, kind of the background fill now used ("exemplar")
    failed = Signal(str)  # one-line message

    def __init__(self, model_dir: str | None = None, backend: str = "auto", parent: Any = None) -> None:
        super().__init__(parent)
        self.model_dir = model_dir
        self.backend = backend
        self.engine: Any = None
        self._lock = threading.Condition()
        self._stopping = False
        self._reload = True
        self._source: _SourceRequest | None = None
        self._render: _RenderRequest | None = None
        self._want_paste = True
        self._next_id = 0
        # Worker-side state (touched only by the worker thread).
        self._state: Any = None
        self._state_photo: np.ndarray | None = None
        self._state_photo_id = -1
        self._state_pose: Pose | None = None
        self._montage_at = 0.0
        self._montage_request_id = -1
        self._busy_since: float | None = None  # when the current run of renders (a drag) began
        self._last_rendered: tuple[Any, _RenderRequest, Any] | None = None  # (source state, request, result)
        # The last render at each side (drag-time, full) of the current source: it lends the warp its unmoved limbs.
        self._last_by_side: dict[bool, Any] = {}
        self._unfinished: tuple[_RenderRequest, Any] | None = None  # last render whose extras are not out yet
        # The photo side of the composite (preview resolution) for the current source, and its exemplar fill.
        self._layers: Any = None
        self._layers_state: Any = None
        self._person_mask: np.ndarray | None = None
        self._pasted_request_id = -1
        self._layers_pending: Any = None  # the source state whose photo side is being made
        self._fills_started_for: Any = None  # the photo side whose fills were started
        self._last_composite: tuple[Any, Any, np.ndarray] | None = None  # (result, photo side, composite image)
        self._photo_done: list[tuple[str, Any, Future]] = []  # finished photo-side jobs, for the worker thread
        self._fill_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="poseeditor-fill",
                                             initializer=_lowest_priority)
        self._full_layers: Any = None  # the photo side at the photo's own resolution (exports), when made
        # The request whose first picture came from a quick source (`_prepare`): its full-size render that follows is
        # a refinement (not counted as drag latency), as after a drag pauses.
        self._quick: tuple[int, Pose] | None = None  # (photo id, pose) of that request

    # ---------------------------------------------------------------------------------------- GUI thread API
    def set_source(self, photo_id: int, photo: np.ndarray, pose: Pose, render_pose: Pose | None = None) -> int | None:
        """A new photo or source pose; with `render_pose`, also the render request of its first picture, posted in
        the same step (so the worker sees both and can show a drag-time picture of it before the full source stage:
        `_prepare`). Returns that request's id."""
        with self._lock:
            self._source = _SourceRequest(photo_id, photo, pose)
            request_id = None
            if render_pose is not None:
                self._next_id += 1
                request_id = self._next_id
                self._render = _RenderRequest(request_id, photo_id, render_pose, time.perf_counter())
            self._lock.notify()
            return request_id

    def request_render(self, photo_id: int, pose: Pose) -> int:
        with self._lock:
            self._next_id += 1
            self._render = _RenderRequest(self._next_id, photo_id, pose, time.perf_counter())
            self._lock.notify()
            return self._next_id

    def set_model(self, model_dir: str | None) -> None:
        with self._lock:
            self.model_dir = model_dir
            self._reload = True
            self._lock.notify()

    def set_paste_enabled(self, enabled: bool) -> None:
        """The full-photo result costs a paste-back per render; skip it while nobody looks at it."""
        with self._lock:
            self._want_paste = enabled

    def stop(self, timeout_ms: int = 10000) -> bool:
        with self._lock:
            self._stopping = True
            self._lock.notify()
        return self.wait(timeout_ms)

    def full_size_result(self, outcome: RenderOutcome) -> Any:
        """`outcome`'s render at full size (any thread): itself, or for a drag-time render, its pose rendered again
        (what exports use; the worker refines it on its own SETTLE_S after the drag pauses)."""
        result = outcome.result
        engine, state = self.engine, self._state
        if result.preview_size is None or engine is None:
            return result
        if state is None or state.crop is not result.crop:
            if not result.quick:
                return result
            # The first picture of a photo whose full-size source stage is still running: made here too (the same
            # full-size render the worker shows a moment later).
            state = engine.prepare_source(self._state_photo, self._state_pose, crop=result.crop)
        return engine.render(state, outcome.pose)

    @property
    def has_engine(self) -> bool:
        return self.engine is not None

    # ------------------------------------------------------------------------------------------ worker thread
    def _has_work(self) -> bool:
        return bool(self._stopping or self._reload or self._source or self._render or self._photo_done)

    def run(self) -> None:
        while True:
            finish = None
            with self._lock:
                while not self._has_work():
                    if self._unfinished is None:
                        self._busy_since = None
                        self._lock.wait()
                        continue
                    # Extras of the last render (grid, paste-back) wait for a quiet moment: during a drag the
                    # next pose comes within one mouse report and they would only delay its render. A drag-time
                    # render waits longer: then its pose is rendered again at full size (SETTLE_S).
                    self._lock.wait(SETTLE_S if self._unfinished[1].preview_size else QUIET_S)
                    if not self._has_work():
                        finish, self._unfinished = self._unfinished, None
                        self._busy_since = None  # the poses paused: the next render starts a new run
                        break
                if self._stopping:
                    self._fill_pool.shutdown(wait=False, cancel_futures=True)
                    return
                photo_done, self._photo_done = self._photo_done, []
                reload, self._reload = self._reload, False
                source, self._source = self._source, None
                render = None
                if not source:  # a new source must be prepared before any pose of it is rendered
                    render, self._render = self._render, None
                if reload or source:
                    self._unfinished = None
            try:
                for item in photo_done:
                    self._photo_side_done(*item)
                if finish:
                    self._finish(*finish)
                if reload:
                    self._load_engine()
                if source:
                    self._prepare(source)
                if render:
                    self._render_one(render)
            except Exception as exc:  # noqa: BLE001 - the worker must survive any single bad request
                message = str(exc) if isinstance(exc, PoseEditorError) else f"{type(exc).__name__}: {exc}"
                traceback.print_exc()
                self.failed.emit(message)

    def _load_engine(self) -> None:
        from poseeditor.engine import load_engine  # imported here: onnxruntime loads in the worker

        self.engine = None
        self._state = None
        try:
            self.engine = load_engine(self.model_dir, self.backend)
        except PoseEditorError as exc:  # no model installed, or not a usable model: the editor runs without one
            self.engineMissing.emit(str(exc))
            return
        self.engineReady.emit(dict(self.engine.info))
        if self._state_photo is not None:
            with self._lock:  # re-run the source stage of the current photo with the new model
                if self._source is None and self._state_pose is not None:
                    self._source = _SourceRequest(self._state_photo_id, self._state_photo, self._state_pose)

    def _prepare(self, request: _SourceRequest) -> None:
        self._state_photo, self._state_photo_id, self._state_pose = request.photo, request.photo_id, request.pose
        self._state = None
        self._last_by_side = {}
        self._layers = self._layers_state = self._person_mask = None
        with self._lock:
            self._full_layers = None
        if self.engine is None:
            return
        crop = self._show_quick(request)
        self._state = self.engine.prepare_source(request.photo, request.pose, crop)
        self.sourceReady.emit(request.photo_id, dict(self._state.timings))

    def _show_quick(self, request: _SourceRequest) -> Any:
        """A freshly opened photo (or new source pose) whose first render is already asked for: show it from the
        source stage at the drag-time side (~3× less work than the full one, docs/drag_speed.md) before the full
        source stage runs; the full-size render of that request follows at once and is what settles. Returns the
        crop to share with the full source (so exports can tell the picture belongs to it), or None."""
        with self._lock:
            pending = self._render
        if self.engine.quick_size is None or pending is None or pending.photo_id != request.photo_id:
            return None
        quick = self.engine.prepare_quick_source(request.photo, request.pose)
        result = self.engine.render(quick, pending.pose, preview=True)
        self._quick = (pending.photo_id, pending.pose)
        self.rendered.emit(self._outcome(pending, result, pending.requested_at))
        return quick.crop

    def _render_one(self, request: _RenderRequest) -> None:
        if self.engine is None or self._state is None or request.photo_id != self._state_photo_id:
            return  # no model, or a pose for a photo that is no longer open
        last = self._last_rendered
        if last is not None and last[0] is self._state and last[1].pose == request.pose:
            # Already rendered (the GUI asks again after a source stage, or to get the paste-back): only the
            # extras of that render may still be wanted.
            with self._lock:
                self._unfinished = last[1:]
            return
        # The first render of a run is at full size (a click, a keyboard nudge, the first move of a drag); the
        # ones that follow while poses keep coming are drag-time renders, refined when the poses pause (`_finish`).
        preview = self._busy_since is not None and self.engine.preview_size is not None
        if self._busy_since is None:
            self._busy_since = time.perf_counter()
        result = self._render_at(request, preview)
        # The full-size render of a request whose first picture came from the quick source refines that picture.
        refined = self._quick == (request.photo_id, request.pose)
        self._quick = None
        self.rendered.emit(self._outcome(request, result, request.requested_at, refined=refined))
        with self._lock:
            want_paste = self._want_paste
        if want_paste:  # the full-photo tab is shown: it follows the drag at preview resolution
            self._emit_pasted(request, result)
        # The result goes out first. While poses keep coming the grid is rebuilt at most every GRID_DRAG_INTERVAL_S;
        # the last render's grid and its full-resolution paste-back come once the poses stop (`run`).
        if grid_due_while_busy(time.perf_counter(), self._montage_at, self._busy_since):
            self._emit_montage(request, result)
        with self._lock:
            self._unfinished = (request, result)

    def _render_at(self, request: _RenderRequest, preview: bool) -> Any:
        # The last render of this source at the same side lends the limbs this pose did not move (a drag moves one
        # or two).
        result = self.engine.render(self._state, request.pose, self._last_by_side.get(preview), preview=preview)
        self._last_by_side[preview] = result
        self._last_rendered = (self._state, request, result)
        return result

    def _outcome(self, request: _RenderRequest, result: Any, requested_at: float, refined: bool = False) -> RenderOutcome:
        return RenderOutcome(
            request_id=request.request_id,
            photo_id=request.photo_id,
            pose=request.pose,
            result=result,
            output_rgb8=np.clip(result.output * 255.0 + 0.5, 0, 255).astype(np.uint8),
            requested_at=requested_at,
            rendered_at=time.perf_counter(),
            timings=dict(result.timings),
            person_mask=self._person_mask,
            refined=refined,
        )

    def _emit_montage(self, request: _RenderRequest, result: Any) -> None:
        last = self._last_composite
        if last is not None and last[0] is result:  # the photo tiles: person mask, hole, fill, the composite
            result.photo_intermediates = last[1].intermediates(last[2])
        self._montage_at = time.perf_counter()
        self._montage_request_id = request.request_id
        self.montageReady.emit(request.request_id, request.photo_id, build_montage(result))

    def _finish(self, request: _RenderRequest, result: Any) -> None:
        """The drag paused: the full-photo composite (also when its tab is hidden: the grid shows its person mask,
        hole and fill) and the grid of this render."""
        if request.photo_id != self._state_photo_id or self._state is None:
            return
        refined = result.preview_size is not None
        if refined:  # a drag-time render: its pose again at full size, what the settled view and exports show
            started = time.perf_counter()
            result = self._render_at(request, preview=False)
            self.rendered.emit(self._outcome(request, result, started, refined=True))
        self._start_fills()  # the drag paused: the fills may run now
        fresh_photo_side = refined or self._pasted_request_id != request.request_id
        if fresh_photo_side:
            self._emit_pasted(request, result)
        if fresh_photo_side or self._montage_request_id != request.request_id:
            self._emit_montage(request, result)

    # ------------------------------------------------------------------------------------ the photo composite
    # The photo side (person mask by the detector, part labels, hole) and the exemplar fill are made in the
    # photo-side thread, at the lowest CPU priority: on a 2-core machine a fill of seconds must not slow the drag
    # (measured: a fill at normal priority made drag latency 4x worse right after opening). The worker thread only
    # composes once they are there; until then the full-photo tab waits and the grid shows no photo tiles.
    def _photo_layers(self) -> Any:
        """The preview photo side of the current source, or None while it is being made (then it is started)."""
        if self._layers is not None and self._layers_state is self._state:
            return self._layers
        if self._layers_pending is not self._state and self._state is not None:
            self._layers_pending = state = self._state
            photo, pose, engine = self._state_photo, self._state_pose, self.engine
            job = self._fill_pool.submit(_make_photo_side, engine, photo, pose, state)
            job.add_done_callback(lambda done, made_for=state: self._post(("side", made_for, done)))
        return None

    def _post(self, item: tuple[str, Any, Future]) -> None:  # in the photo-side thread
        with self._lock:
            self._photo_done.append(item)
            self._lock.notify()

    def _photo_side_done(self, kind: str, made_for: Any, future: Future) -> None:
        if future.cancelled():
            return
        try:
            made = future.result()
        except Exception as exc:  # noqa: BLE001 - the crop still works; say why the photo does not
            if kind != "full":  # the export makes the full-resolution side itself
                self.failed.emit(f"photo composite: {type(exc).__name__}: {exc}")
            return
        if kind == "side":
            if made_for is not self._state:
                return  # a photo or source that is no longer current
            layers, self._person_mask = made
            self._layers, self._layers_state = layers, made_for
            self._fills_started_for = None
            if self._busy_since is None:  # no drag going on: the fills may start now (else when it pauses)
                self._start_fills()
        elif kind == "fill":
            if made_for is not self._layers:
                return
            self._layers = made_for.with_fill(made)
            self.fillReady.emit(self._state_photo_id, "exemplar")
        elif kind == "full":
            if made_for is self._state:
                with self._lock:
                    self._full_layers = made
            return
        # The photo side changed: show it for the last render.
        last = self._last_rendered
        if last is not None and last[0] is self._state:
            self._emit_pasted(last[1], last[2])  # also for the grid's photo tiles when its tab is hidden
            # A drag-time render is rendered again at full size once the poses pause, with its own grid: a grid of
            # it here would carry the same request id as that one (the UI tests waited on the id and saw it).
            if last[2].preview_size is None:
                self._emit_montage(last[1], last[2])

    def _start_fills(self) -> None:
        """The exemplar fill of the preview (and, for a photo larger than the preview, the full-resolution photo
        side with its fill, so an export only composes), once per photo side. Started only while no drag is going
        on: even at the lowest priority a fill took 0.4–0.8 of a core from a drag right after opening (p95 57 ->
        74 ms, docs/editor.md); a drag that starts while it runs still shares the CPU with it."""
        layers, state = self._layers, self._layers_state
        if layers is None or state is not self._state or self._fills_started_for is layers:
            return
        self._fills_started_for = layers
        if layers.fill_kind != "exemplar":
            job = self._fill_pool.submit(FILL_CACHE.fill, layers.photo, layers.hole)
            job.add_done_callback(lambda done, made_for=layers: self._post(("fill", made_for, done)))
        if layers.to_work[0, 0] < 1.0:
            from poseeditor.engine import full_resolution_layers

            job = self._fill_pool.submit(full_resolution_layers, self._state_photo, self._state_pose, state.crop,
                                         state.part_masks, self._person_mask, self.engine.assignment)
            job.add_done_callback(lambda done, made_for=state: self._post(("full", made_for, done)))

    def full_photo_layers(self, crop: Any) -> Any:
        """The photo side at full resolution for the render of `crop`, if the worker has made it (any thread)."""
        with self._lock:
            full = self._full_layers
            if full is None and self._layers is not None and self._layers.to_work[0, 0] == 1.0:
                full = self._layers  # the preview is the photo's own resolution
        if full is None or full.crop is not crop or full.fill_kind != "exemplar":
            return None
        return full

    def _emit_pasted(self, request: _RenderRequest, result: Any) -> None:
        layers = self._photo_layers()
        if layers is None:
            return  # being made; shown for the last render when it is there
        composite = self.engine.compose_photo(layers, result)
        self._last_composite = (result, layers, composite.image)  # the grid's photo tiles are made when it is
        self._pasted_request_id = request.request_id
        self.pasted.emit(request.request_id, composite.image)


def _lowest_priority() -> None:
    """The photo-side thread yields the CPU to the renders (Linux: per-thread nice value)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):
        pass  # not Linux, or not allowed: normal priority


def _make_photo_side(engine: Any, photo: np.ndarray, pose: Pose, state: Any) -> tuple[Any, np.ndarray | None]:
    """(preview photo side, the detector's person mask) for one source; the cached exemplar fill if there is one."""
    try:
        from poseeditor.detector import person_mask

        mask = person_mask(photo, pose)
    except (ImportError, PoseEditorError):
        mask = None  # no detector, or nobody found: the network's own person/background split
    layers = engine.prepare_photo(photo, state, mask, max_side=PREVIEW_MAX_SIDE)
    cached = FILL_CACHE.get(fill_key(layers.photo, layers.hole))
    return (layers.with_fill(cached) if cached is not None else layers), mask
