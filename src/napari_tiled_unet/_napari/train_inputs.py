"""What the Train widget hands to training: image/labels pairs of layers as arrays, channel names, voxel size."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .channels import AXIS, LAYERS, RGB, ChannelChoice, channel_names, channels_first, stacked_channels
from .corrections_layer import labels_to_learn
from .jobs import snapshot
from .voxel_size import voxel_size_um


@dataclass(frozen=True)
class Pair:
    """One image/labels pair of layers and where the image's channels are.

    Attributes
    ----------
    image : napari.layers.Image
        The image layer (in "layers" mode the first channel layer: it places the labels).
    labels : napari.layers.Labels
        The labels painted for it.
    channels : ChannelChoice
        Where the image's channels are.

    """

    image: Any
    labels: Any
    channels: ChannelChoice = field(default_factory=ChannelChoice)

    def same_as(self, other: Pair) -> bool:
        """The same layers (identity) with the same channel choice."""
        return (self.image is other.image and self.labels is other.labels and self.channels.mode == other.channels.mode
                and self.channels.axis == other.channels.axis
                and len(self.channels.layers) == len(other.channels.layers)
                and all(a is b for a, b in zip(self.channels.layers, other.channels.layers)))


def _data(layer: Any) -> Any:
    return layer.data[0] if getattr(layer, "multiscale", False) else layer.data


def image_of(pair: Pair, copy: bool = True) -> np.ndarray:
    """The pair's image with its channels first (a private copy unless ``copy`` is False, for a quick look)."""
    read = snapshot if copy else (lambda layer: np.asarray(_data(layer)))
    if pair.channels.mode == LAYERS:
        return np.asarray(stacked_channels([read(layer) for layer in pair.channels.layers]))
    return np.asarray(channels_first(read(pair.image), pair.channels))


def spatial_axes(pair: Pair, dims: int) -> list[int]:
    """The data axes of the pair's image layer that are the model's spatial axes (slowest first)."""
    ndim = len(_data(pair.image).shape)
    axes = list(range(ndim))
    if pair.channels.mode == AXIS and pair.channels.axis is not None:
        axes.remove(pair.channels.axis)
    elif pair.channels.mode == RGB or getattr(pair.image, "rgb", False):
        axes.remove(ndim - 1)
    return axes[-dims:]


def voxel_size_of(pair: Pair, dims: int) -> tuple[float, ...] | None:
    """The pair's pixel (Y, X) or voxel (Z, Y, X) size in micrometres from its image layer's scale and units."""
    axes = spatial_axes(pair, dims)
    if len(axes) != dims:
        return None
    return voxel_size_um(list(pair.image.scale), list(getattr(pair.image, "units", None) or []), axes)


@dataclass(frozen=True)
class TrainingInputs:
    """Arrays and settings for :func:`~napari_tiled_unet.training.loop.train` from the pairs."""

    images: list[np.ndarray]
    labels: list[np.ndarray]
    channel_names: tuple[str, ...]
    voxel_size: tuple[float, ...] | None


def training_inputs(pairs: Sequence[Pair], dims: int, continuing: bool) -> TrainingInputs:
    """Private copies of every pair (channels first), with the channel names and voxel size of the first.

    ``continuing``: a corrections layer counts with its edited planes only (see :mod:`.corrections_layer`).

    Raises
    ------
    ValueError
        When channel layers differ in shape, or a corrected stack has no edited plane.

    """
    images = [image_of(pair) for pair in pairs]
    labels = [labels_to_learn(pair.labels, snapshot(pair.labels), continuing) for pair in pairs]
    first = pairs[0]
    names = channel_names(first.channels, _data(first.image).shape) if first.channels.mode != "none" else ()
    if names and len(names) != (images[0].shape[0] if images[0].ndim > labels[0].ndim else 1):
        names = ()
    return TrainingInputs(images, labels, names, voxel_size_of(first, dims))


def inputs_to_check(pairs: Sequence[Pair]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Labels and images of the pairs for the label check (views of the layers' data, not copies)."""
    labels = [np.asarray(_data(pair.labels)) for pair in pairs]
    images = [image_of(pair, copy=False) for pair in pairs]
    return labels, images
