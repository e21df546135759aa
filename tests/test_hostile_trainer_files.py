"""Hostile and broken files fed to the trainer (issue 12, items 10-12): decompression bombs, truncated JPEGs,
corrupt frames in the middle of a run and of a resume, info files pointing outside their dataset.

Every file here is made by the test, small on disk."""

from __future__ import annotations

import csv
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from poseeditor.image_io import MAX_PIXELS
from trainer.data.dataset_format import DatasetError, read_dataset, read_grey, read_rgb


def bomb_png(path: Path, side: int = 9000) -> Path:
    """A valid 1-bit PNG of side×side pixels (81 MP at 9000, just over the editor's limit) that is ~10 KB on disk:
    rows of zeros compress ~1000:1. Decoded to RGB it would take side²·3 bytes."""
    assert side * side > MAX_PIXELS

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" * (1 + (side + 7) // 8)  # filter byte + packed bits
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row * 500) for _ in range(side // 500)) + packer.compress(row * (side % 500))
    body += packer.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit greyscale
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    assert path.stat().st_size < 100_000
    return path


def truncated_jpeg(path: Path) -> Path:
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)).save(path, quality=90)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


# ------------------------------------------------------------------------------------------ item 11: readers
def test_a_decompression_bomb_is_refused_before_it_is_decoded(tmp_path):
    bomb = bomb_png(tmp_path / "bomb.png")
    with pytest.raises(DatasetError, match="megapixels"):
        read_rgb(bomb)
    with pytest.raises(DatasetError, match="megapixels"):
        read_rgb(bomb, reduce=8)
    with pytest.raises(DatasetError, match="megapixels"):
        read_grey(bomb)  # part maps and masks too


def test_a_truncated_jpeg_is_refused_not_read_half_grey(tmp_path):
    with pytest.raises(DatasetError, match="truncated"):
        read_rgb(truncated_jpeg(tmp_path / "t.jpg"))
    with pytest.raises(DatasetError, match="truncated"):
        read_rgb(truncated_jpeg(tmp_path / "t2.jpg"), reduce=2)


def test_reduced_jpeg_decode_matches_opencv(tmp_path):
    """The switch from cv2.imread to the editor's reader keeps the pixels (and sizes) the trainer saw before."""
    import cv2

    rng = np.random.default_rng(1)
    img = cv2.GaussianBlur(rng.integers(0, 255, (203, 301, 3), dtype=np.uint8), (0, 0), 2)
    cv2.imwrite(str(tmp_path / "f.jpg"), img)
    flags = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
             8: cv2.IMREAD_REDUCED_COLOR_8}
    for reduce, flag in flags.items():
        ours = read_rgb(tmp_path / "f.jpg", reduce)
        theirs = cv2.cvtColor(cv2.imread(str(tmp_path / "f.jpg"), flag), cv2.COLOR_BGR2RGB)
        assert ours.shape == theirs.shape
        assert np.abs(ours.astype(int) - theirs).max() <= 1, reduce


# ------------------------------------------------------------------------------------------ item 12: paths
def _one_video_dataset(root: Path, file: str) -> None:
    (root / "frames" / "v").mkdir(parents=True)
    (root / "info").mkdir()
    Image.fromarray(np.zeros((64, 48, 3), np.uint8)).save(root / "frames" / "v" / "00000.png")
    joints = [[10 + i, 10 + 2 * i, 1] for i in range(14)]
    info = {"video": "v", "width": 48, "height": 64,
            "frames": [{"file": "00000.png", "joints": joints}, {"file": file, "joints": joints}]}
    (root / "info" / "v.json").write_text(json.dumps(info))


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "deep_dotdot", "inner_dotdot"])
def test_info_file_frames_must_stay_inside_the_dataset(tmp_path, kind):
    outside = tmp_path / "outside.png"  # exists, so only the path check can refuse it
    Image.fromarray(np.full((64, 48, 3), 200, np.uint8)).save(outside)
    root = tmp_path / "ds"
    file = {
        "dotdot": "../../../outside.png",
        "absolute": str(outside),
        "deep_dotdot": "../" * 40 + str(outside).lstrip("/"),
        "inner_dotdot": "sub/../../../../outside.png",
    }[kind]
    assert (root / "frames" / "v" / file).resolve() == outside.resolve()
    _one_video_dataset(root, file)
    with pytest.raises(DatasetError, match="not inside the video's frame folder"):
        read_dataset(root)


def test_info_file_frame_names_that_are_not_files_are_refused(tmp_path):
    for i, bad in enumerate(["", ".", 5, None]):
        root = tmp_path / f"ds{i}"
        _one_video_dataset(root, bad)  # type: ignore[arg-type]
        with pytest.raises(DatasetError, match='"file"'):
            read_dataset(root)
    ok = tmp_path / "ok"
    _one_video_dataset(ok, "00000.png")
    assert len(read_dataset(ok)[0]) == 2


@pytest.mark.parametrize(
    ("info", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "not a readable JSON"),  # RecursionError before
        ('{"video": "v", "width": 1e400, "height": 64, "frames": [FRAME]}', "width"),  # OverflowError before
        ('{"video": "v", "width": -48, "height": 64, "frames": [FRAME]}', "width"),
        ('{"video": "v", "width": 48, "height": 64, "frames": [FRAME_BAD_BOX]}', "box must be"),  # ValueError before
    ],
    ids=["nested_100k_deep", "width_1e400", "negative_width", "box_with_a_string"],
)
def test_hostile_info_files_are_dataset_errors(tmp_path, info, message):
    joints = json.dumps([[10 + i, 10 + 2 * i, 1] for i in range(14)])
    frame = f'{{"file": "00000.png", "joints": {joints}}}'
    bad_box = f'{{"file": "00000.png", "joints": {joints}, "box": [1, 2, "x", 4]}}'
    _one_video_dataset(tmp_path, "00000.png")
    (tmp_path / "info" / "v.json").write_text(info.replace("FRAME_BAD_BOX", bad_box).replace("FRAME", frame))
    with pytest.raises(DatasetError, match=message):
        read_dataset(tmp_path)


# ------------------------------------------------------------------------------------------ item 10: corrupt frames
def _tiny_config(toy: Path, out: Path, steps: int) -> dict:
    return {
        "name": "hostile",
        "out_dir": str(out),
        "model": {"config": "tiny", "image_size": 32, "discriminator_width": 4, "discriminator_layers": 2},
        "data": {"train": [str(toy)], "holes": [str(toy)], "workers": 0, "held_out_fraction": 0.0},
        "train": {"batch_size": 2, "steps": steps, "hole_batch_size": 2, "threads": 1, "adversarial_start": 1000},
        "log": {"every_steps": 1, "progress": False, "sample_count": 2},
        "checkpoint": {"every_steps": 2, "keep": 2},
    }


def test_corrupt_frames_are_skipped_counted_and_survive_a_resume(tmp_path, capfd):
    """A junk file, a truncated frame and a bomb in the middle of the dataset: the run trains, warns once per
    file, counts the skipped frames in log.csv, and resumes past them (the old code died at the first one, and
    every --resume died at the same step)."""
    from trainer.config import config_from_dict
    from trainer.data.toy import write_toy_dataset
    from trainer.loop import train

    toy = tmp_path / "toy"
    write_toy_dataset(toy, videos=2, frames=3, width=48, height=64)
    frames = sorted((toy / "frames").rglob("*.png"))
    frames[0].write_bytes(b"this is not a PNG")
    data = frames[2].read_bytes()
    frames[2].write_bytes(data[: len(data) // 2])
    bomb_png(frames[4])

    cfg = config_from_dict(_tiny_config(toy, tmp_path / "run", steps=6))
    first = train(cfg, stop_after=3)
    assert first.step == 3
    resumed = train(cfg, resume=True)
    assert resumed.step == 6

    with open(tmp_path / "run" / "log.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4, 5, 6]
    skipped = [int(r["skipped_frames"]) for r in rows]
    assert skipped == sorted(skipped) and skipped[-1] > 0  # a running count over the whole run, resumes included
    err = capfd.readouterr().err
    assert "skipping unreadable frame" in err
    for bad in (frames[0], frames[2], frames[4]):
        assert err.count(str(bad)) >= 1


def test_pairs_redraw_deterministically_around_a_corrupt_frame(tmp_path):
    from trainer.data.pairs import PosePairDataset
    from trainer.data.toy import write_toy_dataset

    toy = tmp_path / "toy"
    videos = write_toy_dataset(toy, videos=1, frames=4, width=48, height=64)
    videos[0].frame_paths[1].write_bytes(b"junk")
    a = PosePairDataset(videos, size=32, seed=3)
    b = PosePairDataset(videos, size=32, seed=3)
    seen_skip = False
    for i in range(12):
        x, y = a[i], b[i]
        assert int(x["frame_src"]) != 1 and int(x["frame_tgt"]) != 1
        assert all(bool((x[k] == y[k]).all()) for k in x)  # a pure function of (seed, index), as before
        seen_skip |= int(x["skipped_frames"]) > 0
    assert seen_skip


def test_a_video_with_every_frame_unreadable_is_a_clear_error(tmp_path):
    from trainer.data.pairs import PosePairDataset
    from trainer.data.toy import write_toy_dataset

    videos = write_toy_dataset(tmp_path / "toy", videos=1, frames=3, width=48, height=64)
    for p in videos[0].frame_paths:
        p.write_bytes(b"junk")
    with pytest.raises(DatasetError, match="unreadable"):
        PosePairDataset(videos, size=32, seed=0)[0]


def test_export_card_picture_uses_the_editor_reader(tmp_path):
    """posetrain export copies an evaluation picture into the model card: a truncated or bomb file is an
    ExportError naming it, not a cv2 traceback or a half-grey JPEG in a shipped model folder."""
    from poseeditor.errors import ExportError
    from trainer.export import _write_card_picture

    with pytest.raises(ExportError, match="truncated"):
        _write_card_picture(truncated_jpeg(tmp_path / "sheet.jpg"), tmp_path / "card.jpg")
    with pytest.raises(ExportError, match="megapixels"):
        _write_card_picture(bomb_png(tmp_path / "sheet.png"), tmp_path / "card.jpg")
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(tmp_path / "ok.png")
    _write_card_picture(tmp_path / "ok.png", tmp_path / "card.jpg")
    assert Image.open(tmp_path / "card.jpg").size == (30, 20)


def test_ingest_refuses_video_frames_over_the_pixel_limit(tmp_path, monkeypatch):
    """Video frames meet the same limit as photos, read from the container before a frame is decoded (a real
    81-megapixel video would be big to make in a test: the limit is lowered instead)."""
    import cv2

    from poseeditor import image_io
    from trainer.data.ingest import IngestOptions, ingest

    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for _ in range(3):
        writer.write(np.zeros((48, 64, 3), np.uint8))
    writer.release()
    (tmp_path / "clip.avi.poses.json").write_text("[]")
    monkeypatch.setattr(image_io, "MAX_PIXELS", 64 * 48 - 1)
    with pytest.raises(DatasetError, match="megapixels"):
        ingest([path], tmp_path / "out", IngestOptions(progress=False))


def test_a_mat_dataset_whose_first_frame_is_corrupt_still_reads(tmp_path):
    """The paper's layout takes the frame size from a frame: a corrupt first frame must not lose the video."""
    import scipy.io

    root = tmp_path / "mat"
    (root / "frames" / "v").mkdir(parents=True)
    (root / "info").mkdir()
    for k in range(1, 4):
        Image.fromarray(np.zeros((64, 48, 3), np.uint8)).save(root / "frames" / "v" / f"{k}.jpg")
    (root / "frames" / "v" / "1.jpg").write_bytes(b"junk")
    x = np.stack([np.column_stack([np.linspace(5, 40, 14), np.linspace(5, 60, 14)])] * 3, axis=2)
    scipy.io.savemat(root / "info" / "v.mat", {"data": {"X": x, "bbox": np.zeros((3, 4))}})
    [video] = read_dataset(root)
    assert (video.width, video.height) == (48, 64) and len(video) == 3
    for k in range(1, 4):
        (root / "frames" / "v" / f"{k}.jpg").write_bytes(b"junk")
    with pytest.raises(DatasetError, match="no frame of the video is readable"):
        read_dataset(root)
