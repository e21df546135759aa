"""Errors the user can act on. Every one of them carries a one-line message fit for a status bar or stderr."""

from __future__ import annotations

import sys
from collections.abc import Callable


class PoseEditorError(Exception):
    """Base of all errors that are the input's fault, not a bug."""


class ImageError(PoseEditorError):
    """An image could not be read (missing, corrupt, too large, unsupported)."""


class PoseFileError(PoseEditorError):
    """A pose file is malformed or holds an impossible pose (NaN, wrong joint count...)."""


class ModelError(PoseEditorError):
    """A model artifact is missing, not a model, or does not match this program."""


class NoModelInstalledError(ModelError):
    """No trained generator is installed and none was given."""


class ExportError(PoseEditorError):
    """An output could not be written (unwritable path, full disk...)."""


class NoPersonFoundError(PoseEditorError):
    """The detector found nobody in the photo (or in the given region)."""


# Exit codes of both command lines (`poseeditor`, `posetrain`).
EXIT_USER_ERROR = 2
EXIT_NO_PERSON = 3
EXIT_INTERRUPTED = 130


def exit_code_of_command(prog: str, command: Callable[[], int | None]) -> int:
    """Run one command-line command: user errors print one line `prog: message` on stderr and give exit code 2
    (3 when no person was found); Ctrl-C gives 130. Anything else is a bug and keeps its traceback."""
    try:
        return int(command() or 0)
    except NoPersonFoundError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return EXIT_NO_PERSON
    except PoseEditorError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
