"""Label images from network outputs: class argmax, and instances by seeded watershed.

For the instance task the network predicts softmax probabilities of (background, interior, boundary) and,
since version 0.2, a centre distance (1 at every object's centre, falling to 0 at its border, touching objects
meeting in a valley). Seeds are the connected regions where the centre distance is above ``seed_threshold``
(models without the distance channel: where p(interior) is), the foreground is where p(background) is below
``1 - foreground_threshold``, and a watershed grows every seed over the foreground, so that touching objects
stay apart. The thresholds and the minimum object size are chosen on the validation region after training
(:mod:`napari_tiled_unet.training.threshold_tuning`) and stored in the model (:class:`InstanceSettings`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage as ndi
from skimage.segmentation import relabel_sequential, watershed

from napari_tiled_unet.checks import check_fraction as _check_fraction
from napari_tiled_unet.checks import check_int


def _check_probabilities(probs: np.ndarray, n_classes: int | None) -> np.ndarray:
    probs = np.asarray(probs)
    if probs.ndim not in (3, 4) or (n_classes is not None and probs.shape[0] != n_classes):
        expected = "(classes, ...)" if n_classes is None else f"({n_classes}, ...)"
        raise ValueError(
            f"probabilities of shape {probs.shape} are invalid: use {expected} then (Y, X) or (Z, Y, X)"
        )
    if not np.issubdtype(probs.dtype, np.floating) or not np.isfinite(probs).all():
        raise ValueError("probabilities must be finite floats: pass the softmax output of the network")
    return probs


@dataclass(frozen=True)
class InstanceSettings:
    """The post-processing that turns an instance model's outputs into objects.

    Parameters
    ----------
    seed_threshold : float
        Seeds: connected regions where the centre distance (or p(interior)) is above this.
    foreground_threshold : float
        Objects grow over pixels where ``1 - p(background)`` is above this.
    min_size : int
        Objects with fewer pixels (voxels in 3D) are removed.

    """

    seed_threshold: float = 0.5
    foreground_threshold: float = 0.5
    min_size: int = 16

    def __post_init__(self) -> None:
        _check_fraction("seed_threshold", self.seed_threshold)
        _check_fraction("foreground_threshold", self.foreground_threshold)
        check_int("min_size", self.min_size, 0, 2**31 - 1)

    @classmethod
    def defaults(cls, dims: int) -> InstanceSettings:
        """Defaults before tuning: 16 pixels in 2D, 64 voxels in 3D."""
        return cls(min_size=16 if dims == 2 else 64)

    def to_dict(self) -> dict[str, float | int]:
        """JSON-serialisable dictionary."""
        return {"seed_threshold": float(self.seed_threshold), "foreground_threshold": float(self.foreground_threshold),
                "min_size": int(self.min_size)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InstanceSettings:
        """Build from :meth:`to_dict`'s output, rejecting unknown keys."""
        if not isinstance(data, Mapping):
            raise ValueError(f"post-processing settings {data!r} are invalid: use a dict")
        unknown = sorted(set(data) - {"seed_threshold", "foreground_threshold", "min_size"})
        if unknown:
            raise ValueError(f"unknown post-processing keys {unknown}: use seed_threshold, foreground_threshold, "
                             "min_size")
        return cls(**dict(data))

    def replace(self, **changes: Any) -> InstanceSettings:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


def instances_from_distance(probs: np.ndarray, distance: np.ndarray,
                            settings: InstanceSettings | None = None) -> np.ndarray:
    """Instance labels from (background, interior, boundary) probabilities and the centre distance.

    Parameters
    ----------
    probs : np.ndarray
        ``(3, *spatial)`` softmax probabilities, spatial 2D or 3D.
    distance : np.ndarray
        ``(*spatial)`` centre distance in [0, 1] (the sigmoid of the model's distance channel).
    settings : InstanceSettings, optional
        Thresholds and minimum size; the 2D/3D defaults when None.

    Returns
    -------
    np.ndarray
        uint32 labels of shape ``spatial``: 0 background, objects numbered 1..n.

    """
    probs = _check_probabilities(probs, 3)
    distance = np.asarray(distance, dtype=np.float32)
    if distance.shape != probs.shape[1:]:
        raise ValueError(f"distance of shape {distance.shape} does not match probabilities {probs.shape[1:]}")
    settings = settings or InstanceSettings.defaults(distance.ndim)
    foreground = (1.0 - probs[0]) > settings.foreground_threshold
    structure = ndi.generate_binary_structure(distance.ndim, 1)
    seeds, _ = ndi.label((distance > settings.seed_threshold) & foreground, structure=structure)
    if not seeds.any():
        return np.zeros(foreground.shape, dtype=np.uint32)
    labels = watershed(-distance, markers=seeds, mask=foreground, connectivity=1)
    labels = _remove_small(labels, int(settings.min_size))
    relabelled, _, _ = relabel_sequential(labels)
    return relabelled.astype(np.uint32, copy=False)


def _check_count(name: str, value: int) -> None:
    check_int(name, value, 0, 2**31 - 1)


def labels_from_probabilities(probs: np.ndarray) -> np.ndarray:
    """Class with the highest probability at every pixel.

    Parameters
    ----------
    probs : np.ndarray
        ``(n_classes, *spatial)`` probabilities or logits, spatial 2D or 3D.

    Returns
    -------
    np.ndarray
        uint8 class indices (uint16 for more than 256 classes) of shape ``spatial``.

    """
    probs = _check_probabilities(probs, None)
    dtype = np.uint8 if probs.shape[0] <= 256 else np.uint16
    return np.argmax(probs, axis=0).astype(dtype)


def _remove_small(labels: np.ndarray, min_size: int) -> np.ndarray:
    """Set objects with fewer than ``min_size`` pixels to 0 (in place) and return ``labels``."""
    if min_size > 1 and labels.max() > 0:
        sizes = np.bincount(labels.reshape(-1))
        small = sizes < min_size
        small[0] = False
        labels[small[labels]] = 0
    return labels


def _seeds(
    interior: np.ndarray, foreground: np.ndarray, threshold: float, erosion: int, min_size: int
) -> np.ndarray:
    structure = ndi.generate_binary_structure(interior.ndim, 1)
    mask = (interior > threshold) & foreground
    if erosion > 0:
        mask = ndi.binary_erosion(mask, structure=structure, iterations=erosion)
    seeds, _ = ndi.label(mask, structure=structure)
    return _remove_small(seeds, min_size)


def instances_from_probabilities(
    probs: np.ndarray,
    *,
    seed_threshold: float = 0.6,
    foreground_threshold: float = 0.5,
    seed_erosion: int = 1,
    min_seed_size: int = 4,
    min_size: int = 16,
) -> np.ndarray:
    """Instance labels from (background, interior, boundary) probabilities by seeded watershed.

    Parameters
    ----------
    probs : np.ndarray
        ``(3, *spatial)`` softmax probabilities, spatial 2D or 3D.
    seed_threshold : float
        Seeds are the face-connected components of ``p(interior) > seed_threshold``.
    foreground_threshold : float
        Objects are grown over ``1 - p(background) > foreground_threshold``.
    seed_erosion : int
        Binary erosion steps applied to the seed mask, to split seeds joined by thin bridges.
    min_seed_size : int
        Seeds with fewer pixels are dropped.
    min_size : int
        Objects with fewer pixels after the watershed are removed.

    Returns
    -------
    np.ndarray
        uint32 labels of shape ``spatial``: 0 background, objects numbered 1..n.

    """
    probs = _check_probabilities(probs, 3)
    _check_fraction("seed_threshold", seed_threshold)
    _check_fraction("foreground_threshold", foreground_threshold)
    for name, value in (
        ("seed_erosion", seed_erosion),
        ("min_seed_size", min_seed_size),
        ("min_size", min_size),
    ):
        _check_count(name, value)
    foreground = (1.0 - probs[0]) > foreground_threshold
    seeds = _seeds(probs[1], foreground, seed_threshold, int(seed_erosion), int(min_seed_size))
    if not seeds.any():
        return np.zeros(foreground.shape, dtype=np.uint32)
    elevation = 1.0 - probs[1].astype(np.float32, copy=False)
    labels = watershed(elevation, markers=seeds, mask=foreground, connectivity=1)
    labels = _remove_small(labels, int(min_size))
    relabelled, _, _ = relabel_sequential(labels)
    return relabelled.astype(np.uint32, copy=False)


def semantic_instances(labels: np.ndarray, background: int = 0) -> np.ndarray:
    """Instances of a semantic labelling: connected components of every non-background class.

    Parameters
    ----------
    labels : np.ndarray
        Integer class labels, 2D or 3D.
    background : int
        The label value that is not an object.

    Returns
    -------
    np.ndarray
        uint32 instance ids (0 background), distinct across classes.

    """
    result = np.zeros(labels.shape, dtype=np.uint32)
    offset = 0
    for value in np.unique(labels):
        if value == background:
            continue
        components, count = ndi.label(labels == value)
        inside = components > 0
        result[inside] = components[inside] + offset
        offset += count
    return result
