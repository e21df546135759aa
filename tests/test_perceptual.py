"""trainer.perceptual: shift-tolerant LPIPS from the stlpips-pytorch wheel's weights (re-implemented network)."""

from __future__ import annotations

import importlib
import sys
import types

import cv2
import numpy as np
import pytest
import torch

from tests.conftest import REPO
from trainer import perceptual as P


@pytest.fixture(scope="module")
def cases() -> dict[str, np.ndarray]:
    """A 128² crop of a natural photo and its 2-px shift, Gaussian blur (sigma 2) and noise (sigma 25)."""
    img = cv2.cvtColor(cv2.imread(str(REPO / "resources" / "samples" / "astronaut.jpg")), cv2.COLOR_BGR2RGB)
    cy, cx = img.shape[0] // 2, img.shape[1] // 2
    crop = img[cy - 64:cy + 64, cx - 64:cx + 64]
    noisy = crop + np.random.default_rng(0).normal(0, 25, crop.shape)
    return {
        "crop": crop,
        "shift": img[cy - 64:cy + 64, cx - 62:cx + 66],
        "blur": cv2.GaussianBlur(crop, (0, 0), 2),
        "noise": np.clip(noisy, 0, 255).astype(np.uint8),
    }


def _all(cases: dict[str, np.ndarray], variant: str = "alex") -> dict[str, float]:
    """Distances from the crop to every case, in one batched pass."""
    names = list(cases)
    ref = torch.cat([P.to_tensor(cases["crop"])] * len(names))
    out = P.PerceptualDistance(variant).distance_tensors(ref, torch.cat([P.to_tensor(cases[n]) for n in names]))
    return dict(zip(names, out.tolist()))


def test_identical_images_are_zero(cases):
    d = P.PerceptualDistance()
    assert abs(d.distance(cases["crop"], cases["crop"].copy())) < 1e-6
    rng = np.random.default_rng(1)
    random_image = rng.integers(0, 256, (48, 40, 3), dtype=np.uint8)
    assert abs(P.perceptual_distance(random_image, random_image)) < 1e-6


def test_two_pixel_shift_is_much_smaller_than_blur_and_noise(cases):
    r = _all(cases)
    assert r["shift"] < r["blur"] / 10
    assert r["shift"] < r["noise"] / 10
    # and it is not zero: the metric sees the shift, it only tolerates it
    assert r["shift"] > 1e-3


def test_order_of_magnitude_on_a_natural_photo(cases):
    r = _all(cases)
    # docs/design.md "Perceptual distance": 0.0095 / 0.513 / 0.354 here (the package's own code gives the same)
    assert r["shift"] < 0.03
    assert 0.25 < r["blur"] < 0.8
    assert 0.15 < r["noise"] < 0.8
    assert r == pytest.approx({"crop": 0.0, "shift": 0.0095, "blur": 0.5132, "noise": 0.3539}, abs=2e-3)


def test_symmetric(cases):
    d = P.PerceptualDistance()
    a, b = cases["crop"][:64, :64], cases["blur"][:64, :64]
    assert d.distance(a, b) == pytest.approx(d.distance(b, a), abs=1e-5)
    assert d.distance(a, b) > 0.05


def test_mismatched_or_unfit_images_raise_a_clear_error(cases):
    d = P.PerceptualDistance()
    with pytest.raises(P.PerceptualDistanceError, match="differ in size"):
        d.distance(cases["crop"], cases["crop"][:100])
    with pytest.raises(P.PerceptualDistanceError, match="uint8"):
        d.distance(cases["crop"].astype(np.float32), cases["crop"].astype(np.float32))
    with pytest.raises(P.PerceptualDistanceError, match="uint8"):
        d.distance(cases["crop"][..., 0], cases["crop"][..., 0])
    with pytest.raises(P.PerceptualDistanceError, match="variant"):
        P.PerceptualDistance("squeeze")  # type: ignore[arg-type]


@pytest.mark.parametrize("variant", P.VARIANTS)
def test_minimum_size_is_the_networks_and_smaller_is_refused(cases, variant):
    m = P.MIN_SIZE[variant]
    img = cases["crop"]
    assert P.perceptual_distance(img[:m, :m + 3], img[1:m + 1, :m + 3], variant) >= 0.0
    with pytest.raises(P.PerceptualDistanceError, match=f"at least {m}x{m}"):
        P.perceptual_distance(img[:m - 1, :m + 3], img[1:m, :m + 3], variant)
    # the limit is the network's own (below it, its reflection padding fails), not an arbitrary one
    net = P.get_network(variant)
    with torch.inference_mode(), pytest.raises(RuntimeError):
        net(torch.zeros(1, 3, m - 1, m - 1), torch.zeros(1, 3, m - 1, m - 1))


def test_vgg_variant(cases):
    crop = {k: v[32:96, 32:96] for k, v in cases.items()}
    r = _all(crop, "vgg")
    assert abs(r["crop"]) < 1e-6
    assert r["shift"] < r["blur"] / 5 and r["shift"] < r["noise"] / 5


def test_loaded_once_per_process_without_gradients():
    net = P.get_network("alex")
    assert P.get_network("alex") is net
    assert not net.training and not any(p.requires_grad for p in net.parameters())


def test_weights_come_from_the_installed_wheel_not_the_repo():
    path = P.weights_path("alex")
    assert path.name == "alex_shift_tolerant.pth" and "stlpips_pytorch" in path.parts
    # from an installed package (CI's virtual environment lives inside the checkout, so "not under REPO" is wrong)
    assert {"site-packages", "dist-packages"} & set(path.parts)
    for folder in ("poseeditor", "trainer", "models", "resources"):  # never copied into ours
        assert not list((REPO / folder).glob("**/*.pth")), folder


def test_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(P.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(P.PerceptualDistanceError, match=r"pip install stlpips-pytorch==0\.0\.2"):
        P.load_network("alex")


def test_weights_are_loaded_without_unpickling_objects(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"x": P.PerceptualDistance()}, path)  # an arbitrary object: weights_only refuses it
    with pytest.raises(P.PerceptualDistanceError, match="cannot read"):
        P.load_network("alex", path)
    wrong = tmp_path / "wrong.pth"
    torch.save({"lin0.model.1.weight": torch.zeros(1, 64, 1, 1)}, wrong)
    with pytest.raises(P.PerceptualDistanceError, match="do not fit"):
        P.load_network("alex", wrong)


@pytest.fixture
def reference_lpips(monkeypatch):
    """stlpips-pytorch's own `LPIPS` class, imported with stub modules for the three imports it never uses here
    (torchvision does not import with this torch); the stubs and the package's modules are gone afterwards."""
    for name in ("torchvision", "torchvision.models", "IPython", "torchsummary"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setattr(sys.modules["torchvision"], "models", sys.modules["torchvision.models"], raising=False)
    monkeypatch.setattr(sys.modules["IPython"], "embed", None, raising=False)
    monkeypatch.setattr(sys.modules["torchsummary"], "summary", None, raising=False)
    before = set(sys.modules)
    try:
        yield importlib.import_module("stlpips_pytorch.stlpips").LPIPS
    finally:
        for name in set(sys.modules) - before:
            del sys.modules[name]


@pytest.mark.parametrize("variant", ["alex", pytest.param("vgg", marks=pytest.mark.slow)])  # vgg: builds a 100M
def test_equals_the_packages_own_implementation(cases, reference_lpips, variant):  # classifier it never uses, ~4 s
    """Our network against stlpips-pytorch's LPIPS(net=variant, variant="shift_tolerant") on the same tensors."""
    pairs = [("crop", "shift"), ("crop", "blur"), ("noise", "crop")]
    a = torch.cat([P.to_tensor(cases[x][:64, :80]) for x, _ in pairs])
    b = torch.cat([P.to_tensor(cases[y][:64, :80]) for _, y in pairs])
    theirs = reference_lpips(net=variant, variant="shift_tolerant", verbose=False)
    with torch.no_grad():
        reference = theirs(a, b)[:, 0, 0, 0].tolist()
    ours = P.PerceptualDistance(variant).distance_tensors(a, b).tolist()
    assert min(reference) > 0.01  # real distances, not a degenerate comparison
    assert ours == pytest.approx(reference, abs=1e-5)
