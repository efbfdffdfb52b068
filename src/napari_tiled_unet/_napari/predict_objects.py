"""The Predict widget's "Objects" section: how an instance model's outputs become objects, with a quick preview.

The seed threshold, the foreground threshold, the minimum size and the split depth start at the values stored
in the model (tuned after training) (:func:`napari_tiled_unet.instance_output.instance_settings_of`); "Preview on this
plane" predicts only the plane in view with the values set here, so that they can be tried quickly.
"""

from __future__ import annotations

from typing import Any

from magicgui.widgets import Container, FloatSpinBox, Label, PushButton, SpinBox

from napari_tiled_unet.instance_output import LINKED_PLANES_KEY, instance_settings_of, is_instance_model
from napari_tiled_unet.model import UNet
from napari_tiled_unet.postprocess import InstanceSettings

from .qt_parts import wrap_text


class ObjectSettings(Container):
    """Seed threshold, foreground threshold, minimum object size and split depth of an instance model."""

    def __init__(self) -> None:
        super().__init__(labels=True)
        defaults = InstanceSettings.defaults(2)
        self.seed_threshold = FloatSpinBox(label="seed threshold", value=defaults.seed_threshold, min=0.0, max=1.0,
                                           step=0.05, tooltip="objects grow from seeds where the model's centre "
                                           "score is above this: higher splits touching objects more, lower finds "
                                           "more faint ones")
        self.foreground_threshold = FloatSpinBox(label="foreground threshold", value=defaults.foreground_threshold,
                                                 min=0.0, max=1.0, step=0.05,
                                                 tooltip="objects cover the pixels whose object probability is above "
                                                 "this: higher makes objects smaller")
        self.min_size = SpinBox(label="minimum size (px)", value=defaults.min_size, min=0, max=10**8,
                                tooltip="smaller objects are removed (pixels in 2D, voxels in 3D)")
        self.split_depth = FloatSpinBox(label="split depth", value=defaults.split_depth, min=0.0, max=1.0,
                                        step=0.05, tooltip="an object with two centres is cut in two where the "
                                        "centre score dips this much between them: lower splits touching nuclei "
                                        "more, 0 never cuts")
        self.reset_button = PushButton(text="Model's values",
                                       tooltip="the values stored in the model (tuned on the held-out annotations "
                                       "after training)")
        self.preview_button = PushButton(text="Preview on this plane",
                                         tooltip="predict only the plane shown (the whole image if it is 2D) with "
                                         "these values, into the instances layer")
        self.info = Label(value="", tooltip="where the values come from")
        buttons = Container(widgets=[self.reset_button, self.preview_button], layout="horizontal", labels=False)
        buttons.margins = (0, 0, 0, 0)
        self.extend([self.seed_threshold, self.foreground_threshold, self.min_size, self.split_depth, buttons,
                     self.info])
        wrap_text(self.info)
        self._net: UNet | None = None
        self._model_values: InstanceSettings | None = None
        self.reset_button.changed.connect(self.reset)

    def show_model(self, net: UNet | None) -> bool:
        """Take the values of ``net``; False (and disabled) when it is not an instance model."""
        self._net = net if net is not None and is_instance_model(net) else None
        for widget in (self.seed_threshold, self.foreground_threshold, self.min_size, self.split_depth,
                       self.reset_button, self.preview_button):
            widget.enabled = self._net is not None
        if self._net is None:
            self.info.value = "only instance models have these settings"
            return False
        self.reset()
        return True

    @property
    def applies(self) -> bool:
        """True while the model shown is an instance model (these settings apply to it)."""
        return self._net is not None

    def reset(self, *_: Any) -> None:
        """The values stored in the model (tuned after training), or the defaults of a model without them."""
        if self._net is None:
            return
        settings = instance_settings_of(self._net)
        self.seed_threshold.value = settings.seed_threshold
        self.foreground_threshold.value = settings.foreground_threshold
        self.min_size.value = settings.min_size
        self.split_depth.value = settings.split_depth
        self._model_values = settings
        tuned = bool(self._net.metadata.get("postprocess"))
        self.info.value = ("thresholds and size tuned on the held-out annotations after training; split depth: "
                           "the model's" if tuned else "defaults (this model stores no tuned values)")
        if self._net.metadata.get(LINKED_PLANES_KEY):
            linked = instance_settings_of(self._net, linked_planes=True)
            self.info.value += (f". Left as they are, Z stacks linked plane by plane use the values tuned for "
                                f"them: {linked.seed_threshold:g}, {linked.foreground_threshold:g}, "
                                f"{linked.min_size} px, split depth {linked.split_depth:g}")

    def settings(self) -> InstanceSettings | None:
        """The values set here; None for a model that is not an instance model or while they are the model's.

        None lets the prediction take the model's settings for the image: those it stores for Z planes that
        are linked into 3D objects where it has them.
        """
        if self._net is None:
            return None
        chosen = InstanceSettings(seed_threshold=float(self.seed_threshold.value),
                                  foreground_threshold=float(self.foreground_threshold.value),
                                  min_size=int(self.min_size.value), split_depth=float(self.split_depth.value))
        return None if chosen == self._model_values else chosen
