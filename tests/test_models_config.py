"""Generator configs: named configs build, round-trip through dicts, and bad dicts fail clearly."""

from __future__ import annotations

import json

import pytest

from models.config import CONFIGS, GeneratorConfig, UNetConfig, get_config


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_named_configs_round_trip_through_json(name: str) -> None:
    config = CONFIGS[name]
    assert GeneratorConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_paper_config_mirrors_the_papers_networks_py() -> None:
    paper = get_config("paper")
    for unet in (paper.segmentation, paper.background, paper.foreground):
        assert unet.widths == (64, 128, 128, 128, 128, 128)  # [64]*2 + [128]*9, each down conv keeps its width
        assert unet.stem_kernel == 7 and unet.stem_stride == 1 and unet.condition_level == 1
    assert paper.segmentation.decoder_widths == (128, 128, 128, 128, 32)
    assert paper.foreground.decoder_widths == (128, 128, 128, 128, 64)
    assert paper.norm == "none" and paper.leaky_slope == 0.2


def test_other_sizes_and_unknown_names() -> None:
    assert get_config("compact", 128).image_size == 128
    assert get_config("compact", 128).foreground == get_config("compact").foreground
    with pytest.raises(ValueError, match="unknown generator config"):
        get_config("huge")
    assert get_config("paper", 96).image_size == 96  # five downsamplings: any multiple of 32
    with pytest.raises(ValueError, match="multiple of 32"):
        get_config("paper", 100)


def test_unknown_and_missing_keys_are_named() -> None:
    d = get_config("tiny").to_dict()
    with pytest.raises(ValueError, match="unknown key.*'widht'"):
        GeneratorConfig.from_dict({**d, "widht": 3})
    missing = {k: v for k, v in d.items() if k != "foreground"}
    with pytest.raises(ValueError, match="missing key.*foreground"):
        GeneratorConfig.from_dict(missing)
    bad_unet = {**d, "segmentation": {**d["segmentation"], "depth": 4}}
    with pytest.raises(ValueError, match="unknown key.*depth"):
        GeneratorConfig.from_dict(bad_unet)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"widths": (8,), "decoder_widths": ()}, "at least 2 levels"),
        ({"widths": (8, 8), "decoder_widths": (8, 8)}, "needs 1 entries"),
        ({"widths": (8, 8), "decoder_widths": (8,), "stem_kernel": 4}, "odd"),
        ({"widths": (8, 8), "decoder_widths": (8,), "stem_stride": 2}, "refine_width"),
        ({"widths": (8, 8), "decoder_widths": (8,), "refine": "fancy"}, "refine must be"),
        ({"widths": (8, 8), "decoder_widths": (8,), "separable_levels": 3}, "separable_levels"),
        ({"widths": (8, 8), "decoder_widths": (8,), "condition_level": 2}, "condition_level"),
        ({"widths": (8, -8), "decoder_widths": (8,)}, "positive"),
    ],
)
def test_invalid_unet_configs(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        UNetConfig(**kwargs)


def test_invalid_generator_settings() -> None:
    tiny = get_config("tiny")
    d = tiny.to_dict()
    for key, value, message in [("norm", "layer", "norm must be"), ("upsample", "cubic", "upsample must be"),
                                ("num_joints", 18, "14 joints"), ("image_size", 60, "multiple of")]:  # fmt: skip
        with pytest.raises(ValueError, match=message):
            GeneratorConfig.from_dict({**d, key: value})
