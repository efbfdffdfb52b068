"""Data augmentation of training patches: dihedral flips, elastic deformation and intensity changes.

Patch conventions: the image is ``(C, *spatial)`` float32, the labels ``(*spatial)`` integer and the optional
weights ``(*spatial)`` or ``(K, *spatial)`` float32 (K per-pixel maps, e.g. loss weights and regression
targets, all resampled like the labels), with 2D ``(Y, X)`` or 3D ``(Z, Y, X)`` spatial axes. Labels with value 0
mean "not annotated" for sparse annotations; every geometric transform maps labels by nearest neighbour (or
an exact permutation), so the label values after augmentation are a subset of those before and 0 stays 0.

Because a valid-padding U-Net predicts only the centre of its input, :func:`augment` and
:func:`elastic_deform` accept ``out_slices``: the labels and weights are given at the full input size (so that
the deformation can pull values from the margin) but are resampled and returned only inside ``out_slices``.

Anisotropic voxels (``spacing``, the voxel size per axis): flips and rotations never swap two axes of different
sizes (the 90-degree rotations of the YX plane need Y and X alike; flips are always fine), and the elastic
displacements are physical (:func:`elastic_axis_scale`): an axis at least twice as coarse as the finest (the
Z step of most confocal stacks, which the per-axis U-Net treats plane by plane too) is not displaced at all,
so the deformation stays within the planes and never interpolates between them, as nnU-Net's in-plane
augmentation of anisotropic data does; the other axes are displaced by the same physical distance.
Isotropic voxels or no spacing keep the augmentation unchanged.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from napari_tiled_unet.anisotropy import ANISOTROPY_RATIO, relative_spacing
from napari_tiled_unet.checks import check_int
from napari_tiled_unet.checks import is_number as _is_number

Slices = tuple[slice, ...]
_RANGES = {
    "gamma_range": (1e-6, math.inf),
    "contrast_range": (0.0, math.inf),
    "brightness_range": (-math.inf, math.inf),
}
_PROBABILITIES = ("elastic_probability", "probability")


@dataclass(frozen=True)
class AugmentationConfig:
    """Which augmentations to apply, with their ranges and probabilities.

    Parameters
    ----------
    flips : bool
        Apply a uniformly random element of the 8 flips/rotations of the YX plane (only the 4 that keep the
        shape when Y != X). In 3D the rotations stay in the YX plane.
    flip_z : bool
        In 3D, also flip the Z axis with probability 0.5 (only when ``flips`` is True).
    elastic : bool
        Apply the elastic deformation of the U-Net paper.
    elastic_sigma : float
        Standard deviation in pixels of the random displacements at the coarse grid points (10 in the paper).
    elastic_grid : int
        Number of coarse grid points per spatial axis (3 in the paper), at least 2.
    elastic_probability : float
        Probability of applying the elastic deformation to a patch.
    elastic_order : int
        Spline order used to resample the image (1 linear, 3 cubic); labels always use nearest neighbour.
    intensity : bool
        Apply the intensity transforms (gamma, contrast/brightness, noise), each with ``probability``.
    gamma_range : tuple of float
        Range of the random gamma exponent, applied on the patch rescaled to [0, 1] per channel by its min/max
        and mapped back, so negative normalised intensities are handled and the range is kept.
    contrast_range : tuple of float
        Range of the factor that scales intensities around the per-channel patch mean.
    brightness_range : tuple of float
        Range of the additive offset (normalised intensities, where 0..1 spans the robust range).
    noise_std_max : float
        Additive Gaussian noise with a standard deviation drawn uniformly in [0, noise_std_max].
    probability : float
        Probability of applying each intensity transform, independently.

    """

    flips: bool = True
    flip_z: bool = True
    elastic: bool = True
    elastic_sigma: float = 10.0
    elastic_grid: int = 3
    elastic_probability: float = 0.5
    elastic_order: int = 1
    intensity: bool = True
    gamma_range: tuple[float, float] = (0.7, 1.5)
    contrast_range: tuple[float, float] = (0.75, 1.25)
    brightness_range: tuple[float, float] = (-0.1, 0.1)
    noise_std_max: float = 0.05
    probability: float = 0.5

    def __post_init__(self) -> None:
        for name in ("flips", "flip_z", "elastic", "intensity"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(
                    f"AugmentationConfig.{name}={getattr(self, name)!r} is invalid: use True or False"
                )
        for name, bounds in _RANGES.items():
            object.__setattr__(self, name, _check_range(name, getattr(self, name), bounds))
        for name in _PROBABILITIES:
            value = getattr(self, name)
            if not _is_number(value) or not 0.0 <= value <= 1.0:
                raise ValueError(
                    f"AugmentationConfig.{name}={value!r} is invalid: use a probability in [0, 1]"
                )
        for name in ("elastic_sigma", "noise_std_max"):
            value = getattr(self, name)
            if not _is_number(value) or not 0.0 <= value < math.inf:
                raise ValueError(f"AugmentationConfig.{name}={value!r} is invalid: use a finite number >= 0")
        check_int("AugmentationConfig.elastic_grid", self.elastic_grid, 2, 32)
        check_int("AugmentationConfig.elastic_order", self.elastic_order, 0, 5)

    def to_dict(self) -> dict[str, Any]:
        """Return the configuration as a JSON-serialisable dictionary (ranges as lists)."""
        data = dataclasses.asdict(self)
        return {key: list(value) if isinstance(value, tuple) else value for key, value in data.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AugmentationConfig:
        """Build from a dictionary written by :meth:`to_dict`; missing keys take their default."""
        if not isinstance(data, Mapping):
            raise ValueError(
                f"augmentation settings {data!r} are invalid: use a dict of AugmentationConfig fields"
            )
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown augmentation keys {unknown}: use only {sorted(known)}")
        return cls(**dict(data))


def _check_range(name: str, value: Any, bounds: tuple[float, float]) -> tuple[float, float]:
    low, high = bounds
    if (
        not isinstance(value, Sequence)
        or len(value) != 2
        or not all(_is_number(v) for v in value)
        or not low <= value[0] <= value[1] <= high
        or not all(math.isfinite(v) for v in value)
    ):
        raise ValueError(
            f"AugmentationConfig.{name}={value!r} is invalid: "
            f"use (min, max) with {low} <= min <= max <= {high}"
        )
    return (float(value[0]), float(value[1]))


# ---------------------------------------------------------------------- input checks
def _check_patch(image: np.ndarray, labels: np.ndarray | None, weights: np.ndarray | None) -> None:
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


def _check_out_slices(out_slices: Sequence[slice] | None, shape: tuple[int, ...]) -> Slices | None:
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


# ---------------------------------------------------------------------- flips
def random_flip(
    image: np.ndarray,
    labels: np.ndarray | None,
    weights: np.ndarray | None,
    rng: np.random.Generator,
    flip_z: bool = True,
    rotate: bool = True,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Apply the same random dihedral transform of the YX plane (and Z flip in 3D) to all arrays.

    Returns views (no copy). When Y != X in size, or ``rotate`` is False (pixels of different height and
    width), only the 4 transforms that keep the axes in place are drawn.
    """
    _check_patch(image, labels, weights)
    square = image.shape[-1] == image.shape[-2] and rotate
    k = int(rng.integers(4)) if square else 2 * int(rng.integers(2))
    flip_x = bool(rng.integers(2))
    flip_zaxis = flip_z and image.ndim == 4 and bool(rng.integers(2))

    def transform(array: np.ndarray | None) -> np.ndarray | None:
        if array is None:
            return None
        out = np.rot90(array, k, axes=(-2, -1)) if k else array
        if flip_x:
            out = out[..., ::-1]
        if flip_zaxis:
            out = np.flip(out, axis=-3)
        return out

    return transform(image), transform(labels), transform(weights)


# ---------------------------------------------------------------------- elastic deformation
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


def _in_plane_rotations(spacing: Sequence[float] | None) -> bool:
    """True when the last two axes have the same pixel size (within 1%), so 90-degree rotations keep it."""
    if spacing is None:
        return True
    y, x = float(spacing[-2]), float(spacing[-1])
    return abs(y - x) <= 0.01 * max(y, x)


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
    _check_patch(image, labels, weights)
    _check_elastic_parameters(sigma, grid, order)
    spatial = image.shape[1:]
    region = _check_out_slices(out_slices, spatial)
    if axis_scale is not None and (len(axis_scale) != len(spatial) or not all(
            _is_number(f) and 0 <= f < math.inf for f in axis_scale)):
        raise ValueError(f"axis_scale={axis_scale!r} is invalid: give one factor >= 0 per spatial axis of {spatial}")
    coords = _deformed_coordinates(displacement_field(spatial, rng, sigma, grid, axis_scale))
    out_image = np.empty(image.shape, dtype=np.float32)
    for channel in range(image.shape[0]):
        ndi.map_coordinates(image[channel], coords, output=out_image[channel], order=order, mode="mirror")
    if region is not None:
        coords = coords[(slice(None), *region)]
    if labels is None and weights is None:
        return out_image, None, None
    flat_index = _nearest_flat_index(coords, spatial)
    return out_image, _take(labels, flat_index, len(spatial)), _take(weights, flat_index, len(spatial))


# ---------------------------------------------------------------------- intensity
def _channel_shape(image: np.ndarray) -> tuple[int, ...]:
    return (image.shape[0],) + (1,) * (image.ndim - 1)


def random_gamma(image: np.ndarray, gamma: float) -> np.ndarray:
    """In place: ``x -> lo + (hi - lo) * ((x - lo) / (hi - lo)) ** gamma`` with the per-channel min/max.

    Rescaling by the patch's own range keeps negative normalised values valid and keeps the range.
    """
    flat = image.reshape(image.shape[0], -1)
    low = flat.min(axis=1).reshape(_channel_shape(image))
    span = np.maximum(flat.max(axis=1).reshape(_channel_shape(image)) - low, np.float32(1e-6))
    image -= low
    image /= span
    np.power(image, np.float32(gamma), out=image)
    image *= span
    image += low
    return image


def random_intensity(image: np.ndarray, rng: np.random.Generator, config: AugmentationConfig) -> np.ndarray:
    """In place: gamma, contrast/brightness and Gaussian noise, each with ``config.probability``."""
    p = config.probability
    if rng.random() < p:
        random_gamma(image, rng.uniform(*config.gamma_range))
    if rng.random() < p:
        contrast = np.float32(rng.uniform(*config.contrast_range))
        brightness = np.float32(rng.uniform(*config.brightness_range))
        mean = image.reshape(image.shape[0], -1).mean(axis=1).reshape(_channel_shape(image))
        image -= mean
        image *= contrast
        image += mean + brightness
    if rng.random() < p and config.noise_std_max > 0:
        std = np.float32(rng.uniform(0.0, config.noise_std_max))
        noise = rng.standard_normal(image.shape, dtype=np.float32)
        noise *= std
        image += noise
    return image


# ---------------------------------------------------------------------- pipeline
def augment(
    image: np.ndarray,
    labels: np.ndarray | None,
    weights: np.ndarray | None,
    rng: np.random.Generator,
    config: AugmentationConfig | None = None,
    out_slices: Sequence[slice] | None = None,
    spacing: Sequence[float] | None = None,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Augment one training patch; the inputs are not modified.

    Parameters
    ----------
    image : np.ndarray
        ``(C, *spatial)`` float image patch.
    labels, weights : np.ndarray or None
        ``(*spatial)`` arrays at the image's spatial shape.
    rng : np.random.Generator
        Source of randomness.
    config : AugmentationConfig, optional
        Defaults to ``AugmentationConfig()``.
    out_slices : sequence of slice, optional
        Network output region within the input patch: labels and weights are returned cropped to it (after
        the geometric transforms, so they stay aligned with the network output).
    spacing : sequence of float, optional
        Voxel size per spatial axis (any unit): rotations only where Y and X are alike, elastic displacements
        physical and within the planes of a coarse axis (see the module notes). None: pixels are cubes.

    Returns
    -------
    tuple
        ``(image, labels, weights)`` as new C-contiguous arrays (image float32), None where given None.

    """
    config = AugmentationConfig() if config is None else config
    if not isinstance(config, AugmentationConfig):
        raise ValueError(f"config={config!r} is invalid: use an AugmentationConfig")
    _check_patch(image, labels, weights)
    region = _check_out_slices(out_slices, image.shape[1:])
    if spacing is not None and len(spacing) != image.ndim - 1:
        raise ValueError(f"spacing={tuple(spacing)!r} is invalid: give one voxel size per spatial axis of "
                         f"{image.shape[1:]}")
    original_labels, original_weights = labels, weights
    if config.flips:
        image, labels, weights = random_flip(image, labels, weights, rng, config.flip_z, _in_plane_rotations(spacing))
    if config.elastic and config.elastic_sigma > 0 and rng.random() < config.elastic_probability:
        image, labels, weights = elastic_deform(
            image,
            labels,
            weights,
            rng,
            config.elastic_sigma,
            config.elastic_grid,
            region,
            config.elastic_order,
            elastic_axis_scale(spacing),
        )
    else:
        image = np.array(image, dtype=np.float32, order="C")
        if region is not None:
            labels = None if labels is None else labels[region]
            weights = None if weights is None else weights[(Ellipsis, *region)]
    if config.intensity:
        random_intensity(image, rng, config)
    return image, _new_contiguous(labels, original_labels), _new_contiguous(weights, original_weights)


def _new_contiguous(array: np.ndarray | None, original: np.ndarray | None) -> np.ndarray | None:
    """Return a C-contiguous array that owns its data: the caller's array and views of it are copied."""
    if array is None or (array is not original and array.base is None and array.flags.c_contiguous):
        return array
    return np.array(array, order="C")
