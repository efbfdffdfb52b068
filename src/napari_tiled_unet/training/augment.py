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
from typing import Any

import numpy as np

from napari_tiled_unet.checks import check_int
from napari_tiled_unet.checks import is_number as _is_number
from napari_tiled_unet.training.elastic import (
    check_out_slices,
    check_patch,
    displacement_field,
    elastic_axis_scale,
    elastic_deform,
)

__all__ = [
    "AugmentationConfig",
    "augment",
    "displacement_field",
    "elastic_axis_scale",
    "elastic_deform",
    "random_flip",
    "random_gamma",
    "random_intensity",
]
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
    check_patch(image, labels, weights)
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


def _in_plane_rotations(spacing: Sequence[float] | None) -> bool:
    """True when the last two axes have the same pixel size (within 1%), so 90-degree rotations keep it."""
    if spacing is None:
        return True
    y, x = float(spacing[-2]), float(spacing[-1])
    return abs(y - x) <= 0.01 * max(y, x)


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
    check_patch(image, labels, weights)
    region = check_out_slices(out_slices, image.shape[1:])
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
