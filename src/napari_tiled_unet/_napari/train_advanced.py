"""The Train widget's Advanced section: architecture and optimisation, defaults from :class:`TrainingConfig`.

For 3D models the pooling may follow the voxel size (nnU-Net's rule, :mod:`napari_tiled_unet.anisotropy`): a
stack whose Z step is several times its pixel size is pooled in Y and X first and convolved within planes at
the finest levels, so that objects a few planes tall keep their Z resolution.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from magicgui.widgets import CheckBox, ComboBox, Container, FloatSpinBox, Label, SpinBox

from napari_tiled_unet.anisotropy import config_for_voxel_size, plan_pooling
from napari_tiled_unet.config import UNetConfig
from napari_tiled_unet.training.config import DEFAULTS_3D, TrainingConfig

from .device_choices import available_devices
from .qt_parts import wrap_text
from .voxel_size import plan_in_words

DEFAULTS = TrainingConfig.defaults(2)
AUTO_POOLING, EVEN_POOLING = "auto", "even"


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
                                          tooltip="peak step size of the optimiser for a new model; lower it if "
                                          "the loss jumps")
        self.fine_tune_learning_rate = FloatSpinBox(
            label="fine-tuning rate", value=DEFAULTS.fine_tune_learning_rate, min=0.0001, max=1.0, step=0.0005,
            tooltip="peak step size when training starts from a model (a shipped one, Continue training): lower, "
            "so that a few annotations refine the model instead of pulling it away")
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
        self.pooling = ComboBox(label="3D pooling", choices=[("auto from voxel size", AUTO_POOLING),
                                                             ("every axis alike", EVEN_POOLING)],
                                value=AUTO_POOLING, enabled=False,
                                tooltip="3D models: 'auto' pools and convolves Z only once its voxel spacing is "
                                "comparable to Y and X (nnU-Net's rule, from the image layer's scale), so that flat "
                                "voxels keep their Z resolution; 'every axis alike' pools every axis by 2")
        self.pooling_plan = Label(value="", tooltip="the pooling per step and the kernels per level (Z×Y×X) the "
                                  "voxel size gives")
        self.extend([self.dims, self.depth, self.wf, self.padding, self.up_mode, self.batch_norm, self.pooling,
                     self.pooling_plan, self.patch_size, self.batch_size, self.learning_rate,
                     self.fine_tune_learning_rate, self.steps_per_epoch,
                     self.val_fraction, self.seed, self.device])
        wrap_text(self.pooling_plan)
        self.voxel_size: tuple[float, ...] | None = None
        self.dims.changed.connect(self._dims_changed)
        for widget in (self.dims, self.depth, self.pooling):
            widget.changed.connect(self._show_plan)
        self._show_plan()

    def _dims_changed(self, dims: int) -> None:
        """Switch depth, patch and batch size between the 2D and the 3D defaults unless the user changed them."""
        two_d = {"depth": DEFAULTS.unet.depth, "patch_size": DEFAULTS.patch_size, "batch_size": DEFAULTS.batch_size}
        old, new = (two_d, DEFAULTS_3D) if dims == 3 else (DEFAULTS_3D, two_d)
        for name, value in new.items():
            widget = getattr(self, name)
            if widget.value == old[name]:
                widget.value = value

    def set_voxel_size(self, voxel_size: Sequence[float] | None) -> None:
        """The voxel size of the image to train on (Z, Y, X in µm for 3D; None: unknown); the plan follows it."""
        self.voxel_size = None if voxel_size is None else tuple(float(v) for v in voxel_size)
        self._show_plan()

    def _planned(self) -> bool:
        return (int(self.dims.value) == 3 and self.pooling.value == AUTO_POOLING and self.voxel_size is not None
                and len(self.voxel_size) == 3)

    def _show_plan(self, *_: Any) -> None:
        three_d = int(self.dims.value) == 3
        self.pooling.enabled = three_d
        self.pooling_plan.visible = three_d
        if not three_d:
            return
        if self.pooling.value != AUTO_POOLING:
            self.pooling_plan.value = "every axis pooled by 2, kernels 3×3×3"
        elif self.voxel_size is None or len(self.voxel_size) != 3:
            self.pooling_plan.value = ("the image layer has no Z/Y/X scale: every axis pooled by 2 (set the layer's "
                                       "scale to its voxel size to plan the pooling)")
        else:
            plan = plan_pooling(self.voxel_size, int(self.depth.value))
            even = " (every axis alike: the voxels are about cubic)" if plan.isotropic else ""
            self.pooling_plan.value = plan_in_words(plan, self.voxel_size) + even

    def unet_config(self) -> UNetConfig:
        """The architecture (channels and classes come from the data; 3D pooling may follow the voxel size)."""
        config = UNetConfig(depth=int(self.depth.value), wf=int(self.wf.value), padding=self.padding.value,
                            batch_norm=bool(self.batch_norm.value), up_mode=self.up_mode.value,
                            dims=int(self.dims.value))
        if self._planned():
            config = config_for_voxel_size(config, self.voxel_size)  # type: ignore[arg-type]
        return config

    def config_changes(self) -> dict[str, Any]:
        """The :class:`TrainingConfig` fields set here."""
        return {
            "unet": self.unet_config(),
            "patch_size": int(self.patch_size.value),
            "batch_size": int(self.batch_size.value),
            "learning_rate": float(self.learning_rate.value),
            "fine_tune_learning_rate": float(self.fine_tune_learning_rate.value),
            "steps_per_epoch": int(self.steps_per_epoch.value),
            "val_fraction": float(self.val_fraction.value),
            "seed": int(self.seed.value),
            "device": str(self.device.value),
        }
