"""The training loop: loss falls on a fixed batch, resume == uninterrupted, checkpoints, configs and errors."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from poseeditor.errors import PoseEditorError
from trainer.config import ConfigError, TrainerError, config_from_dict, load_config


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory) -> Path:
    from trainer.data.toy import write_toy_dataset

    root = tmp_path_factory.mktemp("toy")
    write_toy_dataset(root, videos=4, frames=4, width=48, height=64)
    return root


def tiny_config(toy_root: Path, out: Path, **sections) -> dict:
    cfg = {
        "name": "tiny",
        "out_dir": str(out),
        "model": {"config": "tiny", "image_size": 32, "discriminator_width": 4, "discriminator_layers": 2},
        "data": {"train": [str(toy_root)], "holes": [str(toy_root)], "workers": 0, "held_out_fraction": 0.25},
        "train": {"batch_size": 2, "steps": 6, "hole_batch_size": 2, "threads": 1, "adversarial_start": 3},
        "log": {"every_steps": 1, "progress": False, "sample_count": 2},
        "checkpoint": {"every_steps": 3, "keep": 2},
    }
    for name, values in sections.items():
        cfg.setdefault(name, {}).update(values)
    return cfg


def read_log(run: Path) -> list[dict[str, str]]:
    with open(run / "log.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_a_few_steps_reduce_the_loss_on_a_fixed_batch(toy_root, tmp_path):
    from trainer.data.split import TrainingData, prepare_data
    from trainer.loop import train

    cfg = config_from_dict(tiny_config(
        toy_root, tmp_path / "run",
        train={"steps": 40, "adversarial_start": 1000, "lr": 2e-3, "hole_batch_size": 0},
        checkpoint={"every_steps": 0},
    ))
    real = prepare_data(cfg)
    fixed = [real.pairs[i] for i in range(2)]

    class FixedPairs(torch.utils.data.Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return fixed[i % 2]

    data = TrainingData(pairs=FixedPairs(), holes=None, sample_batch=real.sample_batch, description=real.description)
    result = train(cfg, data=data)
    assert result.step == 40
    rows = read_log(tmp_path / "run")
    assert 0.0 <= float(rows[-1]["data_wait"]) <= 1.0 and float(rows[-1]["samples_per_s"]) > 0
    totals = [float(r["total"]) for r in rows]
    assert len(totals) == 40
    first, last = sum(totals[:3]) / 3, sum(totals[-3:]) / 3
    assert last < 0.8 * first, (first, last)


def test_resume_reproduces_the_uninterrupted_run(toy_root, tmp_path):
    """Includes the adversarial phase (from step 3) and the hole batches, so D, both optimizers and both data
    streams must continue exactly."""
    from trainer.loop import train

    straight = train(config_from_dict(tiny_config(toy_root, tmp_path / "a")))
    assert straight.step == 6
    cfg_b = config_from_dict(tiny_config(toy_root, tmp_path / "b"))
    first = train(cfg_b, stop_after=4)  # checkpoint at 3 (every_steps) and at the stop, 4
    assert first.step == 4
    resumed = train(cfg_b, resume=True)
    assert resumed.step == 6
    for (name, a), (_, b) in zip(straight.generator.state_dict().items(), resumed.generator.state_dict().items()):
        assert torch.allclose(a, b, atol=1e-6, rtol=0), name
    for (name, a), (_, b) in zip(straight.discriminator.state_dict().items(),
                                 resumed.discriminator.state_dict().items()):
        assert torch.allclose(a, b, atol=1e-6, rtol=0), name
    # the log continues across the resume, and phases switch at adversarial_start
    rows = read_log(tmp_path / "b")
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4, 5, 6]
    assert [r["phase"] for r in rows] == ["reconstruction"] * 3 + ["adversarial"] * 3
    assert (tmp_path / "b" / "config.toml").is_file()
    assert list((tmp_path / "b" / "samples").glob("step_*.png"))


def test_checkpoints_keep_the_last_k_and_refuse_to_overwrite_a_run(toy_root, tmp_path):
    from trainer.checkpoint import list_checkpoints, load_checkpoint
    from trainer.loop import train

    cfg = config_from_dict(tiny_config(toy_root, tmp_path / "run", checkpoint={"every_steps": 1, "keep": 2}))
    train(cfg)
    found = list_checkpoints(tmp_path / "run")
    assert [p.name for p in found] == ["ckpt_000000005.safetensors", "ckpt_000000006.safetensors"]
    ckpt = load_checkpoint(found[-1])
    assert ckpt.step == 6 and ckpt.meta["samples_seen"] == 12
    assert set(ckpt.optimizers) == {"g", "d"} and ckpt.optimizers["g"]["state"]
    with pytest.raises(TrainerError, match="--resume"):
        train(cfg)
    assert not list((tmp_path / "run" / "checkpoints").glob(".*tmp"))  # atomic writes leave no temp files


def test_resume_without_checkpoint_and_corrupt_checkpoint_are_clear_errors(toy_root, tmp_path):
    from trainer.checkpoint import CheckpointError, load_checkpoint
    from trainer.loop import train

    with pytest.raises(CheckpointError, match="nothing to resume"):
        train(config_from_dict(tiny_config(toy_root, tmp_path / "empty")), resume=True)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(CheckpointError):
        load_checkpoint(bad)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"trian": {"steps": 1}}, "unknown key"),
        ({"train": {"steps": "many"}}, "train.steps must be an integer"),
        ({"train": {"batch_size": 0}}, "train.batch_size must be > 0"),
        ({"model": {"config": "huge"}}, "model.config must be one of"),
        ({"model": {"image_size": 30}}, "image_size"),
        ({"loss": {"vgg": 1.0}}, "vgg_weights"),
        ({"loss": {"gan_mode": "wgan"}}, "gan_mode"),
        ({"data": {"weights": [1.0, 2.0]}}, "data.weights has 2 entries"),
    ],
)
def test_bad_configs_are_rejected_with_the_key_named(change, message):
    cfg = {"data": {"train": ["x"]}}
    for section, values in change.items():
        cfg.setdefault(section, {}).update(values)
    with pytest.raises(ConfigError, match=message):
        config_from_dict(cfg)


def test_config_file_overrides_and_resolved_round_trip(tmp_path):
    import tomllib

    from trainer.config import config_to_toml

    path = tmp_path / "c.toml"
    path.write_text('name = "x"\n[train]\nsteps = 5\n')
    cfg = load_config(path, ["train.steps=7", "loss.l1=2", "data.train=['/d']"])
    assert cfg.train.steps == 7 and cfg.loss.l1 == 2.0 and cfg.data.train == ["/d"]
    again = config_from_dict(tomllib.loads(config_to_toml(cfg)))
    assert again == cfg
    with pytest.raises(ConfigError, match="no such config"):
        load_config(tmp_path / "missing.toml")
    (tmp_path / "broken.toml").write_text("[train\n")
    with pytest.raises(ConfigError, match="not a valid TOML"):
        load_config(tmp_path / "broken.toml")


def test_missing_or_empty_data_give_clear_errors(tmp_path):
    from trainer.loop import train

    with pytest.raises(TrainerError, match="data.train is empty"):
        train(config_from_dict({"out_dir": str(tmp_path / "r"), "model": {"config": "tiny", "image_size": 32}}))
    cfg = config_from_dict({"out_dir": str(tmp_path / "r"), "model": {"config": "tiny", "image_size": 32},
                            "data": {"train": [str(tmp_path / "nowhere")]}})
    with pytest.raises(PoseEditorError, match="no such folder"):
        train(cfg)


def test_posetrain_train_cli_reports_bad_config_in_one_line(tmp_path, capsys):
    from trainer.cli import main

    path = tmp_path / "c.toml"
    path.write_text("[train]\nsteps = -1\n")
    assert main(["train", "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "train.steps must be >= 0" in err[0]


def test_single_unet_baseline_trains_with_its_own_losses(toy_root, tmp_path):
    from trainer.loop import train

    cfg = config_from_dict(tiny_config(toy_root, tmp_path / "u", model={"architecture": "unet"},
                                       train={"steps": 2, "adversarial_start": 1}))
    assert cfg.loss.part_ce == 0 and cfg.loss.background == 0  # no such modules
    result = train(cfg)
    assert result.step == 2 and set(result.last_losses) >= {"l1", "ssim", "gan", "d_loss"}
    assert "part_ce" not in result.last_losses


def test_soft_background_mask_leaves_part_of_the_hole_visible():
    from trainer.data.holes import soft_background_mask

    hole = torch.zeros(4, 1, 64, 64)
    hole[:, :, 16:48, 20:40] = 1.0
    mask = soft_background_mask(hole, seed=0, step=7)
    assert torch.equal(mask, soft_background_mask(hole, seed=0, step=7))  # deterministic by (seed, step)
    assert torch.all(mask[:, :, :8] == 1.0)  # far from the hole: untouched background
    centre = mask[:, 0, 32, 30]
    assert torch.all((centre >= 0.0) & (centre <= 0.5 + 1e-6))  # depth 0.5..1 inside the hole
    assert not torch.equal(mask, soft_background_mask(hole, seed=0, step=8))


def test_a_resumed_run_keeps_its_split_when_the_dataset_grows(tmp_path):
    from trainer.data import read_dataset
    from trainer.data.toy import write_toy_dataset
    from trainer.data.split import split_for_run

    root = tmp_path / "grow"
    write_toy_dataset(root, videos=10, frames=2, width=32, height=48)
    cfg = config_from_dict({"data": {"train": [str(root)], "held_out_fraction": 0.3}})
    train1, held1 = split_for_run(read_dataset(root), str(root), cfg, None)
    previous = {"datasets": [{"root": str(root), "held_out_videos": [v.name for v in held1],
                              "train_video_names": [v.name for v in train1]}]}
    # the dataset grows: 30 more videos, whose names sort among the old ones' groups
    from trainer.data.dataset_format import write_video
    from trainer.data.toy import toy_video

    for k in range(10, 40):
        toy = toy_video(k, 2, 32, 48)
        write_video(root, f"toy{k:03d}", toy.frames, toy.joints, toy.visible, source="toy", frame_suffix=".png")
    train2, held2 = split_for_run(read_dataset(root), str(root), cfg, previous)
    names1_train, names1_held = {v.name for v in train1}, {v.name for v in held1}
    assert names1_held <= {v.name for v in held2}  # held out before: still held out
    assert names1_train <= {v.name for v in train2}  # trained before: never becomes "held-out"
    new_held = {v.name for v in held2} - names1_held
    assert 0 < len(new_held) < 30  # new videos are split too (by a stable hash: ~30 %)
    again = split_for_run(read_dataset(root), str(root), cfg, previous)
    assert [v.name for v in again[1]] == [v.name for v in held2]


def test_init_from_warm_starts_a_select_run_from_a_generate_checkpoint(toy_root, tmp_path):
    """model.init_from copies a finished run's generator into a new run, growing the 'select' foreground head
    (old channels copied, the new selection logits at their init); resume of an older run stays possible."""
    from trainer.loop import train

    first = train(config_from_dict(tiny_config(toy_root, tmp_path / "a", train={"steps": 2, "adversarial_start": 99})))
    cfg = config_from_dict(tiny_config(
        toy_root, tmp_path / "b", train={"steps": 2, "adversarial_start": 99},
        model={"foreground": "select", "init_from": str(tmp_path / "a")},
    ))
    from trainer.networks import build_generator, init_generator_from

    fresh = build_generator(cfg)
    init_generator_from(fresh, tmp_path / "a")
    old, new = first.generator.state_dict(), fresh.state_dict()
    assert torch.equal(new["segmentation_head.weight"], old["segmentation_head.weight"])
    assert torch.equal(new["foreground_head.weight"][:4], old["foreground_head.weight"])
    assert float(new["foreground_head.bias"][-2]) == 4.0 and not new["foreground_head.weight"][4:].any()
    # with the selection forced to the generated RGB, the warm-started model computes what the copied one did
    first.generator.eval()
    fresh.eval()
    with torch.no_grad():
        fresh.foreground_head.bias[-1] = 100.0
        g = torch.Generator().manual_seed(0)
        x = torch.rand(1, 3, 32, 32, generator=g) * 2 - 1
        hs, ht = torch.rand(1, 14, 32, 32, generator=g), torch.rand(1, 14, 32, 32, generator=g)
        prior = torch.softmax(torch.rand(1, 11, 32, 32, generator=g), 1)
        tr = torch.tensor([[1.0, 0, 1], [0, 1, 0]]).expand(1, 10, 2, 3).contiguous()
        a, b = first.generator(x, hs, ht, prior, tr), fresh(x, hs, ht, prior, tr)
    for key in ("part_masks", "background", "foreground", "mask"):
        assert torch.allclose(a[key], b[key], atol=1e-5), key
    result = train(cfg)
    assert result.step == 2 and result.generator.foreground_head.out_channels == 16
    # a 'select' run cannot be the source of a 'generate' run (the head would shrink)
    bad = config_from_dict(tiny_config(toy_root, tmp_path / "c", model={"init_from": str(tmp_path / "b")}))
    with pytest.raises(TrainerError, match="foreground_head"):
        train(bad)
    missing = config_from_dict(tiny_config(toy_root, tmp_path / "d", model={"init_from": str(tmp_path / "nope")}))
    with pytest.raises(TrainerError, match="does not exist"):
        train(missing)


def test_log_has_a_held_out_metric_with_each_sample_sheet(toy_root, tmp_path):
    from trainer.loop import train

    cfg = config_from_dict(tiny_config(toy_root, tmp_path / "run", train={"steps": 4, "adversarial_start": 1000},
                                       checkpoint={"every_steps": 0}))
    train(cfg)
    rows = read_log(tmp_path / "run")
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]
    # sheets (and the metric) at step 1 and the last step; the default sheet interval is minutes
    measured = [int(r["step"]) for r in rows if r["held_out_l1"]]
    assert measured == [1, 4]
    for r in (rows[0], rows[-1]):
        assert 0.0 < float(r["held_out_l1"]) < 1.0
        assert -1.0 < float(r["held_out_ssim"]) < 1.0
    assert len(list((tmp_path / "run" / "samples").glob("step_*.png"))) == 2


def test_segmentation_only_stage_trains_the_segmentation_and_nothing_else(toy_root, tmp_path):
    """train.modules = "segmentation" (issue 11's cheap first stage): only part_ce is computed and only the
    segmentation module's weights move; a config that cannot be trained that way is refused."""
    from trainer.loop import train
    from trainer.networks import build_generator

    cfg = config_from_dict(tiny_config(toy_root, tmp_path / "seg", train={
        "steps": 3, "modules": "segmentation", "lr": 1e-2}, loss={"part_ce": 1.0}))
    torch.manual_seed(cfg.seed)
    before = {k: v.clone() for k, v in build_generator(cfg).state_dict().items()}
    result = train(cfg)
    assert result.step == 3 and set(result.last_losses) == {"part_ce", "total"}
    after = result.generator.state_dict()
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert moved and all(k.startswith(("segmentation_net.", "segmentation_head.")) for k in moved), sorted(moved)[:5]
    with pytest.raises(ConfigError, match="train.modules"):
        config_from_dict(tiny_config(toy_root, tmp_path / "x", train={"modules": "everything"}))
    with pytest.raises(ConfigError, match="architecture = 'posewarp'"):
        config_from_dict(tiny_config(toy_root, tmp_path / "x", train={"modules": "foreground"},
                                     model={"architecture": "unet"}))
    with pytest.raises(ConfigError, match="loss.part_ce > 0"):
        config_from_dict(tiny_config(toy_root, tmp_path / "x", train={"modules": "segmentation"},
                                     loss={"part_ce": 0.0}))


def test_foreground_stage_trains_only_the_foreground_module(toy_root, tmp_path):
    """train.modules = "foreground": the whole generator runs and all losses are computed, but only the
    foreground/mask module (C) moves; the retrained segmentation stays exactly as it was."""
    from trainer.loop import train
    from trainer.networks import build_generator

    cfg = config_from_dict(tiny_config(toy_root, tmp_path / "fg", train={
        "steps": 3, "modules": "foreground", "lr": 1e-2, "adversarial_start": 1000, "hole_batch_size": 0}))
    torch.manual_seed(cfg.seed)
    before = {k: v.clone() for k, v in build_generator(cfg).state_dict().items()}
    result = train(cfg)
    assert result.step == 3 and {"l1", "ssim"} <= set(result.last_losses)
    after = result.generator.state_dict()
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert moved and all(k.startswith(("foreground_net.", "foreground_head.")) for k in moved), sorted(moved)[:5]
