import numpy as np
import pytest

from poseeditor.engine import load_engine
from poseeditor.errors import ModelError, NoModelInstalledError
from poseeditor.skeleton import LAYER_NAMES, LIMB_NAMES


def test_end_to_end_render_has_every_intermediate(random_model_dir, person_photo, standing_pose, arm_up_pose):
    engine = load_engine(str(random_model_dir), backend="onnx")
    size = engine.size
    state = engine.prepare_source(person_photo, standing_pose)
    result = engine.render(state, arm_up_pose)
    assert result.part_masks.shape == (11, size, size)
    np.testing.assert_allclose(result.part_masks.sum(axis=0), 1.0, atol=1e-4)  # a softmax over 11 layers
    assert result.warped_layers.shape == (10, size, size, 3)
    assert result.source_heatmaps.shape == result.target_heatmaps.shape == (14, size, size)
    assert result.transforms.shape == (10, 2, 3)
    for name in ("output", "foreground", "background", "source_image"):
        img = getattr(result, name)
        assert img.shape == (size, size, 3) and img.dtype == np.float32
        assert 0.0 <= img.min() and img.max() <= 1.0
    assert result.mask.shape == (size, size) and 0 <= result.mask.min() and result.mask.max() <= 1
    # composite is mask·fg + (1−mask)·bg
    np.testing.assert_allclose(
        result.output, result.mask[..., None] * result.foreground + (1 - result.mask[..., None]) * result.background,
        atol=2e-3,
    )
    inter = result.intermediates()
    expected = {"source", "foreground", "foreground_mask", "background", "output", "source_heatmaps", "target_heatmaps"}
    expected |= {f"source_mask_{n}" for n in LAYER_NAMES} | {f"warped_{n}" for n in LIMB_NAMES}
    assert set(inter) == expected
    for name, img in inter.items():
        assert img.shape[:2] == (size, size), name
        assert 0.0 <= img.min() and img.max() <= 1.0, name
    for key in ("warp_ms", "target_network_ms", "target_ms"):
        assert result.timings[key] >= 0
    full = engine.paste_back(person_photo, state, result)
    assert full.shape == person_photo.shape and full.dtype == np.uint8


def test_target_pose_changes_warped_layers_and_output(random_model_dir, person_photo, standing_pose, arm_up_pose):
    engine = load_engine(str(random_model_dir))
    state = engine.prepare_source(person_photo, standing_pose)
    a = engine.render(state, standing_pose)
    b = engine.render(state, arm_up_pose)
    r_forearm = LIMB_NAMES.index("r_forearm")
    assert np.abs(a.warped_layers[r_forearm] - b.warped_layers[r_forearm]).max() > 0.05
    assert np.abs(a.output - b.output).max() > 1e-3
    torso = LIMB_NAMES.index("torso")
    np.testing.assert_allclose(a.warped_layers[torso], b.warped_layers[torso])  # torso did not move


def test_identity_pose_warp_reproduces_masked_layers(random_model_dir, person_photo, standing_pose):
    engine = load_engine(str(random_model_dir))
    state = engine.prepare_source(person_photo, standing_pose)
    result = engine.render(state, standing_pose)
    image = np.moveaxis(state.image, 0, -1)
    for limb in range(10):
        np.testing.assert_allclose(result.warped_layers[limb], image * state.part_masks[limb + 1][..., None], atol=1e-4)


def test_onnx_and_torch_backends_agree(random_model_dir, person_photo, standing_pose, arm_up_pose):
    pytest.importorskip("torch")
    onnx = load_engine(str(random_model_dir), backend="onnx")
    torch_engine = load_engine(str(random_model_dir), backend="torch-cpu")
    ra = onnx.render(onnx.prepare_source(person_photo, standing_pose), arm_up_pose)
    rb = torch_engine.render(torch_engine.prepare_source(person_photo, standing_pose), arm_up_pose)
    for name in ("part_masks", "background", "warped_layers", "foreground", "mask", "output"):
        diff = np.abs(getattr(ra, name) - getattr(rb, name)).max()
        assert diff <= 1e-4, f"{name}: onnx and torch differ by {diff}"


def test_paste_back_touches_only_the_person_region(random_model_dir, standing_pose, arm_up_pose):
    # a plain photo much larger than the person: pixels far from the person are unchanged
    photo = np.full((900, 1400, 3), 90, np.uint8)
    big_src = standing_pose.__class__(standing_pose.xy * 2 + [300, 100], standing_pose.visible, 1400, 900)
    big_tgt = standing_pose.__class__(arm_up_pose.xy * 2 + [300, 100], arm_up_pose.visible, 1400, 900)
    engine = load_engine(str(random_model_dir))
    state = engine.prepare_source(photo, big_src)
    result = engine.render(state, big_tgt)
    full = engine.paste_back(photo, state, result)
    assert (full[:, 1000:] == 90).all() and (full[850:] == 90).all()


def test_missing_and_bad_models(tmp_path, monkeypatch):
    monkeypatch.setenv("POSEEDITOR_MODEL", str(tmp_path / "none"))
    with pytest.raises(NoModelInstalledError, match="no trained generator is installed"):
        load_engine(None)
    with pytest.raises(ModelError, match="no such model folder"):
        load_engine(str(tmp_path / "nope"))
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "model.json").write_text("{not json")
    with pytest.raises(ModelError, match="unreadable"):
        load_engine(str(tmp_path / "junk"))
    (tmp_path / "junk" / "model.json").write_text('{"format": "something-else"}')
    with pytest.raises(ModelError, match="not a poseeditor generator"):
        load_engine(str(tmp_path / "junk"))


def test_corrupt_onnx_file_is_a_model_error(tmp_path, random_model_dir):
    import shutil

    folder = tmp_path / "m"
    shutil.copytree(random_model_dir, folder)
    (folder / "target.onnx").write_bytes(b"garbage" * 100)
    with pytest.raises(ModelError, match="target.onnx"):
        load_engine(str(folder), backend="onnx")
    shutil.copy(random_model_dir / "source.onnx", folder / "target.onnx")  # a real ONNX file, wrong stage
    with pytest.raises(ModelError, match="not a poseeditor target stage"):
        load_engine(str(folder), backend="onnx")


def test_inpaint_background_mode(random_model_dir, person_photo, standing_pose, arm_up_pose):
    from poseeditor.engine.inpaint import inpaint_background, person_region_from_prior

    network = load_engine(str(random_model_dir))
    inpaint = load_engine(str(random_model_dir), background="inpaint")
    assert network.info["background"] == "network" and inpaint.info["background"] == "inpaint"
    state = inpaint.prepare_source(person_photo, standing_pose)
    expected = inpaint_background(state.source_unit, person_region_from_prior(state.prior))
    result = inpaint.render(state, arm_up_pose)
    np.testing.assert_allclose(result.background, expected, atol=1e-5)
    # the person's region was filled: the figure's red limbs are gone from the background there
    other = network.render(network.prepare_source(person_photo, standing_pose), arm_up_pose)
    assert np.abs(result.background - other.background).max() > 0.1
    with pytest.raises(Exception, match="background must be one of"):
        load_engine(str(random_model_dir), background="magic")


def test_model_json_recommends_the_background(tmp_path, random_model_dir):
    import json
    import shutil

    folder = tmp_path / "m"
    shutil.copytree(random_model_dir, folder)
    meta = json.loads((folder / "model.json").read_text())
    meta["inference"] = {"background": "inpaint"}
    (folder / "model.json").write_text(json.dumps(meta))
    assert load_engine(str(folder)).info["background"] == "inpaint"
    assert load_engine(str(folder), background="network").info["background"] == "network"
