"""Errors the user can act on. Every one of them carries a one-line message fit for a status bar or stderr."""

from __future__ import annotations


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
