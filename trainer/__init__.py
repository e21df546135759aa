"""The bundled trainer (imports `models` and the poseeditor core; never imported by the editor)."""

import os

# OpenMP threads that spin while waiting are ruinous on a shared CPU: measured on this 2-core machine under load
# (load average ~10), a compact@128 batch-8 step took 11 s with 2 spinning threads, 2 s with passive waiting.
# Must be set before torch loads libgomp, hence here, at the top of the package. An explicit setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
