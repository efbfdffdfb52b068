"""Turning exceptions into one-line notifications that say what went wrong and what to do, and logging them."""

from __future__ import annotations

import logging

from napari.utils import notifications

from napari_tiled_unet.errors import ModelFileError
from napari_tiled_unet.training.loop import TrainingFailed

logger = logging.getLogger("napari_tiled_unet._napari")

OOM_HINT = ("out of memory: lower the batch size or the patch size (Advanced), or pick a smaller tile size; "
            "on a GPU you may also pick the cpu device")


def is_out_of_memory(err: BaseException) -> bool:
    """True for CPU or GPU out-of-memory errors (also when wrapped by TrainingFailed)."""
    for e in (err, err.__cause__):
        if e is None:
            continue
        if isinstance(e, MemoryError) or type(e).__name__ == "OutOfMemoryError" or "out of memory" in str(e).lower():
            return True
    return False


def explain(action: str, err: BaseException) -> str:
    """A one-line message for an error raised while doing ``action`` ("train", "predict", "load the model").

    Parameters
    ----------
    action : str
        What was being done, as a verb phrase.
    err : BaseException
        The error; ValueError and ModelFileError messages of the core already name the fix.

    Returns
    -------
    str
        The message for a notification.

    """
    if is_out_of_memory(err):
        message = f"Could not {action}: {OOM_HINT} ({err})"
    elif isinstance(err, TrainingFailed):
        kept = "the best model so far was kept" if err.best_model is not None else "no model was kept"
        message = f"Training failed ({err}); {kept}"
    elif isinstance(err, (ValueError, ModelFileError)):
        message = f"Could not {action}: {err}"
    else:
        message = (f"Could not {action}: unexpected {type(err).__name__}: {err}. "
                   "The full traceback is in the log; please report it")
    if isinstance(err, TrainingFailed) and is_out_of_memory(err):
        message += "; " + ("the best model so far was kept" if err.best_model is not None else "no model was kept")
    return message


def report_error(action: str, err: BaseException) -> str:
    """Log ``err`` with its traceback and show it as a napari error notification; return the message."""
    message = explain(action, err)
    expected = isinstance(err, ValueError) and not isinstance(err, TrainingFailed)
    logger.error(message, exc_info=None if expected else (type(err), err, err.__traceback__))
    notifications.show_error(message)
    return message


def report_info(message: str) -> None:
    """Log and show an information notification."""
    logger.info(message)
    notifications.show_info(message)
