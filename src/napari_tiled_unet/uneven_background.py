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
would not change the normalised image anyway). ``flatten="on"`` subtracts it always, ``"off"`` never. A dask
array is measured from one pass of its block means and flattened chunk by chunk (lazily), as in memory.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from napari_tiled_unet.array_views import is_dask
from napari_tiled_unet.checks import is_number
from napari_tiled_unet.normalization import MAX_SAMPLES, strided_subsample

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


def flatten_applies(flatten: Flatten, net: Any, normalizer_given: bool) -> str | None:
    """What to do for this prediction: ``"auto"`` (measure first), ``"on"``, or None (leave the image as it is).

    None (the default) means ``"auto"`` where the model file names a background limit, the model is 2D and no
    normaliser is given (a given one holds the statistics of the whole image, which a part cannot measure: see
    :func:`~napari_tiled_unet.inference.prepared_normalizer`). ``"on"`` needs a 2D model (ValueError otherwise);
    a normaliser given with it must be of the flattened image. Images read lazily are measured and flattened
    lazily (:func:`flatten_planes`).
    """
    flatten = check_flatten(flatten)
    if flatten == OFF:
        return None
    planar = net.config.dims == 2
    if flatten == ON:
        if not planar:
            raise ValueError("flatten='on' needs a 2D model: leave out flatten for a 3D model")
        return ON
    measurable = planar and not normalizer_given
    return AUTO if measurable and background_limit_of(getattr(net, "metadata", None)) is not None else None


def flatten_limit(net: Any, flattening: str | None) -> float | None:
    """The variation above which :func:`flatten_planes` flattens: the model's limit under auto, None under on."""
    return background_limit_of(getattr(net, "metadata", None)) if flattening == AUTO else None


def opening_size(best_radius: float | None, factor: float = 1.0) -> int:
    """Opening size (pixels of the image as given) for objects the model likes of ``best_radius``.

    ``factor`` is the scale the image will be predicted at (object_scale): the objects are ``1 / factor`` times
    larger than the model likes, and so is the opening.
    """
    size = DEFAULT_SIZE if best_radius is None else OBJECT_RADII * best_radius
    return max(8, round(size / factor))


def coarse_background(plane: Any, size: int) -> tuple[np.ndarray, int]:
    """The smooth background of a 2D ``plane`` at the centres of blocks of ``step`` pixels, and ``step``.

    A grey opening of ``size`` pixels on the plane averaged in blocks of ``size / 16`` pixels (so the cost hardly
    grows with ``size``), then a box smoothing as wide: the erosion mirrors the plane at its borders, the
    dilation and the smoothing continue the eroded field past them point-symmetrically, so that a tilt goes on as
    a tilt there (an even mirror would fold it into a ridge that the opening cuts off). ``plane`` may be a dask
    array: only its block means are computed (one pass over it).
    """
    step = max(1, size // BLOCKS_PER_OPENING)
    blocks = block_means(plane, step)
    window = max(3, size // step) | 1  # odd: centred
    eroded = ndi.grey_erosion(blocks, size=(window, window), mode="reflect")
    mode = "reflect" if min(blocks.shape) > 1 else "edge"
    padded = np.pad(eroded, window, mode=mode, **({"reflect_type": "odd"} if mode == "reflect" else {}))
    field = ndi.uniform_filter(ndi.grey_dilation(padded, size=(window, window)), window)
    return field[window:-window, window:-window], step


def block_means(plane: Any, step: int) -> np.ndarray:
    """Means of the ``step`` x ``step`` blocks of a 2D plane (numpy or dask; float32; partial blocks dropped)."""
    height, width = (max(1, n // step) for n in plane.shape)
    if is_dask(plane) and min(plane.shape) >= step:
        import dask.array as da

        whole = plane[: height * step, : width * step].astype(np.float32)
        whole = whole.rechunk(tuple(max(step, c // step * step) for c in (whole.chunksize[0], whole.chunksize[1])))
        return np.asarray(da.coarsen(np.mean, whole, {0: step, 1: step}).compute(), dtype=np.float32)
    plane = np.asarray(plane, dtype=np.float32)
    cropped = plane[: height * step, : width * step]
    if cropped.shape != (height * step, width * step):  # a plane smaller than one block
        cropped = np.resize(plane, (height * step, width * step))
    return cropped.reshape(height, step, width, step).mean(axis=(1, 3))


def at_pixels(coarse: np.ndarray, step: int, shape: tuple[int, ...],
              start: tuple[int, ...] = (0, 0)) -> np.ndarray:
    """A :func:`coarse_background` field at the pixels of a region of ``shape`` from ``start`` (float32).

    Linear between the block centres, extrapolated linearly at the borders; a region gives the pixels it covers
    of the whole plane's field.
    """
    field = coarse
    for axis, (n, first) in enumerate(zip(shape, start)):
        field = _linear_to_pixels(field, axis, n, step, first)
    return field.astype(np.float32)


def background_field(plane: np.ndarray, size: int) -> np.ndarray:
    """The smooth background of a 2D ``plane`` at every pixel (see :func:`coarse_background`)."""
    coarse, step = coarse_background(plane, size)
    return at_pixels(coarse, step, np.shape(plane))


def _linear_to_pixels(field: np.ndarray, axis: int, n: int, step: int, first: int = 0) -> np.ndarray:
    """``field`` given at the centres of blocks of ``step`` pixels along ``axis``, at pixels ``first..first+n``."""
    blocks = field.shape[axis]
    if blocks == 1:
        return np.repeat(field, n, axis=axis)
    position = (np.arange(first, first + n) + 0.5) / step - 0.5
    low = np.clip(np.floor(position).astype(np.intp), 0, blocks - 2)
    weight = (position - low).astype(np.float32)  # beyond the outer centres: extrapolated linearly
    shape = [1] * field.ndim
    shape[axis] = n
    weight = weight.reshape(shape)
    return np.take(field, low, axis=axis) * (1 - weight) + np.take(field, low + 1, axis=axis) * weight


def background_variation(plane: np.ndarray, field: np.ndarray) -> float:
    """Spread of the background ``field`` (2nd to 98th percentile) as a share of the plane's range above it.

    ``field`` may be the coarse one (:func:`coarse_background`): linear interpolation keeps its percentiles.
    The plane's top is the 99.5th percentile of a strided subsample (at most ``MAX_SAMPLES`` pixels, the same
    for a plane in memory and read lazily).
    """
    low, high = (float(v) for v in np.percentile(field, (2.0, 98.0)))
    if high - low <= 1e-5 * max(abs(high), abs(low), 1.0):  # even (float rounding of a constant plane)
        return 0.0
    sample = np.asarray(strided_subsample(plane[None], MAX_SAMPLES))
    top = float(np.percentile(sample, 99.5))
    return (high - low) / max(top - low, 1e-6)


def flatten_in_words(variation: float, limit: float | None, flag: bool = True) -> str:
    """One line saying that the background was flattened and why.

    With the CLI flag that undoes it, or without (``flag=False``) for the Predict widget's status.
    """
    why = (f"it varies by {variation:.0%} of the image's range"
           + (f", more than the {limit:.0%} the model was trained on" if limit is not None else ""))
    if not flag:
        return f"background flattened ({why})"
    return f"background flattened: {why} (" + ("--flatten off keeps it)" if limit is not None else "--flatten on)")


def flatten_planes(arranged: Any, n_loop: int, size: int, limit: float | None) -> tuple[Any, float, bool]:
    """Planes ``(*loop, C, Y, X)`` with the background flattened, all of them or none.

    Every plane and channel is measured; with ``limit`` None, or when the largest variation is above ``limit``,
    every plane is flattened (one rule for a whole stack, so that its planes stay comparable). A dask array
    stays lazy: its block means and a strided sample are read to measure it, the flattening is done chunk by
    chunk when the result is computed.

    Returns
    -------
    planes : numpy.ndarray or dask.array.Array
        The flattened planes (float32), or ``arranged`` itself when nothing was flattened.
    variation : float
        The largest variation measured.
    flattened : bool
        Whether the planes were flattened.

    """
    lazy = is_dask(arranged)
    arranged = arranged if lazy else np.asarray(arranged)
    planes = [arranged[index] for index in np.ndindex(*arranged.shape[: n_loop + 1])]
    coarse = [coarse_background(plane, size) for plane in planes]  # small: only the flattening needs full size
    variation = max(background_variation(plane, field) for plane, (field, _) in zip(planes, coarse))
    if limit is not None and variation <= limit:
        return arranged, variation, False
    medians = [np.float32(np.median(field)) for field, _ in coarse]
    if lazy:
        import dask.array as da

        flat = da.stack([da.map_blocks(_flatten_block, plane, dtype=np.float32, field=field, step=step, median=median)
                         for plane, (field, step), median in zip(planes, coarse, medians)])
    else:
        flat = np.empty((len(planes), *arranged.shape[n_loop + 1:]), dtype=np.float32)
        for k, (plane, (field, step), median) in enumerate(zip(planes, coarse, medians)):
            flat[k] = _flatten_block(plane, field, step, median)
    return flat.reshape(arranged.shape), variation, True


def _flatten_block(block: np.ndarray, field: np.ndarray, step: int, median: np.float32,
                   block_info: dict | None = None) -> np.ndarray:
    """One chunk of a lazily flattened plane: the chunk minus the plane's field over it, plus the field's median."""
    start = tuple(low for low, _ in block_info[0]["array-location"]) if block_info else (0, 0)
    return (np.asarray(block, dtype=np.float32) - at_pixels(field, step, block.shape, start) + median).astype(
        np.float32)
