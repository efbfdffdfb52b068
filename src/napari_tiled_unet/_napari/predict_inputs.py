"""What the Predict widget predicts: the input array (channel layers stacked), its axes, where the result goes.

Also the normalisers of whole layers, kept per layer data, so that predicting one plane of a stack (the quick
preview) normalises it with the statistics of the whole stack and equals that plane of a full prediction.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from napari_tiled_unet.axes import loop_letters
from napari_tiled_unet.model import UNet
from napari_tiled_unet.normalization import ImageNormalizer

from .channels import LAYERS, ChannelChoice, stacked_channels
from .layer_axes import axes_for_layer, kept_axes


def layer_data(layer: Any) -> Any:
    """A layer's full-resolution data."""
    return layer.data[0] if getattr(layer, "multiscale", False) else layer.data


@dataclass(frozen=True)
class PredictionInput:
    """One input of the Predict widget.

    Attributes
    ----------
    reference : napari layer
        The layer the result is placed over (the image layer, or the first channel layer).
    shape : tuple of int
        Shape of the input (channel layers stacked on a new first axis).
    axes : str
        Its axis letters.
    placement : tuple of int
        The reference layer's axes the result keeps (every axis but the channel axis).
    choice : ChannelChoice
        Where the channels are.

    """

    reference: Any
    shape: tuple[int, ...]
    axes: str
    placement: tuple[int, ...]
    choice: ChannelChoice

    def read(self) -> Any:
        """The input array (the layer's own data, or the channel layers stacked)."""
        if self.choice.mode == LAYERS:
            return stacked_channels([layer_data(layer) for layer in self.choice.layers])
        return layer_data(self.reference)

    def key(self) -> tuple[Any, ...]:
        """Identifies the data of the input (the layers' data objects) for the normaliser cache."""
        layers = self.choice.layers if self.choice.mode == LAYERS else (self.reference,)
        return (*(id(layer_data(layer)) for layer in layers), self.shape, self.axes)


def prediction_input(layer: Any, choice: ChannelChoice, net: UNet) -> PredictionInput:
    """The input for ``net`` from an image layer and the channel choice (ValueError when they do not fit)."""
    config = net.config
    if choice.mode == LAYERS:
        if len(choice.layers) < 2:
            raise ValueError("pick at least two channel layers under 'channel layers' (or choose 'channels: none')")
        reference = choice.layers[0]
        shapes = {tuple(layer_data(lay).shape) for lay in choice.layers}
        if len(shapes) > 1:
            raise ValueError(f"the channel layers have different shapes {sorted(shapes)}: pick layers of one size")
        shape = (len(choice.layers), *next(iter(shapes)))
        axes = axes_for_layer(shape, False, config.dims, config.in_channels, choice, reference.axis_labels)
        return PredictionInput(reference, shape, axes, tuple(range(len(shape) - 1)), choice)
    shape = tuple(int(s) for s in layer_data(layer).shape)
    axes = axes_for_layer(shape, bool(getattr(layer, "rgb", False)), config.dims, config.in_channels, choice,
                          layer.axis_labels)
    return PredictionInput(layer, shape, axes, tuple(kept_axes(axes)), choice)


def linking_in_words(axes: str, dims: int, output: str, threshold: float) -> str:
    """What linking did to the instances of a stack, e.g. "Z planes linked into 3D objects, cut at area valleys"."""
    loops = loop_letters(axes, dims)
    if output != "instances" or not loops:
        return ""
    if threshold <= 0:
        return "the objects of every plane are numbered on their own (linking across planes is off)"
    parts = []
    if "Z" in loops:
        parts.append("Z planes linked into 3D objects, cut at area valleys")
    if "T" in loops:
        parts.append("time points linked by overlap")
    if "Q" in loops:
        parts.append("planes linked by overlap")
    return f"{'; '.join(parts)} (overlap ≥ {threshold:g} of the smaller object)"


class NormalizerCache:
    """The whole-layer normalisers of the last few layers and models (the statistics of a stack take a moment).

    Each is kept with the flattening decided for the whole layer ("on" or "off"), which its planes follow.
    """

    def __init__(self, size: int = 4) -> None:
        self._entries: OrderedDict[tuple[Any, ...], tuple[ImageNormalizer, str]] = OrderedDict()
        self._size = size

    @staticmethod
    def key(source: PredictionInput, net: UNet) -> tuple[Any, ...]:
        """The cache key: the input's data and the model's normalisation rule."""
        rule = json.dumps(net.metadata.get("normalization"), sort_keys=True)
        return (*source.key(), rule, net.config.dims, net.config.in_channels)

    def get(self, key: tuple[Any, ...]) -> tuple[ImageNormalizer, str] | None:
        """The normaliser for ``key`` and its flattening ("on" or "off"), or None."""
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
        return found

    def put(self, key: tuple[Any, ...], normalizer: ImageNormalizer | None, flatten: str = "off") -> None:
        """Keep ``normalizer`` and its flattening (the oldest entry goes when full)."""
        if normalizer is None:
            return
        self._entries[key] = (normalizer, flatten)
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
