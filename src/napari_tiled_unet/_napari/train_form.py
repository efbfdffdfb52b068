"""The Train widget's data fields: what to learn from, how to read the labels, what to start from, for how long."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from magicgui.widgets import CheckBox, ComboBox, Container, FloatSpinBox, Label, LineEdit, PushButton, SpinBox

from napari_tiled_unet.training.config import TrainingConfig

from .builtin_choices import shipped
from .channel_picker import ChannelPicker
from .channels import LAYERS
from .label_check import LabelCheck
from .layer_choices import layer_choices
from .messages import SPARSE
from .train_inputs import Pair

DEFAULTS = TrainingConfig.defaults(2)
NEW_MODEL = ""
BACKGROUNDS = [("auto (from the labels)", "auto"), ("painted with 1", "painted"), ("none painted (infer)", "inferred")]
_CLASS_NAME = re.compile(r"^\s*(\d+)\s*[:=]\s*(.+?)\s*$")


def parse_class_names(text: str) -> tuple[tuple[int, str], ...]:
    """The "class names" field as ``((2, "nucleus"), (3, "membrane"))``; the core checks the names themselves.

    Parameters
    ----------
    text : str
        ``"2: nucleus, 3: membrane"`` (``;`` also separates, ``=`` also assigns); empty: no names.

    Raises
    ------
    ValueError
        If a part is not ``value: name``; the message names the field and shows an example.

    """
    pairs = []
    for part in re.split(r"[,;\n]", text):
        if not part.strip():
            continue
        match = _CLASS_NAME.match(part)
        if match is None:
            raise ValueError(f"class names: {part.strip()!r} is not 'label value: name'; write e.g. "
                             "2: nucleus, 3: membrane (the label values you painted)")
        pairs.append((int(match.group(1)), match.group(2)))
    return tuple(pairs)


class DataFields(Container):
    """What to learn from: image (and its channels) and labels layers, how to read the labels, where to start, how long.

    The task and the sparse box follow what the label check suggests (:class:`~.label_check.LabelCheck`) until
    the user sets one of them by hand.
    """

    def __init__(self, viewer: Any) -> None:
        super().__init__(labels=True)
        self.image_layer = ComboBox(label="image", choices=layer_choices(viewer, "image"),
                                    tooltip="the image layer to learn from")
        self.channels = ChannelPicker(viewer, "train")
        self.labels_layer = ComboBox(label="labels", choices=layer_choices(viewer, "labels"),
                                     tooltip="the Labels layer you painted: dense labels, instance ids, scribbles, or "
                                     "a few objects painted completely; same pixels as the image")
        self.check = LabelCheck(self._suggested)
        self.check.label = "check"
        self.task = ComboBox(label="task", choices=["semantic", "instances"], value=DEFAULTS.task,
                             tooltip="semantic: label values are classes (background, nucleus, ...); instances: "
                             "every object has its own id, and touching objects are predicted apart")
        self.sparse = CheckBox(text=SPARSE, value=DEFAULTS.sparse,
                               tooltip="0 = not annotated (ignored), 1 = background; semantic: 2, 3... = classes "
                               "(scribbles); instances: 2, 3... = objects, each painted completely with its own id "
                               "(napari's new-label button gives the ids). Untick for dense labels where 0 is "
                               "background")
        self.background = ComboBox(label="background", choices=BACKGROUNDS, value=DEFAULTS.sparse_background,
                                   enabled=False,
                                   tooltip="sparse instances: 'painted with 1' reads 1 as background you painted; "
                                   "'none painted (infer)' reads every value as an object and takes clear background "
                                   "far from them; 'auto' decides from the labels")
        self.class_names = LineEdit(label="class names", value="",
                                    tooltip="optional: names of your label values, e.g. '2: nucleus, 3: membrane'; "
                                    "they are stored in the model and shown wherever its classes are listed")
        self.class_names.native.setPlaceholderText("optional, e.g. 2: nucleus, 3: membrane")
        builtins = shipped()
        self.start_from = ComboBox(label="start from", choices=[("a new model", NEW_MODEL)]
                                   + [(m.spec, m.spec) for m in builtins], value=NEW_MODEL,
                                   tooltip="a new model, or a model shipped with the plugin to fine-tune on your "
                                   "labels (its architecture is kept):\n"
                                   + "\n".join(f"{m.spec}: {m.summary}" for m in builtins))
        #: True when built-in models are shipped ("start from" is shown only then).
        self.has_builtins = bool(builtins)
        self.start_from.visible = self.has_builtins
        self.time_limit = FloatSpinBox(label="time limit (s)", value=DEFAULTS.time_limit or 0.0, min=0.0,
                                       max=30 * 24 * 3600.0, step=10.0,
                                       tooltip="seconds of training, validation included; 0: no time limit (then "
                                       "set epochs)")
        self.epochs = SpinBox(label="epochs", value=DEFAULTS.epochs or 0, min=0, max=1_000_000,
                              tooltip="rounds of 'steps per epoch' steps, each followed by a check on the held-out "
                              "annotations; 0: train until the time limit")
        self.add_pair_button = PushButton(text="Add pair",
                                          tooltip="keep this image/labels pair and pick another one: training uses "
                                          "all added pairs plus the selected one")
        self.clear_pairs_button = PushButton(text="Clear pairs", tooltip="train on the selected pair only")
        self.pairs_label = Label(value="", tooltip="the image/labels pairs training uses besides the selected one")
        self.pairs: list[Pair] = []
        self.extend([self.image_layer, *self.channels.widgets, self.labels_layer, self.check, self.task, self.sparse,
                     self.background, self.class_names, self.start_from, self.time_limit, self.epochs])
        self.pairs_label.visible = False
        self.settings_by_hand = False
        self.start_by_hand = False
        self._programmatic = 0
        self.task.changed.connect(self._settings_changed)
        self.sparse.changed.connect(self._settings_changed)
        self.start_from.changed.connect(self._start_changed)
        #: Called after the task, the sparse box or the background changed (the widget checks the labels again).
        self.on_settings_changed: Any = None
        self._enable()

    # ------------------------------------------------------------------ settings set by the widget or by hand
    @contextmanager
    def programmatic(self) -> Iterator[None]:
        """Changes made inside this block are the widget's own (not the user's hand)."""
        self._programmatic += 1
        try:
            yield
        finally:
            self._programmatic -= 1

    def _settings_changed(self, *_: Any) -> None:
        self._enable()
        if not self._programmatic:
            self.settings_by_hand = True
            if self.on_settings_changed is not None:
                self.on_settings_changed()

    def _start_changed(self, *_: Any) -> None:
        if not self._programmatic:
            self.start_by_hand = True  # the labels are checked again: scribbles suggest instances only from a model
            if self.on_settings_changed is not None:
                self.on_settings_changed()

    def _enable(self) -> None:
        semantic = self.task.value == "semantic"
        self.background.enabled = not semantic and bool(self.sparse.value)
        self.class_names.enabled = semantic

    def apply_settings(self, task: str, sparse: bool, background: str | None = None) -> bool:
        """Set the task, the sparse box (and the background) as the widget's own change; True if one changed."""
        before = (self.task.value, bool(self.sparse.value), self.background.value)
        with self.programmatic():
            self.task.value = task
            self.sparse.value = bool(sparse)
            if background is not None:
                self.background.value = background
        self._enable()
        return before != (self.task.value, bool(self.sparse.value), self.background.value)

    def _suggested(self, task: str, sparse: bool, chosen: bool) -> None:
        """The label check's suggestion: taken when the user pressed the button or has not set them by hand."""
        if chosen:
            self.settings_by_hand = False
        if self.settings_by_hand:
            return
        if self.apply_settings(task, sparse) and chosen and self.on_settings_changed is not None:
            self.on_settings_changed()

    # ------------------------------------------------------------------ pairs
    def current_pair(self) -> Pair | None:
        """The selected image (or channel layers) and labels, or None when one is missing."""
        choice = self.channels.value()
        image = choice.layers[0] if choice.mode == LAYERS and choice.layers else self.image_layer.value
        labels = self.labels_layer.value
        if image is None or labels is None:
            return None
        return Pair(image, labels, choice)

    def add_pair(self) -> None:
        """Add the selected image and labels layers to the training pairs (ValueError if one is missing)."""
        pair = self.current_pair()
        if pair is None:
            raise ValueError("pick an image layer and a labels layer first")
        if not any(pair.same_as(p) for p in self.pairs):
            self.pairs.append(pair)
        self._show_pairs()

    def clear_pairs(self) -> None:
        """Forget the added pairs."""
        self.pairs = []
        self._show_pairs()

    def keep_pairs_of(self, layers: Any) -> None:
        """Forget the pairs whose layers are no longer in ``layers``."""
        present = {id(layer) for layer in layers}

        def alive(pair: Pair) -> bool:
            return {id(pair.image), id(pair.labels), *map(id, pair.channels.layers)} <= present

        self.pairs = [pair for pair in self.pairs if alive(pair)]
        self._show_pairs()

    def training_pairs(self) -> list[Pair]:
        """The added pairs plus the selected one (each pair once)."""
        pairs = list(self.pairs)
        current = self.current_pair()
        if current is not None and not any(current.same_as(p) for p in pairs):
            pairs.append(current)
        return pairs

    def _show_pairs(self) -> None:
        self.pairs_label.value = "pairs: " + "; ".join(f"{p.image.name} + {p.labels.name}" for p in self.pairs)
        self.pairs_label.visible = bool(self.pairs)

    def config_changes(self) -> dict[str, Any]:
        """The :class:`TrainingConfig` fields set here (ValueError, naming the field, if one is not usable)."""
        time_limit = float(self.time_limit.value) or None
        epochs = int(self.epochs.value) or None
        if time_limit is None and epochs is None:
            raise ValueError("set a time limit or a number of epochs: training needs a way to stop")
        semantic = self.task.value == "semantic"
        sparse = bool(self.sparse.value)
        return {"task": self.task.value, "sparse": sparse, "epochs": epochs, "time_limit": time_limit,
                "sparse_background": self.background.value if sparse and not semantic else "auto",
                "class_names": parse_class_names(self.class_names.value) if semantic else ()}
