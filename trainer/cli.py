"""`posetrain`: the bundled trainer. Each module in `trainer.commands` has `register(subparsers)`.

User errors (PoseEditorError and its subclasses) print one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from poseeditor.errors import NoPersonFoundError, PoseEditorError

COMMAND_MODULES = ("synth", "ingest", "train", "eval", "photo_eval", "export")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="posetrain",
        description="Train, evaluate and export the poseeditor generator; make and ingest training data.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"trainer.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("trainer.commands"):
                continue  # not built yet
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        return int(args.func(args) or 0)
    except NoPersonFoundError as exc:  # same code as `poseeditor detect`
        print(f"posetrain: {exc}", file=sys.stderr)
        return 3
    except PoseEditorError as exc:
        print(f"posetrain: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("posetrain: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
