"""Opening an onnxruntime session, one way for every ONNX model we run (the generator's two stages, the pose
detector's models, the benchmarks): the thread cap, and no spinning of idle threads.

Why no spinning: onnxruntime's idle intra-op threads busy-wait between runs by default; on 2 cores that stole the
core the cv2 warp after the target network and the GUI need (target stage 25 → 16 ms; 720p detection 68 → 35 ms;
docs/benchmarks/latency.md, docs/detector.md).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from poseeditor.errors import ModelError, PoseEditorError

THREADS_VARIABLE = "POSEEDITOR_THREADS"
MAX_DEFAULT_THREADS = 4
OPTIONS_VARIABLE = "POSEEDITOR_ORT_OPTIONS"
# Session levers benchmarks/latency.py measures (docs/editor.md, "Speed levers measured").
ORT_LEVERS = {
    "batch1": "fix the free 'batch' axis to 1 (add_free_dimension_override_by_name), so shapes are static",
    "ftz": "flush denormals to zero (session.set_denormal_as_zero)",
    "spin": "let idle intra-op threads spin (session.intra_op.allow_spinning=1)",
    "noarena": "no CPU memory arena (enable_cpu_mem_arena=False)",
    "nomempattern": "no memory pattern planning (enable_mem_pattern=False)",
    "extended": "graph optimisation level EXTENDED instead of ALL (no NCHWc layout transform)",
    "basic": "graph optimisation level BASIC",
    "parallel": "parallel execution mode with 2 inter-op threads",
}


# The generator's sessions (poseeditor.engine.backends) switch these on unless $POSEEDITOR_ORT_OPTIONS says
# otherwise: flushing denormals won every interleaved run of the shipped model's target stage (network 0.86–0.92×
# paired, in-app drag median 70 → 53 ms) with a bit-identical render (tests/test_accelerated_model.py).
GENERATOR_LEVERS = ("ftz",)


def ort_levers(default: tuple[str, ...] = ()) -> list[str]:
    """The levers named in $POSEEDITOR_ORT_OPTIONS (comma-separated); unset or empty = `default`; "none" = no
    levers at all (the plain session, what the speed levers are checked against)."""
    value = os.environ.get(OPTIONS_VARIABLE, "").strip()
    if not value:
        return list(default)
    if value == "none":
        return []
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in ORT_LEVERS]
    if unknown:
        raise PoseEditorError(f"{OPTIONS_VARIABLE}: unknown option(s) {', '.join(unknown)} "
                              f"(known: {', '.join(ORT_LEVERS)})")
    return names


def default_threads() -> int:
    """Intra-op threads: all cores up to 4 (measured on this 2-core machine, quiet: compact target network
    10.9 ms with 2 threads vs 19.7 ms with 1); `POSEEDITOR_THREADS` overrides."""
    env = os.environ.get(THREADS_VARIABLE, "").strip()
    if env:
        try:
            threads = int(env)
        except ValueError:
            raise PoseEditorError(f"{THREADS_VARIABLE} must be a whole number of threads, not {env!r}") from None
        if threads < 1:
            raise PoseEditorError(f"{THREADS_VARIABLE} must be at least 1, not {threads}")
        return threads
    return max(1, min(MAX_DEFAULT_THREADS, os.cpu_count() or 1))


def onnx_session(
    path: str | os.PathLike[str],
    threads: int | None = None,
    providers: list[str] | None = None,
    spinning: bool = False,
    what: str = "ONNX model",
    levers: tuple[str, ...] = (),
    rewrite: Any = None,
) -> Any:  # onnxruntime.InferenceSession (onnxruntime is imported only when a session is opened)
    """A session for `path`: `threads` intra-op threads (default `default_threads()`), one inter-op thread,
    sequential execution, all graph optimisations, quiet logging; `levers` (`ORT_LEVERS`) unless
    $POSEEDITOR_ORT_OPTIONS names others ("none": no levers). Raises ModelError naming `what` when the file
    is missing or not loadable. `spinning=True` only for benchmarks that measure its effect."""
    import onnxruntime as ort

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: the {what} is missing")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or default_threads()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    levers = ort_levers(levers)
    if not spinning and "spin" not in levers:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if "batch1" in levers:
        options.add_free_dimension_override_by_name("batch", 1)
    if "ftz" in levers:
        options.add_session_config_entry("session.set_denormal_as_zero", "1")
    if "noarena" in levers:
        options.enable_cpu_mem_arena = False
    if "nomempattern" in levers:
        options.enable_mem_pattern = False
    if "extended" in levers:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    if "basic" in levers:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    if "parallel" in levers:
        options.execution_mode = ort.ExecutionMode.ORT_PARALLEL
        options.inter_op_num_threads = 2
    try:
        # `rewrite(bytes) -> bytes`: the graph is changed in memory first (poseeditor.engine.onnx_side).
        model = rewrite(path.read_bytes()) if rewrite is not None else str(path)
        return ort.InferenceSession(model, options, providers=providers or ["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 (onnxruntime raises its own exception types)
        raise ModelError(f"{path}: not a loadable {what} ({str(exc).splitlines()[0][:200]})") from None
