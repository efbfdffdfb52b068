"""The fields of the Train widget: what to learn from, how long, and the Advanced settings (defaults from the core)."""

from __future__ import annotations

import re
from typing import Any

from magicgui.widgets import CheckBox, ComboBox, Container, FloatSpinBox, Label, LineEdit, PushButton, SpinBox

from napari_tiled_unet.config import UNetConfig
from napari_tiled_unet.training.config import DEFAULTS_3D, TrainingConfig

from .device_choices import available_devices
from .layer_choices import layer_choices

DEFAULTS = TrainingConfig.defaults(2)
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
    """What to learn from: the image and labels layers, the task, scribbles, class names, extra pairs, duration."""

    def __init__(self, viewer: Any) -> None:
        super().__init__(labels=True)
        self.image_layer = ComboBox(label="image", choices=layer_choices(viewer, "image"),
                                    tooltip="the image layer to learn from")
        self.labels_layer = ComboBox(label="labels", choices=layer_choices(viewer, "labels"),
                                     tooltip="the Labels layer you painted: dense labels, instance ids, or sparse "
                                     "scribbles; same pixels as the image")
        self.task = ComboBox(label="task", choices=["semantic", "instances"], value=DEFAULTS.task,
                             tooltip="semantic: label values are classes (background, nucleus, ...); instances: "
                             "every object has its own id, and touching objects are predicted apart")
        self.sparse = CheckBox(text="labels are sparse scribbles", value=DEFAULTS.sparse,
                               tooltip="0 = not annotated (ignored), 1 = background, 2, 3... = classes; untick for "
                               "dense labels where 0 is background")
        self.class_names = LineEdit(label="class names", value="",
                                    tooltip="optional: names of your label values, e.g. '2: nucleus, 3: membrane'; "
                                    "they are stored in the model and shown wherever its classes are listed")
        self.class_names.native.setPlaceholderText("optional, e.g. 2: nucleus, 3: membrane")
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
        self.pairs: list[tuple[Any, Any]] = []
        self.extend([self.image_layer, self.labels_layer, self.task, self.sparse, self.class_names, self.time_limit,
                     self.epochs])
        self.pairs_label.visible = False
        self.task.changed.connect(self._task_changed)

    def _task_changed(self, task: str) -> None:
        if task == "instances":
            self.sparse.value = False
        self.sparse.enabled = task == "semantic"
        self.class_names.enabled = task == "semantic"

    def add_pair(self) -> None:
        """Add the selected image and labels layers to the training pairs (ValueError if one is missing)."""
        pair = (self.image_layer.value, self.labels_layer.value)
        if None in pair:
            raise ValueError("pick an image layer and a labels layer first")
        if not any(pair[0] is i and pair[1] is lab for i, lab in self.pairs):
            self.pairs.append(pair)
        self._show_pairs()

    def clear_pairs(self) -> None:
        """Forget the added pairs."""
        self.pairs = []
        self._show_pairs()

    def keep_pairs_of(self, layers: Any) -> None:
        """Forget the pairs whose layers are no longer in ``layers``."""
        present = {id(layer) for layer in layers}
        self.pairs = [(i, lab) for i, lab in self.pairs if id(i) in present and id(lab) in present]
        self._show_pairs()

    def training_pairs(self) -> list[tuple[Any, Any]]:
        """The added pairs plus the selected one (each pair once)."""
        pairs = list(self.pairs)
        current = (self.image_layer.value, self.labels_layer.value)
        if None not in current and not any(current[0] is i and current[1] is lab for i, lab in pairs):
            pairs.append(current)
        return pairs

    def _show_pairs(self) -> None:
        self.pairs_label.value = "pairs: " + "; ".join(f"{i.name} + {lab.name}" for i, lab in self.pairs)
        self.pairs_label.visible = bool(self.pairs)

    def config_changes(self) -> dict[str, Any]:
        """The :class:`TrainingConfig` fields set here (ValueError, naming the field, if one is not usable)."""
        time_limit = float(self.time_limit.value) or None
        epochs = int(self.epochs.value) or None
        if time_limit is None and epochs is None:
            raise ValueError("set a time limit or a number of epochs: training needs a way to stop")
        semantic = self.task.value == "semantic"
        return {"task": self.task.value, "sparse": bool(self.sparse.value) and semantic, "epochs": epochs,
                "time_limit": time_limit,
                "class_names": parse_class_names(self.class_names.value) if semantic else ()}


class AdvancedSettings(Container):
    """Architecture and optimisation settings; the defaults are those of :class:`TrainingConfig`."""

    def __init__(self) -> None:
        super().__init__(labels=True)
        unet = DEFAULTS.unet
        self.dims = ComboBox(label="model", choices=[("2D (plane by plane on stacks)", 2), ("3D", 3)],
                             value=unet.dims, tooltip="2D models learn from planes and predict stacks plane by "
                             "plane; 3D models learn from and predict whole volumes")
        self.depth = SpinBox(label="depth", value=unet.depth, min=1, max=8,
                             tooltip="resolution levels: deeper sees more context but needs larger patches")
        self.wf = SpinBox(label="width (2^wf filters)", value=unet.wf, min=0, max=8,
                          tooltip="the first level has 2**wf filters, doubling at every level; wider learns more "
                          "but is slower")
        self.padding = ComboBox(label="padding", choices=["valid", "same"], value=unet.padding,
                                tooltip="valid: exact seamless tiles (the paper); same: zero padding inside the net")
        self.up_mode = ComboBox(label="up mode", choices=["upconv", "upsample"], value=unet.up_mode,
                                tooltip="upconv: learned 2x2 up-convolution (the paper); upsample: bilinear")
        self.batch_norm = CheckBox(text="batch normalisation", value=unet.batch_norm,
                                   tooltip="normalise every convolution's output: trains faster and more stably")
        self.patch_size = SpinBox(label="patch size", value=DEFAULTS.patch_size, min=4, max=4096,
                                  tooltip="edge of the image patches trained on, rounded down to a valid size; "
                                  "lower it when memory runs out")
        self.batch_size = SpinBox(label="batch size", value=DEFAULTS.batch_size, min=1, max=1024,
                                  tooltip="patches per training step; lower it when memory runs out")
        self.learning_rate = FloatSpinBox(label="learning rate", value=DEFAULTS.learning_rate, min=0.0001,
                                          max=1.0, step=0.0005,
                                          tooltip="peak step size of the optimiser; lower it if the loss jumps")
        self.steps_per_epoch = SpinBox(label="steps per epoch", value=DEFAULTS.steps_per_epoch, min=1,
                                       max=100000, tooltip="training steps between two checks on the held-out "
                                       "annotations")
        self.val_fraction = FloatSpinBox(label="validation fraction", value=DEFAULTS.val_fraction, min=0.0,
                                         max=0.5, step=0.05,
                                         tooltip="share of every image's annotations held out to score the model "
                                         "and pick the best one; 0: none")
        self.seed = SpinBox(label="seed", value=DEFAULTS.seed, min=0, max=2**31 - 1,
                            tooltip="random seed: the same seed and settings give the same model on the CPU")
        self.device = ComboBox(label="device", choices=available_devices(), value="auto",
                               tooltip="auto: a CUDA or Apple GPU when there is one, else the CPU")
        self.extend([self.dims, self.depth, self.wf, self.padding, self.up_mode, self.batch_norm, self.patch_size,
                     self.batch_size, self.learning_rate, self.steps_per_epoch, self.val_fraction, self.seed,
                     self.device])
        self.dims.changed.connect(self._dims_changed)

    def _dims_changed(self, dims: int) -> None:
        """Switch depth, patch and batch size between the 2D and the 3D defaults unless the user changed them."""
        two_d = {"depth": DEFAULTS.unet.depth, "patch_size": DEFAULTS.patch_size, "batch_size": DEFAULTS.batch_size}
        old, new = (two_d, DEFAULTS_3D) if dims == 3 else (DEFAULTS_3D, two_d)
        for name, value in new.items():
            widget = getattr(self, name)
            if widget.value == old[name]:
                widget.value = value

    def unet_config(self) -> UNetConfig:
        """The architecture (channels and classes are set from the data by training)."""
        return UNetConfig(depth=int(self.depth.value), wf=int(self.wf.value), padding=self.padding.value,
                          batch_norm=bool(self.batch_norm.value), up_mode=self.up_mode.value,
                          dims=int(self.dims.value))

    def config_changes(self) -> dict[str, Any]:
        """The :class:`TrainingConfig` fields set here."""
        return {
            "unet": self.unet_config(),
            "patch_size": int(self.patch_size.value),
            "batch_size": int(self.batch_size.value),
            "learning_rate": float(self.learning_rate.value),
            "steps_per_epoch": int(self.steps_per_epoch.value),
            "val_fraction": float(self.val_fraction.value),
            "seed": int(self.seed.value),
            "device": str(self.device.value),
        }
