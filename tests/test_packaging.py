"""The wheel (not only the editable install) carries resources/ and finds it."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_ships_and_finds_resources(tmp_path):
    pytest.importorskip("setuptools")
    out = tmp_path / "wheel"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out), str(REPO)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next(out.glob("poseeditor-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "poseeditor/assets/__init__.py" in names
    shipped = [n for n in names if n.startswith("poseeditor/assets/") and not n.endswith("__init__.py")]
    repo_files = [p for p in (REPO / "resources").rglob("*") if p.is_file() and p.name != "__init__.py" and "__pycache__" not in p.parts]
    assert len(shipped) == len(repo_files), "every file under resources/ must be in the wheel"
    for top in ("models/__init__.py", "trainer/__init__.py", "poseeditor/cli.py"):
        assert top in names
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    probe = (
        "import poseeditor, poseeditor.resources as r; "
        "print(poseeditor.__file__); print(r.resources_dir()); print(r.resources_dir().joinpath('__init__.py').is_file())"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, env={"PYTHONPATH": str(site)}
    )
    assert run.returncode == 0, run.stderr
    module_file, res_dir, ok = run.stdout.split("\n")[:3]
    assert module_file.startswith(str(site)) and res_dir.startswith(str(site)) and ok == "True"
