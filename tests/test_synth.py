"""Synthetic humans (trainer/synth): labels agree with pixels, determinism, dataset files, CLI errors.

Rendering tests need the optional `anny` body model and its cache (first build ~3 min, then ~4 s); they skip
with a reason when anny is not installed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from poseeditor.skeleton import JOINT_NAMES, LIMB_NAMES
from trainer.synth import motion
from trainer.synth.raster import interpolate, rasterize

PART = {name: i + 1 for i, name in enumerate(LIMB_NAMES)}
HAS_ANNY = importlib.util.find_spec("anny") is not None and importlib.util.find_spec("roma") is not None
needs_anny = pytest.mark.skipif(not HAS_ANNY, reason="optional body model 'anny' not installed "
                                "(pip install poseeditor[synth] && pip install --no-deps anny==0.6.2)")
SIZE = 96


@pytest.fixture(scope="session")
def body():
    from trainer.synth.body import BodyModel

    return BodyModel()


@pytest.fixture(scope="session")
def videos(body):
    from trainer.synth.scene import render_video

    out = []
    for seed, kind in ((11, "walk"), (12, "serve"), (13, "squat"), (14, "random")):
        frames, _ = render_video(body, seed, 3, SIZE, motion_type=kind)
        out.extend(frames)
    return out


def _window(a: np.ndarray, x: float, y: float, r: int) -> np.ndarray:
    xi, yi = int(np.rint(x)), int(np.rint(y))
    return a[max(yi - r, 0) : yi + r + 1, max(xi - r, 0) : xi + r + 1]


# --- no anny needed ---------------------------------------------------------------------------------------

def test_rasterizer_depth_test_and_coverage():
    # Two overlapping squares (two triangles each, counter-clockwise in 3-D = negative area on screen).
    xy = np.array([[2, 2], [2, 12], [12, 12], [12, 2], [6, 6], [6, 18], [18, 18], [18, 6]], float)
    depth = np.array([5, 5, 5, 5, 2, 2, 2, 2], float)
    faces = np.array([[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7]])
    r = rasterize(xy, depth, faces, 20, 20, cull_backfaces=False)
    assert r.mask[2:13, 2:13].all() and not r.mask[0:2].any() and not r.mask[19].any()
    assert set(np.unique(r.face[8:12, 8:12])) <= {2, 3}, "the nearer square must win where they overlap"
    assert set(np.unique(r.face[3:5, 3:5])) <= {0, 1}
    assert np.allclose(r.depth[8:12, 8:12], 2.0)
    attr = interpolate(r, faces, xy)  # interpolating positions gives back the pixel centres
    ys, xs = np.nonzero(r.mask)
    assert np.allclose(attr, np.stack([xs, ys], 1), atol=1e-4)


def test_rasterizer_culls_back_faces():
    xy = np.array([[2, 2], [12, 2], [2, 12]], float)  # clockwise on screen (positive area) = back face
    r = rasterize(xy, np.ones(3), np.array([[0, 1, 2]]), 16, 16)
    assert not r.mask.any()
    assert rasterize(xy, np.ones(3), np.array([[0, 2, 1]]), 16, 16).mask.sum() > 30


def test_motions_stay_within_joint_limits_and_are_deterministic():
    for kind in motion.MOTION_TYPES:
        _, a = motion.sample_motion(np.random.default_rng(5), 20, kind)
        _, b = motion.sample_motion(np.random.default_rng(5), 20, kind)
        assert np.array_equal(a, b)
        assert a.shape == (20, len(motion.DOFS))
        assert (a >= motion.DOF_LOW - 1e-9).all() and (a <= motion.DOF_HIGH + 1e-9).all(), kind
    _, c = motion.sample_motion(np.random.default_rng(6), 20, "walk")
    assert not np.array_equal(a, c)


def test_cli_rejects_bad_arguments(tmp_path):
    from trainer.cli import main

    assert main(["synth", "--out", str(tmp_path / "d"), "--videos", "0", "--frames", "2"]) == 2
    assert main(["synth", "--out", str(tmp_path / "d"), "--videos", "1", "--frames", "2", "--size", "8"]) == 2
    f = tmp_path / "file"
    f.write_text("x")
    assert main(["synth", "--out", str(f), "--videos", "1", "--frames", "1"]) == 2


# --- rendering (needs anny) -------------------------------------------------------------------------------

@needs_anny
def test_part_labels_follow_the_contract(body):
    from trainer.synth.body import bone_part

    assert bone_part("wrist.L") == "l_forearm" and bone_part("finger3-2.R") == "r_forearm"
    assert bone_part("toe1-1.R") == "r_shin" and bone_part("foot.L") == "l_shin"
    assert bone_part("neck02") == "head" and bone_part("clavicle.L") == "torso"
    assert bone_part("upperleg02.L") == "l_thigh" and bone_part("shoulder01.R") == "r_upper_arm"
    assert set(np.unique(body.vertex_parts)) == set(range(1, 11))
    # Body's left (+x in anny) is our l_*: the left wrist vertex group lies at positive x in the rest pose.
    shape = body.rest_shape({k: 0.5 for k in ("gender", "age", "muscle", "weight", "height", "proportions")})
    assert shape.rest_vertices[body.vertex_parts == PART["l_forearm"], 0].mean() > 0.2
    assert shape.rest_vertices[body.vertex_parts == PART["r_forearm"], 0].mean() < -0.2


@needs_anny
def test_joints_land_on_the_body_or_are_flagged(videos):
    n_visible = 0
    for f in videos:
        assert f.joints.shape == (14, 2) and f.visible.shape == (14,)
        for j in np.flatnonzero(f.visible):
            x, y = f.joints[j]
            assert 0 <= x <= SIZE - 1 and 0 <= y <= SIZE - 1
            assert (_window(f.mask, x, y, 2) > 0).any(), f"visible {JOINT_NAMES[j]} at ({x:.1f},{y:.1f}) is off the body"
            n_visible += 1
        for j in range(14):  # joints outside the frame are never visible
            x, y = f.joints[j]
            if not (0 <= x <= SIZE - 1 and 0 <= y <= SIZE - 1):
                assert not f.visible[j]
    assert n_visible >= 0.6 * 14 * len(videos), "most joints of a person in view should be visible"


@needs_anny
def test_part_maps_agree_with_joints(videos):
    expect = {
        "head": ("head",), "r_elbow": ("r_upper_arm", "r_forearm"), "l_elbow": ("l_upper_arm", "l_forearm"),
        "r_wrist": ("r_forearm",), "l_wrist": ("l_forearm",), "r_knee": ("r_thigh", "r_shin"),
        "l_knee": ("l_thigh", "l_shin"), "r_ankle": ("r_shin",), "l_ankle": ("l_shin",),
    }
    checked = 0
    for f in videos:
        assert f.parts.dtype == np.uint8 and f.parts.max() <= 10
        assert np.array_equal(f.parts > 0, f.mask > 0), "part map and person mask cover the same pixels"
        for name, layers in expect.items():
            j = JOINT_NAMES.index(name)
            if not f.visible[j]:
                continue
            window = _window(f.parts, *f.joints[j], 2)
            assert np.isin(window, [PART[n] for n in layers]).any(), f"{name}: labels near it {np.unique(window)}"
            checked += 1
    assert checked > 40


@needs_anny
def test_joints_sit_on_their_own_limbs_whatever_their_visibility(videos):
    """Independent of the visibility flags (which themselves look at the part map): over all frames, each
    joint's median distance to the nearest pixel of its own layers is small. A left/right or joint/bone mix-up
    puts a joint on the wrong limb and fails this."""
    from trainer.synth.scene import JOINT_LAYERS

    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    for j in range(14):
        distances = []
        for f in videos:
            own = np.isin(f.parts, JOINT_LAYERS[j])
            if own.any():
                x, y = f.joints[j]
                distances.append(np.sqrt(((xx[own] - x) ** 2 + (yy[own] - y) ** 2).min()))
        assert np.median(distances) <= 1.5, f"{JOINT_NAMES[j]}: median distance {np.median(distances):.1f} px"
        assert np.mean([f.visible[j] for f in videos]) >= 0.3, f"{JOINT_NAMES[j]} is almost never visible"


@needs_anny
def test_render_is_deterministic_by_seed(body):
    from trainer.synth.scene import render_video

    a, ia = render_video(body, 99, 2, 64)
    b, ib = render_video(body, 99, 2, 64)
    c, _ = render_video(body, 100, 2, 64)
    assert ia == ib
    for fa, fb in zip(a, b):
        assert np.array_equal(fa.image, fb.image) and np.array_equal(fa.parts, fb.parts)
        assert np.array_equal(fa.joints, fb.joints) and np.array_equal(fa.visible, fb.visible)
    assert not np.array_equal(a[0].image, c[0].image)


def _tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


@needs_anny
def test_written_dataset_is_readable_and_identical_for_the_same_seed(body, tmp_path, monkeypatch):
    from poseeditor.image_io import load_image
    from trainer.synth import writer

    monkeypatch.setattr(writer, "_BODY", body)
    monkeypatch.setattr(writer, "_init_worker", lambda: None)  # reuse the session's body model
    for name in ("a", "b"):
        assert writer.synthesize(tmp_path / name, n_videos=2, n_frames=2, seed=7, size=64) == 2
    assert _tree_digest(tmp_path / "a") == _tree_digest(tmp_path / "b")
    assert writer.synthesize(tmp_path / "a", n_videos=2, n_frames=2, seed=7, size=64) == 0, "finished videos are skipped"

    root = tmp_path / "a"
    from trainer.data.dataset_format import read_dataset

    records = read_dataset(root)  # the trainer's own reader accepts it
    assert [r.name for r in records] == ["synth_00000", "synth_00001"]
    assert all(r.part_paths and r.mask_paths and len(r.frame_paths) == 2 for r in records)
    header = json.loads((root / "dataset.json").read_text())
    assert header["format"] == "poseeditor-dataset" and header["version"] == 1
    infos = sorted((root / "info").glob("*.json"))
    assert [p.stem for p in infos] == ["synth_00000", "synth_00001"]
    for p in infos:
        info = json.loads(p.read_text())
        assert info["width"] == info["height"] == 64 and info["source"] == "synthetic"
        assert len(info["frames"]) == 2
        for fr in info["frames"]:
            joints = np.asarray(fr["joints"], float)
            assert joints.shape == (14, 3) and set(np.unique(joints[:, 2])) <= {0.0, 1.0}
            stem = Path(fr["file"]).stem
            img = load_image(root / "frames" / info["video"] / fr["file"])
            parts = load_image(root / "parts" / info["video"] / f"{stem}.png")[..., 0]
            mask = load_image(root / "masks" / info["video"] / f"{stem}.png")[..., 0]
            assert img.shape == (64, 64, 3) and parts.max() <= 10 and set(np.unique(mask)) <= {0, 255}
            x, y, w, h = fr["box"]
            ys, xs = np.nonzero(mask)
            assert (x, y, w, h) == (xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)


def test_missing_anny_is_a_clear_error(tmp_path, monkeypatch):
    import builtins

    from trainer.cli import main

    real_import = builtins.__import__

    def no_anny(name, *args, **kwargs):
        if name == "anny" or name.startswith("anny."):
            raise ModuleNotFoundError("No module named 'anny'", name="anny")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_anny)
    assert main(["synth", "--out", str(tmp_path / "d"), "--videos", "1", "--frames", "1", "--workers", "2"]) == 2
    assert not (tmp_path / "d" / "info").exists()
