"""The fields of the Train widget: layer pickers and the Advanced settings, with their defaults from the core."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from magicgui.widgets import CheckBox, ComboBox, Container, FloatSpinBox, SpinBox

from napari_tiled_unet.config import UNetConfig
from napari_tiled_unet.training.config import TrainingConfig

DEFAULTS = TrainingConfig()
#: Depth and patch size that a 3D model starts from (a 2D model uses the TrainingConfig defaults).
DEFAULTS_3D = {"depth": 3, "patch_size": 92}


def available_devices() -> list[str]:
    """Devices offered in the widgets: ``auto``, ``cpu`` and the accelerators this machine has."""
    devices = ["auto", "cpu"]
    if torch.cuda.is_available():
        count = torch.cuda.device_count()
        devices += ["cuda"] + ([f"cuda:{i}" for i in range(count)] if count > 1 else [])
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append("mps")
    return devices


def layer_choices(viewer: Any, kind: str) -> Callable[[Any], list[tuple[str, Any]]]:
    """A magicgui ``choices`` callable listing the viewer's layers of one kind, top layer first.

    Parameters
    ----------
    viewer : napari.Viewer
        The viewer.
    kind : {"image", "labels"}
        The layer type.

    """
    from napari.layers import Image, Labels

    layer_type = Image if kind == "image" else Labels

    def choices(_widget: Any = None) -> list[tuple[str, Any]]:
        return [(layer.name, layer) for layer in reversed(viewer.layers) if isinstance(layer, layer_type)]

    return choices


def connect_layer_events(viewer: Any, callback: Callable[..., Any]) -> None:
    """Call ``callback(event)`` whenever layers are added, removed, moved or renamed.

    ``callback`` should be a bound method (napari keeps weak references to those); renames of layers added
    later are followed by :func:`follow_renames`, which the callback calls with its event.
    """
    for name in ("inserted", "removed", "moved", "reordered"):
        emitter = getattr(viewer.layers.events, name, None)
        if emitter is not None:
            emitter.connect(callback)
    for layer in viewer.layers:
        layer.events.name.connect(callback)


def follow_renames(event: Any, callback: Callable[..., Any]) -> None:
    """On a layer-inserted event, call ``callback`` when the new layer is renamed."""
    layer = getattr(event, "value", None)
    if getattr(event, "type", None) == "inserted" and hasattr(layer, "events"):
        layer.events.name.connect(callback)


class AdvancedSettings(Container):
    """Architecture and optimisation settings; the defaults are those of :class:`TrainingConfig`."""

    def __init__(self) -> None:
        super().__init__(labels=True)
        unet = DEFAULTS.unet
        self.dims = ComboBox(label="model", choices=[("2D (plane by plane on stacks)", 2), ("3D", 3)],
                             value=unet.dims, tooltip="3D models learn from and predict whole volumes")
        self.depth = SpinBox(label="depth", value=unet.depth, min=1, max=8,
                             tooltip="resolution levels: deeper sees more context but needs larger patches")
        self.wf = SpinBox(label="width (2^wf filters)", value=unet.wf, min=0, max=8,
                          tooltip="the first level has 2**wf filters, doubling at every level")
        self.padding = ComboBox(label="padding", choices=["valid", "same"], value=unet.padding,
                                tooltip="valid: exact seamless tiles (the paper); same: zero padding inside the net")
        self.up_mode = ComboBox(label="up mode", choices=["upconv", "upsample"], value=unet.up_mode)
        self.batch_norm = CheckBox(text="batch normalisation", value=unet.batch_norm)
        self.patch_size = SpinBox(label="patch size", value=DEFAULTS.patch_size, min=4, max=4096,
                                  tooltip="input patch edge, rounded down to a valid size")
        self.batch_size = SpinBox(label="batch size", value=DEFAULTS.batch_size, min=1, max=1024)
        self.learning_rate = FloatSpinBox(label="learning rate", value=DEFAULTS.learning_rate, min=0.0001,
                                          max=1.0, step=0.0005)
        self.steps_per_epoch = SpinBox(label="steps per epoch", value=DEFAULTS.steps_per_epoch, min=1,
                                       max=100000, tooltip="steps between two validations")
        self.val_fraction = FloatSpinBox(label="validation fraction", value=DEFAULTS.val_fraction, min=0.0,
                                         max=0.5, step=0.05, tooltip="share of the annotations held back; 0: none")
        self.seed = SpinBox(label="seed", value=DEFAULTS.seed, min=0, max=2**31 - 1)
        self.device = ComboBox(label="device", choices=available_devices(), value="auto")
        self.extend([self.dims, self.depth, self.wf, self.padding, self.up_mode, self.batch_norm, self.patch_size,
                     self.batch_size, self.learning_rate, self.steps_per_epoch, self.val_fraction, self.seed,
                     self.device])
        self.dims.changed.connect(self._dims_changed)

    def _dims_changed(self, dims: int) -> None:
        """Switch depth and patch between the 2D and the 3D defaults unless the user changed them."""
        two_d = {"depth": DEFAULTS.unet.depth, "patch_size": DEFAULTS.patch_size}
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
