"""tools/fetch_demo_videos.py without the network: extraction from a wheel-shaped zip, hash and layout checks."""

from __future__ import annotations

import importlib.util
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[1] / "tools" / "fetch_demo_videos.py"


@pytest.fixture(scope="module")
def fetch():
    spec = importlib.util.spec_from_file_location("fetch_demo_videos", TOOL)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def fake_wheel(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_extracts_the_videos_and_licence_flat_per_group(fetch, tmp_path):
    spec = fetch.WHEELS[0]
    members = {name: f"video {name}".encode() for name in spec.videos}
    members[spec.licence] = b"BSD 3-Clause License"
    members["Pose2Sim/other.py"] = b"print()"
    wheel = fake_wheel(tmp_path / spec.wheel, members)
    paths = fetch.extract(spec, wheel, tmp_path / "videos")
    assert [p.name for p in paths] == ["cam01.mp4", "cam02.mp4", "cam03.mp4", "cam04.mp4"]
    assert all(p.parent == tmp_path / "videos" / "pose2sim_demo" for p in paths)
    assert paths[2].read_bytes() == members[spec.videos[2]]
    assert (tmp_path / "videos" / "pose2sim_demo" / "LICENSE").read_text() == "BSD 3-Clause License"
    assert not (tmp_path / "videos" / "pose2sim_demo" / "other.py").exists()


def test_a_changed_wheel_layout_or_hash_stops_with_a_message(fetch, tmp_path):
    spec = fetch.WHEELS[1]
    wheel = fake_wheel(tmp_path / spec.wheel, {spec.licence: b"x"})
    with pytest.raises(SystemExit, match="has no Sports2D/Demo/demo.mp4"):
        fetch.extract(spec, wheel, tmp_path / "videos")
    # a cached wheel whose SHA-256 differs from the recorded one is refused (no download: the file exists)
    with pytest.raises(SystemExit, match="SHA-256"):
        fetch.fetch_wheel(replace(spec, sha256="0" * 64), tmp_path)
