"""Which axis of a layer holds channels, or which layers are the channels of one input (pure, no napari or Qt).

A layer may hold its channels on an axis (a Cell Painting TIFF opens as one ``(3, H, W)`` layer), as RGB colours
(the layer's ``rgb`` flag), or the channels may be separate single-channel layers (napari's ``channel_axis``
splits a multichannel file into one layer per channel). :class:`ChannelChoice` says which; the widgets propose
one from the layer (its RGB flag, an axis labelled "c" or "channel", a small leading axis of 2 to 4 entries) and,
for prediction, from what the model stored when it was trained (``metadata["channels"]["names"]``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

NONE, AXIS, RGB, LAYERS = "none", "axis", "rgb", "layers"
CHANNEL_LABELS = ("c", "ch", "channel", "channels")
TIME_LABELS = ("t", "time")
Z_LABELS = ("z", "depth", "plane", "planes")
#: Leading axes of this size are proposed as channels of a layer without other hints (3 colours, 2-4 stains).
SMALL_AXIS = range(2, 5)
RGB_NAMES = ("red", "green", "blue", "alpha")


@dataclass(frozen=True)
class ChannelChoice:
    """Where the channels of an input are.

    Attributes
    ----------
    mode : {"none", "axis", "rgb", "layers"}
        One channel; the channels on axis ``axis`` of the layer; the RGB(A) colours (last axis); or one
        single-channel layer per channel (``layers``, in order).
    axis : int or None
        The channel axis of the layer's data ("axis" mode).
    layers : tuple
        The layers that are the channels ("layers" mode), in order.

    """

    mode: str = NONE
    axis: int | None = None
    layers: tuple[Any, ...] = ()

    def describe(self) -> str:
        """What the choice says, in a few words ("one channel", "axis 0", "RGB", "layers a, b")."""
        if self.mode == AXIS:
            return f"channels on axis {self.axis}"
        if self.mode == RGB:
            return "RGB colours"
        if self.mode == LAYERS:
            return "channels " + ", ".join(f"'{getattr(layer, 'name', layer)}'" for layer in self.layers)
        return "one channel"


def axis_kind(label: Any) -> str | None:
    """"c", "t" or "z" for an axis label that names a channel, time or depth axis; None otherwise."""
    text = str(label).strip().lower()
    if text in CHANNEL_LABELS:
        return "c"
    if text in TIME_LABELS:
        return "t"
    if text in Z_LABELS:
        return "z"
    return None


def labelled_channel_axis(axis_labels: Sequence[Any] | None) -> int | None:
    """The axis labelled as channels ("c", "channel"...), or None."""
    kinds = [axis_kind(label) for label in (axis_labels or ())]
    return kinds.index("c") if "c" in kinds else None


def channel_axis_choices(shape: Sequence[int], rgb: bool) -> list[tuple[str, Any]]:
    """The choices of the "channels" control for a layer: none, each leading axis with its size, RGB, layers.

    Returns
    -------
    list of (text, value)
        Values: ``"none"``, an axis index, ``"rgb"``, ``"layers"``.

    """
    choices: list[tuple[str, Any]] = [("none (one channel)", NONE)]
    if rgb:
        choices.append((f"RGB colours ({int(shape[-1])})", RGB))
    else:
        choices += [(f"axis {k} (size {int(shape[k])})", k) for k in range(max(len(shape) - 2, 0))]
    choices.append(("several layers (pick below)", LAYERS))
    return choices


def propose_channels(shape: Sequence[int], rgb: bool, axis_labels: Sequence[Any] | None = None,
                     in_channels: int | None = None) -> ChannelChoice:
    """The channel choice a layer suggests, for training (``in_channels`` None) or for a model.

    Parameters
    ----------
    shape : sequence of int
        The layer's data shape.
    rgb : bool
        The layer's RGB flag.
    axis_labels : sequence of str, optional
        The layer's axis labels (an axis labelled "c" or "channel" holds channels).
    in_channels : int, optional
        The channels of the model that will read the layer: 1 proposes no channel axis; more proposes the axis
        of that size (labelled channels first, then the first leading axis of that size).

    """
    if rgb:
        return ChannelChoice(RGB)
    shape = tuple(int(s) for s in shape)
    labelled = labelled_channel_axis(axis_labels)
    if labelled is not None and labelled < len(shape) - 2 and in_channels in (None, shape[labelled]):
        return ChannelChoice(AXIS, labelled)
    if in_channels == 1:
        return ChannelChoice(NONE)
    leading = range(max(len(shape) - 2, 0))
    if in_channels is not None:
        fits = [k for k in leading if shape[k] == in_channels]
        return ChannelChoice(AXIS, fits[0]) if fits else ChannelChoice(NONE)
    if len(shape) >= 3 and shape[0] in SMALL_AXIS:
        return ChannelChoice(AXIS, 0)
    return ChannelChoice(NONE)


def channel_names(choice: ChannelChoice, shape: Sequence[int]) -> tuple[str, ...]:
    """Names stored in a model for its input channels: the layer names, the colours or ``channel k``."""
    if choice.mode == LAYERS:
        return tuple(str(getattr(layer, "name", layer)) for layer in choice.layers)
    if choice.mode == RGB:
        return RGB_NAMES[: int(shape[-1])]
    if choice.mode == AXIS and choice.axis is not None:
        return tuple(f"channel {k}" for k in range(int(shape[choice.axis])))
    return ()


def layers_named(names: Sequence[str], layers: Sequence[Any]) -> tuple[Any, ...] | None:
    """The layers called ``names``, in that order, or None unless every name is a layer (and they differ)."""
    by_name = {getattr(layer, "name", None): layer for layer in layers}
    found = tuple(by_name.get(name) for name in names)
    return found if len(names) > 1 and None not in found else None


def stacked_channels(arrays: Sequence[Any]) -> Any:
    """Single-channel arrays of one shape stacked on a new first (channel) axis (lazily for dask arrays).

    Raises
    ------
    ValueError
        If fewer than two arrays are given or their shapes differ.

    """
    if len(arrays) < 2:
        raise ValueError("pick at least two layers as channels (or choose 'channels: none')")
    shapes = {tuple(a.shape) for a in arrays}
    if len(shapes) > 1:
        raise ValueError(f"the channel layers have different shapes {sorted(shapes)}: pick layers of one size")
    if any(type(a).__module__.startswith("dask") for a in arrays):
        import dask.array as da

        return da.stack([da.asarray(a) for a in arrays])
    return np.stack([np.asarray(a) for a in arrays])


def channels_first(data: np.ndarray, choice: ChannelChoice) -> np.ndarray:
    """A layer's data with its channels first (the training images' layout); no channel axis: unchanged."""
    if choice.mode == AXIS and choice.axis is not None:
        return np.moveaxis(data, choice.axis, 0)
    if choice.mode == RGB:
        return np.moveaxis(data, -1, 0)
    return data
