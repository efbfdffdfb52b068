"""Flattening a strongly uneven background before a model that never saw one that strong.

Widefield images often carry additive light that varies across the field (stray and out-of-focus light, an
autofluorescent medium): a tilt or a glow that can outshine dim nuclei elsewhere. A model trained on images whose
background varies little (builtin:nuclei) then reads the bright part of the background as nuclei: zero-shot F1
0.875 -> 0.62 on the U2OS image with a ramp of 3x its nuclear contrast added (foreground IoU 0.09).

The background is estimated as a grey opening far wider than the objects (12 times the object radius the model
segments best, 128 px when it names none) on a block-averaged copy of the image, smoothed and resampled back;
its variation is the spread (2nd to 98th percentile) of that field as a share of the image's range above it.
A model file can name the largest variation it was trained on (``metadata["prediction"]["background_limit"]``;
builtin:nuclei: 0.3, its 128 training images reach 0.21, 40 held-out ones 0.23); with ``flatten="auto"`` an
image whose background varies more is predicted with that field subtracted (its median added back), normalised
with the flattened image's own statistics. An even background is left exactly as it is (and a constant offset
would not change the normalised image anyway). ``flatten="on"`` subtracts it always, ``"off"`` never.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from napari_tiled_unet.checks import is_number

AUTO, ON, OFF = "auto", "on", "off"
FLATTEN_CHOICES = (AUTO, ON, OFF)
OBJECT_RADII = 12.0
"""The opening is this many times the object radius the model segments best."""
DEFAULT_SIZE = 128
"""Opening size (pixels) for a model that names no object radius."""
BLOCKS_PER_OPENING = 16
"""The image is block-averaged so that the opening spans this many blocks (fast on any image size)."""

Flatten = str | None


def background_limit_of(metadata: Mapping[str, Any] | None) -> float | None:
    """The largest background variation a model file's metadata names as trained on; None when it names none."""
    value = ((metadata or {}).get("prediction") or {}).get("background_limit")
    return float(value) if is_number(value) and 0 < value < math.inf else None


def check_flatten(flatten: Flatten) -> Flatten:
    """``flatten`` as ``"auto"``, ``"on"``, ``"off"`` or None; ValueError naming the value otherwise."""
    if flatten is None:
        return None
    value = flatten.lower() if isinstance(flatten, str) else flatten
    if value not in FLATTEN_CHOICES:
        raise ValueError(f"flatten={flatten!r} is invalid: use 'auto' (where the background varies more than the "
                         "model was trained on), 'on' or 'off'")
    return value


def flatten_applies(flatten: Flatten, net: Any, lazy: bool, normalizer_given: bool) -> str | None:
    """What to do for this prediction: ``"auto"`` (measure first), ``"on"``, or None (leave the image as it is).

    None (the default) means ``"auto"`` where the model file names a background limit, the model is 2D, the image
    is in memory and no normaliser is given (a given one holds the statistics of the whole image, which a part
    cannot measure: see :func:`~napari_tiled_unet.inference.prepared_normalizer`). ``"on"`` needs a 2D model and
    the image in memory (ValueError otherwise); a normaliser given with it must be of the flattened image.
    """
    flatten = check_flatten(flatten)
    if flatten == OFF:
        return None
    possible = not lazy and net.config.dims == 2
    if flatten == ON:
        if not possible:
            raise ValueError("flatten='on' needs a 2D model and the image in memory: leave out flatten")
        return ON
    measurable = possible and not normalizer_given
    return AUTO if measurable and background_limit_of(getattr(net, "metadata", None)) is not None else None


def opening_size(best_radius: float | None, factor: float = 1.0) -> int:
    """Opening size (pixels of the image as given) for objects the model likes of ``best_radius``.

    ``factor`` is the scale the image will be predicted at (object_scale): the objects are ``1 / factor`` times
    larger than the model likes, and so is the opening.
    """
    size = DEFAULT_SIZE if best_radius is None else OBJECT_RADII * best_radius
    return max(8, round(size / factor))


def coarse_background(plane: np.ndarray, size: int) -> tuple[np.ndarray, int]:
    """The smooth background of a 2D ``plane`` at the centres of blocks of ``step`` pixels, and ``step``.

    A grey opening of ``size`` pixels on the plane averaged in blocks of ``size / 16`` pixels (so the cost hardly
    grows with ``size``), then a box smoothing as wide: the erosion mirrors the plane at its borders, the
    dilation and the smoothing continue the eroded field past them point-symmetrically, so that a tilt goes on as
    a tilt there (an even mirror would fold it into a ridge that the opening cuts off).
    """
    plane = np.asarray(plane, dtype=np.float32)
    step = max(1, size // BLOCKS_PER_OPENING)
    height, width = (max(1, n // step) for n in plane.shape)
    cropped = plane[: height * step, : width * step]
    if cropped.shape != (height * step, width * step):  # a plane smaller than one block
        cropped = np.resize(plane, (height * step, width * step))
    blocks = cropped.reshape(height, step, width, step).mean(axis=(1, 3))
    window = max(3, size // step) | 1  # odd: centred
    eroded = ndi.grey_erosion(blocks, size=(window, window), mode="reflect")
    mode = "reflect" if min(blocks.shape) > 1 else "edge"
    padded = np.pad(eroded, window, mode=mode, **({"reflect_type": "odd"} if mode == "reflect" else {}))
    field = ndi.uniform_filter(ndi.grey_dilation(padded, size=(window, window)), window)
    return field[window:-window, window:-window], step


def at_pixels(coarse: np.ndarray, step: int, shape: tuple[int, ...]) -> np.ndarray:
    """A :func:`coarse_background` field at every pixel of a plane of ``shape`` (float32).

    Linear between the block centres, extrapolated linearly at the borders.
    """
    field = coarse
    for axis, n in enumerate(shape):
        field = _linear_to_pixels(field, axis, n, step)
    return field.astype(np.float32)


def background_field(plane: np.ndarray, size: int) -> np.ndarray:
    """The smooth background of a 2D ``plane`` at every pixel (see :func:`coarse_background`)."""
    coarse, step = coarse_background(plane, size)
    return at_pixels(coarse, step, np.shape(plane))


def _linear_to_pixels(field: np.ndarray, axis: int, n: int, step: int) -> np.ndarray:
    """``field`` given at the centres of blocks of ``step`` pixels along ``axis``, at each of ``n`` pixels."""
    blocks = field.shape[axis]
    if blocks == 1:
        return np.repeat(field, n, axis=axis)
    position = (np.arange(n) + 0.5) / step - 0.5
    low = np.clip(np.floor(position).astype(np.intp), 0, blocks - 2)
    weight = (position - low).astype(np.float32)  # beyond the outer centres: extrapolated linearly
    shape = [1] * field.ndim
    shape[axis] = n
    weight = weight.reshape(shape)
    return np.take(field, low, axis=axis) * (1 - weight) + np.take(field, low + 1, axis=axis) * weight


def background_variation(plane: np.ndarray, field: np.ndarray) -> float:
    """Spread of the background ``field`` (2nd to 98th percentile) as a share of the plane's range above it.

    ``field`` may be the coarse one (:func:`coarse_background`): linear interpolation keeps its percentiles.
    """
    low, high = (float(v) for v in np.percentile(field, (2.0, 98.0)))
    if high - low <= 1e-5 * max(abs(high), abs(low), 1.0):  # even (float rounding of a constant plane)
        return 0.0
    top = float(np.percentile(plane, 99.5))
    return (high - low) / max(top - low, 1e-6)


def flattened(plane: np.ndarray, field: np.ndarray) -> np.ndarray:
    """``plane`` with its background ``field`` subtracted and the field's median added back (float32)."""
    return (np.asarray(plane, dtype=np.float32) - field + np.float32(np.median(field))).astype(np.float32)


def flatten_in_words(variation: float, limit: float | None) -> str:
    """One line saying that the background was flattened and why, for the CLI and the Predict widget."""
    if limit is None:
        return f"background flattened (it varies by {variation:.0%} of the image's range; --flatten on)"
    return (f"background flattened: it varies by {variation:.0%} of the image's range, more than the "
            f"{limit:.0%} the model was trained on (--flatten off keeps it)")


def flatten_planes(arranged: np.ndarray, n_loop: int, size: int,
                   limit: float | None) -> tuple[np.ndarray, float, bool]:
    """Planes ``(*loop, C, Y, X)`` with the background flattened, all of them or none.

    Every plane and channel is measured; with ``limit`` None, or when the largest variation is above ``limit``,
    every plane is flattened (one rule for a whole stack, so that its planes stay comparable).

    Returns
    -------
    planes : numpy.ndarray
        The flattened planes (float32), or ``arranged`` itself when nothing was flattened.
    variation : float
        The largest variation measured.
    flattened : bool
        Whether the planes were flattened.

    """
    arranged = np.asarray(arranged)
    planes = arranged.reshape((-1, *arranged.shape[n_loop + 1:]))
    coarse = [coarse_background(plane, size) for plane in planes]  # small: only the flattening needs full size
    variation = max(background_variation(plane, field) for plane, (field, _) in zip(planes, coarse))
    if limit is not None and variation <= limit:
        return arranged, variation, False
    flat = np.empty(planes.shape, dtype=np.float32)
    for k, (plane, (field, step)) in enumerate(zip(planes, coarse)):
        flat[k] = flattened(plane, at_pixels(field, step, plane.shape))
    return flat.reshape(arranged.shape), variation, True
