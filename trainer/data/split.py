"""The data of a training run: each dataset split by whole videos into training and held-out (a resumed run keeps
its split), the training pairs of all datasets mixed into one stream, the real photos with person-shaped holes for
the background module, and a fixed batch of held-out pairs for the sample sheets and the held-out metric.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from trainer.config import TrainConfig, TrainerError
from trainer.data.dataset_format import read_dataset
from trainer.data.pairs import PosePairDataset, fixed_pairs, split_by_video


class MixedPairs(Dataset):
    """Several pair datasets as one infinite-index stream: item i comes from dataset k drawn with `weights`
    from (seed, i), and is that dataset's own item i (training pair datasets accept any index)."""

    def __init__(self, datasets: list[Dataset], weights: list[float], seed: int) -> None:
        self.datasets = datasets
        w = np.asarray(weights, dtype=np.float64)
        self.cumulative = np.cumsum(w / w.sum())
        self.seed = seed
        self.length = sum(len(d) for d in datasets)  # type: ignore[arg-type]

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        u = np.random.default_rng([self.seed, 0xB1E, int(index)]).random()
        k = min(int(np.searchsorted(self.cumulative, u, side="right")), len(self.datasets) - 1)
        item = self.datasets[k][index]
        item["dataset"] = torch.tensor(k, dtype=torch.int64)
        return item


@dataclass
class TrainingData:
    pairs: Dataset
    holes: Dataset | None
    sample_batch: dict[str, torch.Tensor]
    description: dict[str, Any]


def stable_held_out(group: str, fraction: float, seed: int) -> bool:
    """A video group's held-out fate from a hash of its name: unaffected by other videos being added later."""
    digest = hashlib.sha256(f"{seed}:{group}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64 < fraction


def split_for_run(videos: list, root: str, config: TrainConfig, previous: dict[str, Any] | None) -> tuple[list, list]:
    """(training, held-out) videos of one dataset. A fresh run splits by video group (`split_by_video`). A resumed
    run keeps its split whatever was added to the dataset since: every video held out before stays held out, every
    video trained on stays in training, and videos new to the run are held out by a stable hash of their group.
    (Found the hard way: a dataset grew from 600 to 1800 videos mid-run, a fresh split reshuffled which videos were
    held out, and the 'held-out' set then held videos the run had trained on.)"""
    d = config.data
    entry = None
    for ds in (previous or {}).get("datasets", []):
        if ds.get("root") == str(root):
            entry = ds
    if entry is None:
        return split_by_video(videos, d.held_out_fraction, d.split_seed)
    held_before = set(entry.get("held_out_videos", []))
    trained_before = entry.get("train_video_names")
    held = []
    for v in videos:
        if v.name in held_before or (trained_before is not None and v.name not in trained_before
              and stable_held_out(v.group, d.held_out_fraction, d.split_seed)):
            held.append(v)
        # else: trained before (or, for checkpoints that did not list their training videos, maybe trained)
    held_names = {v.name for v in held}
    return [v for v in videos if v.name not in held_names], held


def prepare_data(config: TrainConfig, previous: dict[str, Any] | None = None) -> TrainingData:
    """Read every dataset, split whole videos off for evaluation, build the pair stream and the hole dataset.
    `previous`: the data description of the checkpoint being resumed (keeps its split)."""
    d, size = config.data, config.model.image_size
    if not d.train:
        raise TrainerError("data.train is empty: list at least one dataset folder (docs/dataset_format.md)")
    datasets, weights, held_out_all, described = [], [], [], []
    train_videos_all = []
    for i, root in enumerate(d.train):
        videos = read_dataset(Path(root).expanduser())
        train_videos, held_out = split_for_run(videos, root, config, previous)
        if not train_videos:
            raise TrainerError(f"{root}: no training videos left after holding out {d.held_out_fraction:.0%}")
        datasets.append(
            PosePairDataset(train_videos, size=size, augment=d.augment, pairs_per_video=d.pairs_per_video,
                            seed=config.seed * 1000 + i)
        )
        weights.append(d.weights[i] if d.weights else float(len(train_videos)))
        held_out_all.extend(held_out)
        train_videos_all.extend(train_videos)
        described.append({"root": str(root), "videos": len(videos), "train_videos": len(train_videos),
                          "held_out_videos": [v.name for v in held_out],
                          "train_video_names": [v.name for v in train_videos],
                          "train_frames": int(sum(len(v) for v in train_videos))})
    pairs = MixedPairs(datasets, weights, config.seed)

    holes = None
    hole_images: list[Path] = []
    if config.train.hole_batch_size > 0 and config.model.architecture == "posewarp" and d.holes:
        from trainer.data.holes import PersonHoleDataset, frames_of, images_in

        poses = []
        for root in d.holes:
            root_path = Path(root).expanduser()
            if (root_path / "info").is_dir():
                # A dataset: only its training videos' frames (held-out backgrounds stay unseen).
                train_videos, _ = split_for_run(read_dataset(root_path), root, config, previous)
                hole_images += frames_of(train_videos, stride=2)
                poses += [v.pose(k) for v in train_videos for k in range(0, len(v), 5)]
            else:
                hole_images += images_in(root_path)
        holes = PersonHoleDataset(hole_images, size=size, seed=config.seed, length=1_000_000, poses=poses or None)

    # A fixed batch of held-out pairs (training pairs when nothing is held out) for the sample sheets.
    count = max(1, config.log.sample_count)
    sample_videos = held_out_all or train_videos_all
    sample_set = PosePairDataset(sample_videos, size=size, augment=False, seed=config.seed,
                                 pairs=fixed_pairs(sample_videos, count, config.seed))
    sample_batch = torch.utils.data.default_collate([sample_set[i] for i in range(count)])
    description = {
        "datasets": described,
        "held_out_fraction": d.held_out_fraction,
        "split_seed": d.split_seed,
        "hole_images": len(hole_images),
        "hole_sources": list(d.holes),
    }
    return TrainingData(pairs=pairs, holes=holes, sample_batch=sample_batch, description=description)


def endless_batches(loader: torch.utils.data.DataLoader) -> Iterator[dict[str, torch.Tensor]]:
    while True:  # the sampler is infinite; this only guards a finite one
        yield from loader
