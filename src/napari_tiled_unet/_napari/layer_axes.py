"""Pure helpers that map a napari layer's data onto a model: axis letters, the plane at the cursor, transforms.

Nothing here imports napari or Qt, so everything is unit-tested without a viewer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from napari_tiled_unet.inference import CHANNEL_LETTERS, default_axes

from .channels import AXIS, LAYERS, RGB, ChannelChoice, axis_kind


def axes_for_layer(data_shape: Sequence[int], rgb: bool, model_dims: int, model_in_channels: int,
                   channels: ChannelChoice | None = None, axis_labels: Sequence[Any] | None = None) -> str:
    """Axis letters of a layer's data for a model (``'YX'``, ``'ZYX'``, ``'TYX'``, ``'CYX'``, ``'YXS'``...).

    Parameters
    ----------
    data_shape : sequence of int
        Shape of the layer's data (for an RGB layer the last axis holds the colours; in "layers" mode the
        channel layers stacked on a new first axis).
    rgb : bool
        The layer's ``rgb`` flag.
    model_dims : int
        2 or 3, the model's spatial dimensions; the last ``model_dims`` non-channel axes are spatial and any
        others (Z or T for a 2D model, T for a 3D model) are predicted plane by plane.
    model_in_channels : int
        Channels the model takes.
    channels : ChannelChoice, optional
        Where the channels are (the "channels" control); None guesses an axis of the model's channel count.
    axis_labels : sequence of str, optional
        The layer's axis labels: an axis labelled "t" or "time" is time, "z" is depth (else a 2D model's
        stack is Z, then T).

    Returns
    -------
    str
        One letter per axis of ``data_shape``.

    Raises
    ------
    ValueError
        If the layer has too few axes or its channels do not match the model; the message says what to do.

    """
    shape = tuple(int(s) for s in data_shape)
    labels = list(axis_labels or ())
    if channels is not None and channels.mode == LAYERS:
        return _with_channel(shape, 0, model_dims, model_in_channels, [None, *labels], "the channel layers")
    if rgb or (channels is not None and channels.mode == RGB):
        if len(shape) < model_dims + 1:
            raise ValueError(f"the RGB image of shape {shape} has fewer than {model_dims} spatial axes for a "
                             f"{model_dims}D model: pick a {len(shape) - 1}D model")
        if shape[-1] != model_in_channels:
            raise ValueError(f"the image is RGB{'A' if shape[-1] == 4 else ''} ({shape[-1]} channels) but the model "
                             f"takes {model_in_channels} channel(s): pick a model trained on RGB images, or convert "
                             "the image to grey values first")
        return _letters(shape[:-1], model_dims, labels[:-1] if len(labels) == len(shape) else []) + "S"
    if channels is not None and channels.mode == AXIS and channels.axis is not None:
        return _with_channel(shape, channels.axis, model_dims, model_in_channels, labels, f"axis {channels.axis}")
    if len(shape) < model_dims:
        raise ValueError(f"the image of shape {shape} has {len(shape)} axes but the model is {model_dims}D: "
                         f"pick a {len(shape)}D model")
    if channels is None:
        axes = default_axes(shape, model_dims, model_in_channels)
        if any(a in CHANNEL_LETTERS for a in axes):
            return axes
    if model_in_channels > 1:
        raise ValueError(f"the model takes {model_in_channels} channels but the image of shape {shape} has no "
                         f"channel axis: choose the axis of size {model_in_channels} under 'channels', or pick "
                         f"{model_in_channels} layers as channels, or a single-channel model")
    return _letters(shape, model_dims, labels)


def _with_channel(shape: tuple[int, ...], axis: int, dims: int, in_channels: int, labels: list[Any],
                  what: str) -> str:
    """Letters with ``'C'`` at ``axis`` (checked against the model's channel count)."""
    if not 0 <= axis < len(shape):
        raise ValueError(f"the image of shape {shape} has no axis {axis}: choose another axis under 'channels'")
    if shape[axis] != in_channels:
        raise ValueError(f"{what} holds {shape[axis]} channel(s) but the model takes {in_channels}: choose the "
                         "right axis under 'channels', or a model trained on that many channels")
    rest = shape[:axis] + shape[axis + 1:]
    if len(rest) < dims:
        raise ValueError(f"the image of shape {shape} has {len(rest)} axes besides its channels but the model is "
                         f"{dims}D: pick a {len(rest)}D model")
    rest_labels = labels[:axis] + labels[axis + 1:] if len(labels) == len(shape) else []
    letters = _letters(rest, dims, rest_labels)
    return letters[:axis] + "C" + letters[axis:]


def _letters(shape: Sequence[int], dims: int, labels: Sequence[Any]) -> str:
    """Letters of non-channel axes: the spatial ones last, the others T or Z by their labels, else by count."""
    default = default_axes(shape, dims, 1)
    lead = len(shape) - dims
    if len(labels) != len(shape):
        return default
    kinds = [axis_kind(label) for label in labels]
    if dims == 3 and kinds[lead] == "t":
        raise ValueError(f"axis {lead} of the image is labelled '{labels[lead]}' (time) but a 3D model would read it "
                         "as Z: pick a 2D model, which predicts every time point on its own")
    wanted = [{"t": "T", "z": "Z" if dims == 2 else None}.get(kind or "") for kind in kinds[:lead]]
    named = [letter for letter in wanted if letter]
    if not named or len(set(named)) < len(named):
        return default
    free = [a for a in default[:lead] if a not in wanted] + ["Q"] * lead
    letters = []
    for letter in wanted:
        letters.append(letter if letter else free.pop(0))
    return "".join(letters) + default[lead:]


def loop_axes(axes: str, model_dims: int) -> list[int]:
    """Positions of the axes predicted plane by plane (all but the channel and the last spatial ones)."""
    others = [i for i, a in enumerate(axes) if a not in CHANNEL_LETTERS]
    return others[: len(others) - model_dims]


def kept_axes(axes: str) -> list[int]:
    """Positions of the layer axes that a labels result keeps, in order (every axis but the channel)."""
    return [i for i, a in enumerate(axes) if a not in CHANNEL_LETTERS]


def current_plane(axes: str, data_shape: Sequence[int], model_dims: int,
                  data_position: Sequence[float]) -> tuple[int, ...]:
    """Index of the plane at a data position, one entry per loop axis (rounded and clipped to the data).

    Parameters
    ----------
    axes : str
        Axis letters of the data (from :func:`axes_for_layer`).
    data_shape : sequence of int
        Shape of the data.
    model_dims : int
        The model's spatial dimensions.
    data_position : sequence of float
        The viewer's position in the layer's data coordinates (``layer.world_to_data(viewer.dims.point)``);
        an RGB layer's colour axis has no entry.

    Returns
    -------
    tuple of int
        Empty when nothing is looped over.

    """
    result = []
    for i in loop_axes(axes, model_dims):
        value = float(data_position[i]) if i < len(data_position) else 0.0
        index = int(np.floor(value + 0.5)) if np.isfinite(value) else 0
        result.append(min(max(index, 0), int(data_shape[i]) - 1))
    return tuple(result)


def plane_slices(axes: str, model_dims: int, plane: Sequence[int]) -> tuple[Any, ...]:
    """Index into the data that keeps one plane but all its channel and spatial axes (loop axes as length 1)."""
    index: list[Any] = [slice(None)] * len(axes)
    for i, value in zip(loop_axes(axes, model_dims), plane):
        index[i] = slice(int(value), int(value) + 1)
    return tuple(index)


def _shear_matrix(shear: np.ndarray, n: int) -> np.ndarray:
    shear = np.asarray(shear, dtype=float)
    if shear.ndim == 2:
        return shear
    matrix = np.eye(n)
    matrix[np.triu_indices(n, 1)] = shear
    return matrix


def result_transforms(scale: Sequence[float], translate: Sequence[float], rotate: Any, shear: Any,
                      affine_matrix: Any, keep: Sequence[int], leading: int = 0) -> dict[str, Any]:
    """Layer keyword arguments that place a result exactly over its source.

    Parameters
    ----------
    scale, translate : sequence of float
        The source layer's scale and translate (one entry per layer dimension).
    rotate, shear, affine_matrix : array-like or None
        The source layer's rotation matrix, shear (upper-triangular values or matrix) and affine matrix
        (``(n+1, n+1)``); None where absent.
    keep : sequence of int
        Layer dimensions the result keeps (a channel axis is dropped).
    leading : int
        New dimensions in front of the result (a class axis of probabilities) with unit scale.

    Returns
    -------
    dict
        ``scale`` and ``translate`` always; ``rotate``, ``shear`` and ``affine`` only when not the identity.

    """
    keep = list(keep)
    n = len(scale)
    size = leading + len(keep)

    def embed(matrix: np.ndarray, homogeneous: bool) -> np.ndarray:
        index = keep + [n] if homogeneous else keep
        sub = np.asarray(matrix, dtype=float)[np.ix_(index, index)]
        full = np.eye(size + (1 if homogeneous else 0))
        full[leading:, leading:] = sub
        return full

    kwargs: dict[str, Any] = {
        "scale": [1.0] * leading + [float(scale[i]) for i in keep],
        "translate": [0.0] * leading + [float(translate[i]) for i in keep],
    }
    if rotate is not None and not np.allclose(rotate, np.eye(n)):
        kwargs["rotate"] = embed(np.asarray(rotate), homogeneous=False)
    if shear is not None and not np.allclose(_shear_matrix(shear, n), np.eye(n)):
        kwargs["shear"] = embed(_shear_matrix(shear, n), homogeneous=False)
    if affine_matrix is not None and not np.allclose(affine_matrix, np.eye(n + 1)):
        kwargs["affine"] = embed(np.asarray(affine_matrix), homogeneous=True)
    return kwargs
