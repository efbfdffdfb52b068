"""Exceptions shared by the core, the command line and the napari widgets."""

from __future__ import annotations


class Cancelled(Exception):
    """A long computation (prediction, training) stopped because the user asked it to."""


class ModelFileError(ValueError):
    """A model file is missing, foreign, corrupt or hostile; the message says which and what to do."""


class ImageFileError(ValueError):
    """An image file is missing, unreadable or holds something the model cannot take."""
