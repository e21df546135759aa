"""`posetrain train --config CONFIG [--resume] [--set section.key=value ...]`: train the generator.

Single process by default; under `torchrun --nproc_per_node=N` every process trains its shard of each batch
(DistributedDataParallel) and rank 0 writes logs, sample sheets and checkpoints.
"""

from __future__ import annotations

import argparse

from trainer.config import load_config


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="train the generator from a TOML config (checkpoints, --resume, torchrun DDP)",
        description=(
            "Train the generator described by CONFIG (see configs/*.toml and docs/training.md). Writes the "
            "resolved config, log.csv, samples/*.png and checkpoints/ into the run folder (out_dir, default "
            "~/.cache/poseeditor/runs/NAME). --resume continues exactly from the newest checkpoint."
        ),
    )
    p.add_argument("--config", required=True, metavar="TOML", help="training config file")
    p.add_argument("--resume", action="store_true", help="continue the run from its newest checkpoint")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set train.steps=1000 --set out_dir=/tmp/run (repeatable)")
    p.add_argument("--max-steps", type=int, default=None, metavar="N",
                   help="stop (with a checkpoint) after N more steps, whatever train.steps says")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from trainer.loop import train

    config = load_config(args.config, args.overrides)
    result = train(config, resume=args.resume, stop_after=args.max_steps)
    print(f"posetrain: {config.name}: step {result.step}, {result.samples_per_second:.1f} samples/s; "
          f"run folder {result.run_dir}")
    return 0
