"""Robust percentile normalisation with whole-image statistics.

The statistics are computed once over the whole image (not per tile), so that tiles of a large image are
normalised consistently and the result does not depend on the tiling. For speed on big images the
percentiles are estimated on a deterministic strided subsample of at most ``max_samples`` pixels per channel.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

MAX_SAMPLES = 4_000_000
"""Default maximum number of pixels per channel used to estimate the percentiles."""

EPS = 1e-6
"""Smallest ``high - low`` range used as divisor (a constant image maps to 0 instead of blowing up)."""


def _check_number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"PercentileNormalization.{name}={value!r} is invalid: use a number in [0, 100]")
    return float(value)


@dataclass(frozen=True)
class PercentileNormalization:
    """Map the ``low`` percentile of every channel to 0 and the ``high`` percentile to 1 (no clipping).

    Parameters
    ----------
    low : float
        Lower percentile, in [0, 100).
    high : float
        Upper percentile, in (low, 100].

    """

    low: float = 1.0
    high: float = 99.8

    def __post_init__(self) -> None:
        low = _check_number("low", self.low)
        high = _check_number("high", self.high)
        if not 0.0 <= low < high <= 100.0:
            raise ValueError(
                f"PercentileNormalization low={low!r}, high={high!r} is invalid: use 0 <= low < high <= 100"
            )

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, float]:
        """Return the parameters as a JSON-serialisable dictionary."""
        return {key: float(value) for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PercentileNormalization:
        """Build from a dictionary written by :meth:`to_dict`; missing keys take their default.

        Raises
        ------
        ValueError
            If ``data`` is not a mapping, has unknown keys or out-of-range values.

        """
        if not isinstance(data, Mapping):
            raise ValueError(f"normalization settings {data!r} are invalid: use a dict with 'low' and 'high'")
        unknown = sorted(set(data) - {"low", "high"})
        if unknown:
            raise ValueError(f"unknown normalization keys {unknown}: use only 'low' and 'high'")
        return cls(**dict(data))

    # ------------------------------------------------------------------ statistics
    def compute_stats(
        self, image: np.ndarray, channel_axis: int | None = None, max_samples: int = MAX_SAMPLES
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel ``low`` and ``high`` percentile values over the whole image.

        Parameters
        ----------
        image : np.ndarray
            Image of any dimensionality, with or without a channel axis.
        channel_axis : int or None
            Axis holding the channels, or None for a single-channel image.
        max_samples : int
            At most about this many pixels per channel are used (deterministic stride along the spatial axes).

        Returns
        -------
        tuple of np.ndarray
            ``(low_values, high_values)``, float64 of shape ``(n_channels,)`` (``(1,)`` without channels).

        Raises
        ------
        ValueError
            If the image is empty, not numeric, or contains NaN or infinite values.

        """
        channels_first = _channels_first(image, channel_axis)
        _check_finite(channels_first)
        sample = strided_subsample(channels_first, max_samples)
        flat = sample.reshape(sample.shape[0], -1).astype(np.float64, copy=False)
        low, high = np.percentile(flat, [self.low, self.high], axis=1)
        return low, high

    def apply(
        self,
        image: np.ndarray,
        channel_axis: int | None = None,
        stats: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> np.ndarray:
        """Normalise ``image`` to float32 so that the ``low`` percentile is 0 and the ``high`` one is 1.

        Parameters
        ----------
        image : np.ndarray
            Image of any dimensionality, with or without a channel axis.
        channel_axis : int or None
            Axis holding the channels, or None for a single-channel image.
        stats : tuple of np.ndarray, optional
            Precomputed ``(low_values, high_values)`` from :meth:`compute_stats` (e.g. of the whole image when
            normalising a tile); computed from ``image`` when None.

        Returns
        -------
        np.ndarray
            float32 array of the same shape as ``image``. Values are not clipped.

        Raises
        ------
        ValueError
            If the image contains NaN or infinite values, or ``stats`` does not match the channels.

        """
        channels_first = _channels_first(image, channel_axis)
        if stats is None:
            low, high = self.compute_stats(image, channel_axis)
        else:
            _check_finite(channels_first)
            low, high = _check_stats(stats, channels_first.shape[0])
        scale = 1.0 / np.maximum(high - low, EPS)
        shape = (-1,) + (1,) * (channels_first.ndim - 1)
        out = channels_first.astype(np.float32)
        out -= low.reshape(shape).astype(np.float32)
        out *= scale.reshape(shape).astype(np.float32)
        if channel_axis is None:
            return out[0]
        return np.moveaxis(out, 0, _normalize_axis(channel_axis, image.ndim))


# ---------------------------------------------------------------------- helpers
def _normalize_axis(channel_axis: int, ndim: int) -> int:
    if isinstance(channel_axis, bool) or not isinstance(channel_axis, (int, np.integer)):
        raise ValueError(f"channel_axis={channel_axis!r} is invalid: use an integer axis or None")
    if not -ndim <= channel_axis < ndim:
        raise ValueError(
            f"channel_axis={channel_axis} is out of range for a {ndim}D image: use -{ndim}..{ndim - 1}"
        )
    return int(channel_axis) % ndim


def _channels_first(image: np.ndarray, channel_axis: int | None) -> np.ndarray:
    """Return a view of ``image`` with the channels on axis 0 (a length-1 axis when there are none)."""
    image = np.asarray(image)
    if image.dtype == bool or not np.issubdtype(image.dtype, np.number) or np.iscomplexobj(image):
        raise ValueError(f"image dtype {image.dtype} is not supported: use an integer or float image")
    if image.size == 0:
        raise ValueError(f"image of shape {image.shape} is empty: use an image with at least one pixel")
    if channel_axis is None:
        return image[np.newaxis]
    return np.moveaxis(image, _normalize_axis(channel_axis, image.ndim), 0)


def _check_finite(image: np.ndarray) -> None:
    if np.issubdtype(image.dtype, np.floating) and not np.isfinite(image).all():
        raise ValueError(
            "image contains NaN or infinite values; replace them first (e.g. with np.nan_to_num)"
        )


def strided_subsample(image: Any, max_samples: int) -> Any:
    """Strided view of the spatial axes (1..) with at most about ``max_samples`` pixels per channel.

    Works on any array that supports step slicing (numpy, dask, zarr); nothing is read into memory here.
    """
    if max_samples < 1:
        raise ValueError(f"max_samples={max_samples} is invalid: use a positive integer")
    spatial = list(image.shape[1:])
    steps = [1] * len(spatial)
    sizes = list(spatial)
    while math.prod(sizes) > max_samples:
        axis = int(np.argmax(sizes))
        steps[axis] += 1
        sizes[axis] = -(-spatial[axis] // steps[axis])
    return image[(slice(None), *tuple(slice(None, None, step) for step in steps))]


def _check_stats(stats: tuple[np.ndarray, np.ndarray], n_channels: int) -> tuple[np.ndarray, np.ndarray]:
    try:
        low, high = (np.asarray(value, dtype=np.float64).reshape(-1) for value in stats)
    except (TypeError, ValueError):
        raise ValueError(
            f"stats={stats!r} is invalid: use the (low, high) tuple returned by compute_stats"
        ) from None
    if low.shape != (n_channels,) or high.shape != (n_channels,):
        raise ValueError(
            f"stats have {low.size}/{high.size} values but the image has {n_channels} channel(s): "
            "compute them with the same channel_axis"
        )
    if not (np.isfinite(low).all() and np.isfinite(high).all()):
        raise ValueError("stats contain NaN or infinite values: recompute them with compute_stats")
    return low, high
