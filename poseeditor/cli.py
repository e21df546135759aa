"""`poseeditor`: with no subcommand (or a photo or session) it opens the editor; subcommands run headless.
`poseeditor --help` lists the editor's options and the subcommands.

Every subcommand module in `poseeditor.commands` has `register(subparsers)`, which adds its parser and sets
`func(args) -> int`. User errors (PoseEditorError) print one line on stderr and exit 2 (3: no person found).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from poseeditor.errors import exit_code_of_command

# Subcommand modules, in the order `--help` lists them.
COMMAND_MODULES = ("render", "detect")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="poseeditor",
        description="Re-pose the person in a photo. Without a subcommand, opens the editor: poseeditor [PHOTO].",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"poseeditor.commands.{name}").register(sub)
    return parser


def commands_help() -> str:
    """The subcommands and what they do, for the editor's --help."""
    lines = ["commands (poseeditor COMMAND --help for each one's options):"]
    sub = build_parser()._subparsers
    if sub is not None:
        for action in sub._group_actions[0]._choices_actions:  # type: ignore[attr-defined]
            lines.append(f"  {action.dest:<10} {action.help or ''}")
    return "\n".join(lines)


def run_command(parser: argparse.ArgumentParser, argv: Sequence[str]) -> int:
    args = parser.parse_args(list(argv))
    return exit_code_of_command("poseeditor", lambda: args.func(args))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    commands = set(parser._subparsers._group_actions[0].choices) if parser._subparsers else set()  # type: ignore[union-attr]
    if argv and argv[0] in commands:
        return run_command(parser, argv)
    from poseeditor.ui.app import main as gui_main  # Qt is imported only for the GUI

    return gui_main(argv, commands_help())


if __name__ == "__main__":
    sys.exit(main())
