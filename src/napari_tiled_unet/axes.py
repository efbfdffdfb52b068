"""Axis letters of images: guessing them for bare arrays, checking them, and arranging an image into planes.

Letters: ``Y X`` (and ``Z``) are spatial, ``C`` is a channel axis and ``S`` the colour samples of RGB(A)
images, ``T`` is time and ``Q`` an unknown axis. A model's spatial axes are the last 2 (or 3) non-channel
axes; every other non-channel axis (time, or Z for a 2D model) is a *loop* axis, predicted plane by plane.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

CHANNEL_LETTERS = "CS"


def _leading_axes(count: int, dims: int) -> str:
    """Names for axes before the channel and spatial ones: a 2D model's stack is Z (then T), a 3D model's is T."""
    if count == 0:
        return ""
    names = "TZ" if dims == 2 else "T"
    if count <= len(names):
        return names[-count:]
    return "Q" * (count - len(names)) + names


def default_axes(shape: Sequence[int], dims: int, in_channels: int) -> str:
    """Guess axis letters for a bare array: trailing spatial axes, and a channel axis where one matches.

    A last axis of 3 or 4 matching the model's channels is RGB(A) (``'S'``); otherwise the axis just before
    the spatial ones is the channel axis when its size matches a multi-channel model.
    """
    spatial = "ZYX"[-dims:]
    extra = len(shape) - dims
    if extra < 0:
        raise ValueError(f"image of shape {tuple(shape)} has fewer axes than a {dims}D model needs")
    if in_channels > 1 and extra >= 1:
        if shape[-1] == in_channels and in_channels in (3, 4):
            return _leading_axes(extra - 1, dims) + spatial + "S"
        if shape[-dims - 1] == in_channels:
            return _leading_axes(extra - 1, dims) + "C" + spatial
    return _leading_axes(extra, dims) + spatial


def axes_with_channel(shape: Sequence[int], dims: int, channel_axis: int | None) -> str:
    """Axis letters for an array whose channel axis is known (``None``: no channel axis)."""
    ndim = len(shape)
    if channel_axis is None:
        return default_axes(shape, dims, 1)
    if not -ndim <= int(channel_axis) < ndim:
        raise ValueError(f"channel axis {channel_axis} is out of range for an image with {ndim} axes {tuple(shape)}")
    channel_axis = int(channel_axis) % ndim
    rest = [s for i, s in enumerate(shape) if i != channel_axis]
    letters = default_axes(rest, dims, 1)
    return letters[:channel_axis] + "C" + letters[channel_axis:]


def check_axes(axes: str, shape: Sequence[int], dims: int) -> None:
    """Raise ValueError unless ``axes`` names every axis of ``shape`` once and ends in the model's spatial axes."""
    if len(axes) != len(shape):
        raise ValueError(f"axes {axes!r} name {len(axes)} axes but the image has {len(shape)} {tuple(shape)}")
    if len(set(axes.replace("Q", ""))) != len(axes.replace("Q", "")):
        raise ValueError(f"axes {axes!r} repeat a letter: name each axis once")
    spatial = [a for a in axes if a not in CHANNEL_LETTERS]
    if len(spatial) < dims:
        raise ValueError(f"image with axes {axes!r} has fewer than {dims} spatial axes for a {dims}D model")
    if sum(a in CHANNEL_LETTERS for a in axes) > 1:
        raise ValueError(f"image with axes {axes!r} has two channel axes: merge them into one")


def spatial_letters(axes: str, dims: int) -> str:
    """The model's spatial axis letters within ``axes`` (the last ``dims`` non-channel letters)."""
    return "".join(a for a in axes if a not in CHANNEL_LETTERS)[-dims:]


def loop_letters(axes: str, dims: int) -> str:
    """The letters of the axes predicted plane by plane (non-channel, non-spatial)."""
    others = "".join(a for a in axes if a not in CHANNEL_LETTERS)
    return others[: len(others) - dims]


def to_planes(image: Any, axes: str, dims: int) -> tuple[Any, str, tuple[int, ...]]:
    """Reorder to ``(*loop axes, C, *spatial)`` and return it with the loop letters and loop shape.

    A missing channel axis becomes one of size 1. Lazy arrays stay lazy (only a transpose is applied).
    """
    check_axes(axes, image.shape, dims)
    if not any(a in CHANNEL_LETTERS for a in axes):
        image = image[None]
        axes = "C" + axes
    channel = next(i for i, a in enumerate(axes) if a in CHANNEL_LETTERS)
    others = [i for i in range(len(axes)) if i != channel]
    spatial = others[-dims:]
    loop = others[:-dims]
    order = loop + [channel] + spatial
    arranged = image.transpose(order) if hasattr(image, "transpose") else np.transpose(image, order)
    loop_axes = "".join(axes[i] for i in loop)
    return arranged, loop_axes, tuple(int(image.shape[i]) for i in loop)


def channels_first(arranged: Any, n_loop: int) -> Any:
    """``(C, *loop, *spatial)`` view of an array arranged by :func:`to_planes` (what the statistics are taken on)."""
    return arranged.transpose((n_loop, *range(n_loop), *range(n_loop + 1, arranged.ndim)))
