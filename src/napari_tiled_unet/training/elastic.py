"""Elastic deformation of training patches (Ronneberger et al. 2015), and the patch checks augmentation shares.

Random displacements on a coarse grid, spline-upsampled to a smooth per-pixel field, resample the image (spline
``order``) and the labels and weights (nearest neighbour, an exact mapping, so label values are only moved).
With ``out_slices`` the labels and weights are resampled only inside the network output region. Per-axis
factors of the displacements (``axis_scale``, :func:`elastic_axis_scale`) make them physical for anisotropic
voxels and keep the planes of a coarse Z axis apart. Conventions as in :mod:`.augment`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch
from scipy import ndimage as ndi

from napari_tiled_unet.anisotropy import ANISOTROPY_RATIO, relative_spacing
from napari_tiled_unet.checks import is_number as _is_number

Slices = tuple[slice, ...]


def check_patch(image: np.ndarray, labels: np.ndarray | None, weights: np.ndarray | None) -> None:
    """Raise ValueError unless the image is ``(C, *spatial)`` and labels/weights fit its spatial shape."""
    if not isinstance(image, np.ndarray) or image.ndim not in (3, 4):
        shape = getattr(image, "shape", None)
        raise ValueError(f"image patch of shape {shape} is invalid: use (C, Y, X) or (C, Z, Y, X)")
    for name, array in (("labels", labels), ("weights", weights)):
        shape = getattr(array, "shape", None)
        fits = shape is not None and (shape == image.shape[1:] or (name == "weights" and shape[1:] == image.shape[1:]
                                                                   and len(shape) == image.ndim))
        if array is not None and (not isinstance(array, np.ndarray) or not fits):
            raise ValueError(
                f"{name} patch of shape {shape} is invalid: use the image's spatial shape {image.shape[1:]}"
                + (" (or K maps of it)" if name == "weights" else "")
            )


def check_out_slices(out_slices: Sequence[slice] | None, shape: tuple[int, ...]) -> Slices | None:
    """``out_slices`` as plain non-empty slices within ``shape`` (None stays None); ValueError otherwise."""
    if out_slices is None:
        return None
    if not isinstance(out_slices, Sequence) or len(out_slices) != len(shape):
        raise ValueError(f"out_slices={out_slices!r} is invalid: use one slice per spatial axis of {shape}")
    checked = []
    for s, size in zip(out_slices, shape, strict=True):
        if not isinstance(s, slice) or s.step not in (None, 1):
            raise ValueError(f"out_slices={out_slices!r} is invalid: use plain slices with step 1")
        start, stop, _ = s.indices(size)
        if stop <= start:
            raise ValueError(f"out_slices={out_slices!r} select nothing in {shape}: use a non-empty region")
        checked.append(slice(start, stop))
    return tuple(checked)


@lru_cache(maxsize=64)
def _upsampling_matrix(size: int, grid: int) -> np.ndarray:
    """Matrix (size, grid) that cubic-spline upsamples ``grid`` control values to ``size`` samples.

    Column j is ``ndi.zoom`` of the j-th unit vector, so applying it along every axis equals ``ndi.zoom`` of
    the coarse grid with order 3 (spline interpolation is separable) but costs only a few small matmuls.
    """
    matrix = np.empty((size, grid), dtype=np.float64)
    for j, unit in enumerate(np.eye(grid)):
        matrix[:, j] = ndi.zoom(unit, size / grid, order=3, mode="mirror", grid_mode=False)[:size]
    matrix.setflags(write=False)
    return matrix


def displacement_field(
    shape: tuple[int, ...], rng: np.random.Generator, sigma: float = 10.0, grid: int = 3,
    axis_scale: Sequence[float] | None = None,
) -> np.ndarray:
    """Smooth random displacements ``(ndim, *shape)``: N(0, sigma) on a coarse grid, spline-upsampled.

    ``axis_scale`` multiplies the displacements along every axis (0: none along it); the random draws are the
    same with or without it.
    """
    ndim = len(shape)
    coarse = rng.normal(0.0, sigma, size=(ndim,) + (grid,) * ndim)
    if axis_scale is not None:
        coarse *= np.asarray(axis_scale, dtype=np.float64).reshape((ndim,) + (1,) * ndim)
    field = coarse
    for axis, size in enumerate(shape):
        # contract the grid axis (axis + 1 of ``field``) with the upsampling matrix, keeping the axis order
        field = np.moveaxis(
            np.tensordot(_upsampling_matrix(size, grid), field, axes=(1, axis + 1)), 0, axis + 1
        )
    return field


def elastic_axis_scale(spacing: Sequence[float] | None) -> tuple[float, ...] | None:
    """Per-axis factors of the elastic displacements that make them physical for voxels of ``spacing``.

    An axis at least :data:`~napari_tiled_unet.anisotropy.ANISOTROPY_RATIO` times as coarse as the finest gets
    0 (in-plane deformation only); the others ``finest / spacing`` (the same physical displacement as the
    finest axis, whose pixels ``elastic_sigma`` counts). None (no or isotropic spacing): None, unchanged.
    """
    if spacing is None:
        return None
    relative = relative_spacing(spacing)
    if max(relative) == 1.0:
        return None
    limit = ANISOTROPY_RATIO * (1.0 - 1e-6)
    return tuple(0.0 if r >= limit else 1.0 / r for r in relative)


def _deformed_coordinates(field: np.ndarray) -> np.ndarray:
    coords = field.copy()
    for axis, size in enumerate(field.shape[1:]):
        shape = [1] * (field.ndim - 1)
        shape[axis] = size
        coords[axis] += np.arange(size, dtype=np.float64).reshape(shape)
    return coords


def _mirror(index: np.ndarray, size: int) -> np.ndarray:
    """Map integer indices into ``[0, size)`` by mirroring about the edge pixels (d c b | a b c d | c b)."""
    if size == 1:
        return np.zeros_like(index)
    period = 2 * (size - 1)
    index = np.abs(index) % period
    return np.where(index >= size, period - index, index)


def _nearest_flat_index(coords: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Flat indices into an array of ``shape`` of the nearest pixels to ``coords``, mirrored at the edges.

    Equals ``ndi.map_coordinates(..., order=0, mode="mirror")`` but the index is computed once for labels and
    weights, and the mirroring goes through a small lookup table, which is several times faster.
    """
    flat = np.zeros(coords.shape[1:], dtype=np.intp)
    stride = 1
    for axis in range(len(shape) - 1, -1, -1):
        c = coords[axis]
        low = math.floor(float(c.min()) + 0.5)
        high = math.floor(float(c.max()) + 0.5)
        table = _mirror(np.arange(low, high + 1), shape[axis]) * stride
        flat += np.take(table, (c + (0.5 - low)).astype(np.intp))  # c + 0.5 - low >= 0: truncation is floor
        stride *= shape[axis]
    return flat


def _take(array: np.ndarray | None, flat_index: np.ndarray, spatial_ndim: int) -> np.ndarray | None:
    if array is None:
        return None
    if array.ndim == spatial_ndim:
        return np.take(array.reshape(-1), flat_index)
    return np.stack([np.take(a.reshape(-1), flat_index) for a in array])


def _linear_mirror(image: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """``ndi.map_coordinates(order=1, mode="mirror")`` of every channel, through torch's ``grid_sample``.

    Linear interpolation with reflection about the edge pixel centres (``align_corners=True``) is scipy's
    "mirror" mode; torch computes it several times faster on a patch (0.5 against 3.7 ms on 220 x 220 on a
    2-core CPU) and agrees to float32 rounding of the coordinates (about 1e-5 of the image range).
    """
    spatial = image.shape[1:]
    points = coords.reshape(len(spatial), -1)
    scale = np.array([2.0 / (n - 1) for n in spatial])[:, None]
    grid = (points * scale - 1.0).T[:, ::-1]  # (points, ndim), x first as torch wants
    grid = grid.reshape((1,) * len(spatial) + grid.shape)  # a (1, .., 1, points) grid of the image's rank
    sampled = torch.nn.functional.grid_sample(
        torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None],
        torch.from_numpy(np.ascontiguousarray(grid, dtype=np.float32)),
        mode="bilinear", padding_mode="reflection", align_corners=True)
    return sampled.numpy().reshape((image.shape[0],) + coords.shape[1:])


def _check_elastic_parameters(sigma: float, grid: int, order: int) -> None:
    if not _is_number(sigma) or not 0.0 <= sigma < math.inf:
        raise ValueError(f"sigma={sigma!r} is invalid: use a finite displacement in pixels >= 0")
    if isinstance(grid, bool) or not isinstance(grid, (int, np.integer)) or grid < 2:
        raise ValueError(f"grid={grid!r} is invalid: use an integer >= 2")
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or not 0 <= order <= 5:
        raise ValueError(f"order={order!r} is invalid: use a spline order from 0 to 5")


def elastic_deform(
    image: np.ndarray,
    labels: np.ndarray | None,
    weights: np.ndarray | None,
    rng: np.random.Generator,
    sigma: float = 10.0,
    grid: int = 3,
    out_slices: Sequence[slice] | None = None,
    order: int = 1,
    axis_scale: Sequence[float] | None = None,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Elastic deformation of the U-Net paper, applied identically to image, labels and weights.

    Random displacements drawn from N(0, sigma) on a ``grid`` x ``grid`` (x ``grid``) coarse grid are
    upsampled by cubic splines to a smooth per-pixel field; the image is resampled with spline ``order`` and
    the labels and weights with nearest neighbour, all with mirror boundaries.

    Parameters
    ----------
    image : np.ndarray
        ``(C, *spatial)`` float image patch.
    labels, weights : np.ndarray or None
        ``(*spatial)`` arrays at the image's spatial shape.
    rng : np.random.Generator
        Source of randomness.
    sigma : float
        Displacement standard deviation in pixels at the grid points.
    grid : int
        Grid points per axis.
    out_slices : sequence of slice, optional
        Region of the (deformed) image to which labels and weights are cropped; only that region is resampled.
    order : int
        Spline order for the image (0..5).
    axis_scale : sequence of float, optional
        Per spatial axis, a factor of the displacements (see :func:`elastic_axis_scale`); 0 leaves that axis's
        coordinates exact, so every plane is resampled from the same plane only.

    Returns
    -------
    tuple
        ``(image float32 (C, *spatial), labels, weights)``; labels/weights have the shape of ``out_slices``.

    """
    check_patch(image, labels, weights)
    _check_elastic_parameters(sigma, grid, order)
    spatial = image.shape[1:]
    region = check_out_slices(out_slices, spatial)
    if axis_scale is not None and (len(axis_scale) != len(spatial) or not all(
            _is_number(f) and 0 <= f < math.inf for f in axis_scale)):
        raise ValueError(f"axis_scale={axis_scale!r} is invalid: give one factor >= 0 per spatial axis of {spatial}")
    coords = _deformed_coordinates(displacement_field(spatial, rng, sigma, grid, axis_scale))
    if order == 1 and min(spatial) > 1:
        out_image = _linear_mirror(image, coords)
    else:
        out_image = np.empty(image.shape, dtype=np.float32)
        for channel in range(image.shape[0]):
            ndi.map_coordinates(image[channel], coords, output=out_image[channel], order=order, mode="mirror")
    if region is not None:
        coords = coords[(slice(None), *region)]
    if labels is None and weights is None:
        return out_image, None, None
    flat_index = _nearest_flat_index(coords, spatial)
    return out_image, _take(labels, flat_index, len(spatial)), _take(weights, flat_index, len(spatial))
