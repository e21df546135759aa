"""The import direction (pyproject.toml [tool.importlinter], docs/design.md "Code layout") holds, checked by
import-linter's `lint-imports` on the tree, and a reversed import in a copy of the tree breaks it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("importlinter")

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("poseeditor", "models", "trainer", "benchmarks")
LINT = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    # The tree at `root` must win over any installed copy of the packages.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-c", LINT, "--no-cache"], cwd=root, env=env, capture_output=True, text=True, timeout=300
    )


def test_import_contracts_hold() -> None:
    run = lint_imports(ROOT)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout


def test_a_reversed_import_breaks_the_contracts(tmp_path: Path) -> None:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "*.onnx"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    generator = tmp_path / "models" / "generator.py"
    generator.write_text(generator.read_text() + "\nfrom poseeditor.engine import backends  # reversed\n")
    run = lint_imports(tmp_path)
    assert run.returncode != 0
    assert "models is not allowed to import poseeditor.engine" in run.stdout
