"""The "channels" control of both widgets: no channel axis, an axis of the layer, RGB, or several layers."""

from __future__ import annotations

from typing import Any

from magicgui.widgets import ComboBox, Select

from .channels import AXIS, LAYERS, NONE, RGB, ChannelChoice, channel_axis_choices
from .layer_choices import layer_choices

LIST_HEIGHT = 84


def _data_shape(layer: Any) -> tuple[int, ...]:
    data = layer.data[0] if getattr(layer, "multiscale", False) else layer.data
    return tuple(int(s) for s in data.shape)


class ChannelPicker:
    """Where the channels of the input are; the picked layers keep the order in which they were ticked.

    Not a widget itself: its two controls (:attr:`widgets`) go into the form of the widget that uses it.

    Parameters
    ----------
    viewer : napari.Viewer
        The viewer whose image layers may be picked as channels.
    purpose : str
        "train" or "predict" (the tooltips say what the choice does).

    """

    def __init__(self, viewer: Any, purpose: str) -> None:
        stored = ("the model stores the choice, and predicting proposes the same channels again" if purpose == "train"
                  else "proposed from what the model was trained on")
        self._choices: list[tuple[str, Any]] = [("none (one channel)", NONE)]
        # a callable, so that napari's reset_choices (on every layer change) keeps the current layer's choices
        self.mode = ComboBox(label="channels", choices=lambda _widget=None: self._choices, value=NONE,
                             tooltip="which axis of the image layer holds its channels (e.g. axis 0 of a (3, H, W) "
                             "stain TIFF), its RGB colours, or several single-channel layers as the channels of one "
                             f"input; {stored}")
        self.layers = Select(label="channel layers", choices=layer_choices(viewer, "image"),
                             tooltip="the single-channel layers that are the channels, in the order you tick them "
                             "(Ctrl-click adds a layer); the result is placed over the first")
        self.layers.native.setMaximumHeight(LIST_HEIGHT)
        self.layers.visible = False
        #: The two controls, for a form: the "channels" list and the "channel layers" list.
        self.widgets = [self.mode, self.layers]
        self.order: list[Any] = []
        self.set_by_hand = False
        self._setting = False
        self.mode.changed.connect(self._mode_changed)
        self.layers.changed.connect(self._layers_changed)

    # ------------------------------------------------------------------ the value
    def value(self) -> ChannelChoice:
        """The current choice."""
        mode = self.mode.value
        if mode == LAYERS:
            return ChannelChoice(LAYERS, layers=tuple(self.order))
        if mode == RGB:
            return ChannelChoice(RGB)
        if isinstance(mode, int):
            return ChannelChoice(AXIS, mode)
        return ChannelChoice(NONE)

    def set_value(self, choice: ChannelChoice, by_hand: bool = False) -> None:
        """Show ``choice`` (one the layer offers; else nothing changes)."""
        wanted = {AXIS: choice.axis, RGB: RGB, LAYERS: LAYERS}.get(choice.mode, NONE)
        if not any(wanted == value and type(wanted) is type(value) for value in self.mode.choices):
            return
        self._setting = not by_hand
        try:
            if choice.mode == LAYERS:
                self.order = list(choice.layers)
                self.layers.value = list(choice.layers)
            self.mode.value = wanted
        finally:
            self._setting = False
        self.layers.visible = self.mode.value == LAYERS

    def for_layer(self, layer: Any, proposal: ChannelChoice | None) -> None:
        """Offer the choices of ``layer`` (its axes, or RGB) and show ``proposal`` unless the user chose by hand."""
        current = self.value()
        choices = channel_axis_choices(_data_shape(layer), bool(getattr(layer, "rgb", False))) if layer is not None \
            else [("none (one channel)", NONE), ("several layers (pick below)", LAYERS)]
        self._setting = True
        try:
            self._choices = choices
            self.mode.reset_choices()
        finally:
            self._setting = False
        keep = self.set_by_hand and current.mode != NONE
        self.set_value(current if keep or proposal is None else proposal)
        self.layers.visible = self.mode.value == LAYERS

    def reset_choices(self, *_: Any) -> None:
        """Follow the viewer's image layers (the picked ones that are gone are dropped)."""
        self.layers.reset_choices()
        present = list(self.layers.choices)
        self.order = [layer for layer in self.order if any(layer is p for p in present)]

    # ------------------------------------------------------------------ events
    def _mode_changed(self, _value: Any = None) -> None:
        self.layers.visible = self.mode.value == LAYERS
        if not self._setting:
            self.set_by_hand = True

    def _layers_changed(self, value: Any = None) -> None:
        picked = list(self.layers.value)
        self.order = [layer for layer in self.order if any(layer is p for p in picked)]
        self.order += [layer for layer in picked if not any(layer is o for o in self.order)]
