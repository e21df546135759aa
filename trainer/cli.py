"""`posetrain`: the bundled trainer. Each module in `trainer.commands` has `register(subparsers)`.

User errors (PoseEditorError and its subclasses) print one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from poseeditor.errors import exit_code_of_command

COMMAND_MODULES = ("synth", "ingest", "train", "eval", "photo_eval", "export")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="posetrain",
        description="Train, evaluate and export the poseeditor generator; make and ingest training data.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"trainer.commands.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    return exit_code_of_command("posetrain", lambda: args.func(args))


if __name__ == "__main__":
    sys.exit(main())
