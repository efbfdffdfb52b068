"""Messages in the words of the widgets: core errors translated to the controls and layers the user sees.

The core's messages name Python parameters ("sparse=True", "val_fraction", "image 0"), which is right for the
Python API and the command line. In napari the user sees check boxes, fields and layer names, so every message
shown by a widget goes through :func:`in_user_words` with the table of core terms -> control names kept here,
in one place. :func:`report_error` logs the original error and shows the translated message as a notification;
the widgets show the same full message in their status area.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from napari.utils import notifications

from napari_tiled_unet.errors import ModelFileError
from napari_tiled_unet.training.loop import TrainingFailed

logger = logging.getLogger("napari_tiled_unet._napari")

ADVANCED = "(Advanced)"
#: The Train widget's sparse check box (one box for scribbles and for a few objects painted completely).
SPARSE = "sparse: 0 = not annotated"
#: The Train widget's check box that trains despite a contradiction found by the label check.
TRAIN_ANYWAY = "train anyway"

#: TrainingConfig fields -> the Train widget's controls ("(Advanced)": in the Advanced section).
TRAIN_FIELDS: dict[str, str] = {
    "time_limit": "time limit (s)",
    "epochs": "epochs",
    "val_fraction": f"validation fraction {ADVANCED}",
    "patch_size": f"patch size {ADVANCED}",
    "batch_size": f"batch size {ADVANCED}",
    "learning_rate": f"learning rate {ADVANCED}",
    "fine_tune_learning_rate": f"fine-tuning rate {ADVANCED}",
    "steps_per_epoch": f"steps per epoch {ADVANCED}",
    "seed": f"seed {ADVANCED}",
    "depth": f"depth {ADVANCED}",
    "wf": f"width {ADVANCED}",
    "device": f"device {ADVANCED}",
    "class_names label value": "class names: label value",
    "class_names": "class names",
    "channel_names": "channels",
}

#: Core terms of training messages -> the Train widget's words, applied in this order (regular expressions).
TRAIN_TERMS: tuple[tuple[str, str], ...] = (
    (r" \(or pass --ignore-label-check to train anyway\)", f" (or tick '{TRAIN_ANYWAY}' to train as set)"),
    (r" \(--[a-z][a-z -]*\)", ""),  # the command line's flags
    (r"use task='instances' with sparse=True", f"choose task: instances and tick '{SPARSE}'"),
    (r"for scribbles use sparse=True", f"for scribbles tick '{SPARSE}'"),
    (r"use sparse=True", f"tick '{SPARSE}'"),
    (r"sparse=True", f"'{SPARSE}' ticked"),
    (r"sparse_objects='painted' if they are whole objects", "paint whole objects as filled shapes"),
    (r"sparse_background='inferred'", "background: none painted (infer)"),
    (r"sparse_background='painted'", "background: painted with 1"),
    (r"use task='instances'", "choose task: instances"),
    (r"task='(\w+)'", r"task: \1"),
    (r"for task '(\w+)', not '(\w+)'", r"for task: \1, not task: \2"),
    (r"set epochs or time_limit \(or both\)", "set a time limit or a number of epochs"),
    *((rf"\b{field}=", f"{control} ") for field, control in TRAIN_FIELDS.items()),
    *((rf"\b{field}\b(?! \(Advanced\))", control) for field, control in TRAIN_FIELDS.items()),
    *((rf"\b{words}\b(?! \(Advanced\))", f"{words} {ADVANCED}")
      for words in ("validation fraction", "patch size", "batch size", "learning rate")),
    (r"use pairs like \(\(2, 'nucleus'\),\)", "write e.g. 2: nucleus, 3: membrane"),
    (r"use a (\d)D model", r"pick model: \1D " + ADVANCED),
    (r"the model to continue from", "the current model"),
)

#: Core terms of prediction messages -> the Predict widget's controls.
PREDICT_TERMS: tuple[tuple[str, str], ...] = (
    (r"\btile_shape\b", "tile size"),
    (r"\bseed_threshold\b", "seed threshold"),
    (r"\bforeground_threshold\b", "foreground threshold"),
    (r"\bmin_size\b", "minimum size"),
    (r"\bsplit_depth\b", "split depth"),
    (r"or None for automatic", "or tick 'automatic tile size'"),
    (r"output=", "output: "),
    (r"pick an image with that many channels \(or split/merge channels first\)",
     "choose the axis that holds them under 'channels', or pick that many layers as channels"),
)

_INDEXED = re.compile(r"\b(image|labels) (\d+)\b")


@dataclass(frozen=True)
class Vocabulary:
    """What a widget calls things: its table of core terms and the layer names of the pairs it passed to the core.

    Attributes
    ----------
    terms : tuple of (pattern, replacement)
        Regular expressions applied in order.
    pairs : tuple of (str, str)
        ``(image layer name, labels layer name)`` per pair, in the order given to the core ("image 0" is the
        first pair's image layer).
    planes : bool
        True when a 2D model trains on stacks: the core then numbers annotated planes, not layers, in the
        messages about the validation split.

    """

    terms: tuple[tuple[str, str], ...] = ()
    pairs: tuple[tuple[str, str], ...] = ()
    planes: bool = False


TRAINING = Vocabulary(TRAIN_TERMS)
PREDICTION = Vocabulary(PREDICT_TERMS)


def training_vocabulary(pairs: Sequence[tuple[str, str]], planes: bool = False) -> Vocabulary:
    """The Train widget's vocabulary for one run on the layer pairs named ``pairs``."""
    return Vocabulary(TRAIN_TERMS, tuple((str(i), str(lab)) for i, lab in pairs), planes)


def _name_layers(message: str, words: Vocabulary) -> str:
    """Replace "image 0" / "labels 0" by the layer names of that pair."""
    if not words.pairs:
        return message
    per_plane = words.planes and "annotated pixel" in message

    def name(match: re.Match[str]) -> str:
        kind, index = match.group(1), int(match.group(2))
        if per_plane:
            only = f" of '{words.pairs[0][1]}'" if len(words.pairs) == 1 else ""
            return f"an annotated plane{only}"
        if index >= len(words.pairs):
            return match.group(0)
        image, labels = words.pairs[index]
        return f"image '{image}'" if kind == "image" else f"labels '{labels}'"

    indices = {int(m.group(2)) for m in _INDEXED.finditer(message)}
    message = _INDEXED.sub(name, message)
    if len(indices) == 1 and not per_plane and (index := indices.pop()) < len(words.pairs):
        message = message.replace("its labels have", f"its labels '{words.pairs[index][1]}' have")
    return message


def in_user_words(message: str, words: Vocabulary) -> str:
    """``message`` with the core's terms replaced by the names of the widget's controls and layers.

    Parameters
    ----------
    message : str
        A message of the core (Python API words).
    words : Vocabulary
        The widget's table of terms and the layer names of the pairs.

    Returns
    -------
    str
        The message a napari user understands; unknown terms are left as they are.

    """
    message = _name_layers(message, words)
    for pattern, replacement in words.terms:
        message = re.sub(pattern, replacement, message)
    return message


def is_out_of_memory(err: BaseException) -> bool:
    """True for CPU or GPU out-of-memory errors (also when wrapped by TrainingFailed)."""
    for e in (err, err.__cause__):
        if e is None:
            continue
        if isinstance(e, MemoryError) or type(e).__name__ == "OutOfMemoryError" or "out of memory" in str(e).lower():
            return True
    return False


def out_of_memory_hint(action: str) -> str:
    """What to lower when ``action`` ran out of memory."""
    if action.startswith("train"):
        return (f"out of memory: lower the batch size {ADVANCED} or the patch size {ADVANCED}; on a GPU you may "
                f"also pick the cpu device {ADVANCED}")
    return "out of memory: untick 'automatic tile size' and pick a smaller tile size, or pick the cpu device"


def explain(action: str, err: BaseException, words: Vocabulary | None = None) -> str:
    """A message for an error raised while doing ``action`` ("train", "predict", "load the model").

    Parameters
    ----------
    action : str
        What was being done, as a verb phrase (it may name the layers: "train on 'nuclei' with 'scribbles'").
    err : BaseException
        The error; ValueError and ModelFileError messages of the core already name the fix.
    words : Vocabulary, optional
        The widget's words for the core's terms (default: none translated).

    Returns
    -------
    str
        The full message, for the notification and the widget's status area.

    """
    words = words or Vocabulary()
    detail = in_user_words(str(err), words)
    if is_out_of_memory(err):
        message = f"Could not {action}: {out_of_memory_hint(action)} ({detail})"
        if isinstance(err, TrainingFailed):
            message += "; " + ("the best model so far was kept" if err.best_model is not None else "no model was kept")
    elif isinstance(err, TrainingFailed):
        kept = "the best model so far was kept" if err.best_model is not None else "no model was kept"
        message = f"Training failed ({detail}); {kept}"
    elif isinstance(err, (ValueError, ModelFileError)):
        message = f"Could not {action}: {detail}"
    else:
        message = (f"Could not {action}: unexpected {type(err).__name__}: {detail}. "
                   "The full traceback is in the log; please report it")
    return message


def report_error(action: str, err: BaseException, words: Vocabulary | None = None) -> str:
    """Log ``err`` (with its traceback when unexpected) and show it as a napari error notification.

    Returns
    -------
    str
        The message shown, for the widget's status area.

    """
    message = explain(action, err, words)
    expected = isinstance(err, (ValueError, ModelFileError)) and not isinstance(err, TrainingFailed)
    logger.error("%s [%s]", message, err, exc_info=None if expected else (type(err), err, err.__traceback__))
    notifications.show_error(message)
    return message


def report_info(message: str) -> None:
    """Log and show an information notification."""
    logger.info(message)
    notifications.show_info(message)
