"""Robust percentile normalisation with whole-image statistics: one rule for every path.

The rule, stored in every model file (``normalization: {"low", "high", "scope": "image"}``): per channel, the
``low`` percentile of the *whole image as given* maps to 0 and the ``high`` percentile to 1 (no clipping).
"Whole image" means every plane and time point of a stack together, never a tile, a block or a single plane,
so that

- training and prediction see the same numbers for the same plane (training computes the statistics on the
  stack before cutting it into planes or patches);
- the quick preview of one plane equals that plane of a full-stack prediction (the preview normalises with
  the statistics of the whole layer);
- lazy and distributed prediction equal in-memory prediction (the statistics are computed once, from the same
  deterministic strided subsample, before any block runs);
- an exported bioimage.io model declares the same thing: ``scale_range`` over the batch and spatial axes, i.e.
  the planes of a stack given as one batch are normalised jointly.

For speed on big images the percentiles are estimated on a deterministic strided subsample of at most
``max_samples`` pixels per channel (:func:`strided_subsample`), identical wherever the same image is given.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_SAMPLES = 4_000_000
"""Default maximum number of pixels per channel used to estimate the percentiles."""

EPS = 1e-6
"""Smallest ``high - low`` range used as divisor (a constant image maps to 0 instead of blowing up)."""

SCOPES = ("image",)
"""Over what the statistics are taken: the whole image as given (all planes and time points), per channel."""


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
    scope : {"image"}
        Statistics over the whole image as given (every plane and time point of a stack together), per
        channel; see the module docstring.

    """

    low: float = 1.0
    high: float = 99.8
    scope: str = "image"

    def __post_init__(self) -> None:
        low = _check_number("low", self.low)
        high = _check_number("high", self.high)
        if not 0.0 <= low < high <= 100.0:
            raise ValueError(
                f"PercentileNormalization low={low!r}, high={high!r} is invalid: use 0 <= low < high <= 100"
            )
        if self.scope not in SCOPES:
            raise ValueError(f"PercentileNormalization scope={self.scope!r} is unknown: use {SCOPES[0]!r}")

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """Return the parameters as a JSON-serialisable dictionary."""
        return {"low": float(self.low), "high": float(self.high), "scope": self.scope}

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
        unknown = sorted(set(data) - {"low", "high", "scope"})
        if unknown:
            raise ValueError(f"unknown normalization keys {unknown}: use only 'low', 'high' and 'scope'")
        return cls(**dict(data))

    # ------------------------------------------------------------------ statistics
    def for_image(self, image: Any, channel_axis: int | None = 0, max_samples: int = MAX_SAMPLES) -> ImageNormalizer:
        """The rule bound to the statistics of a whole image: what every path applies to that image.

        Parameters
        ----------
        image : array-like
            The whole image as given (numpy, dask or zarr; lazy arrays are read through a strided subsample only).
        channel_axis : int or None
            Axis holding the channels (default 0, channel-first), or None for a single-channel image.
        max_samples : int
            At most about this many pixels per channel are read (deterministic stride).

        """
        if channel_axis is None:
            image = image[None]
        elif _normalize_axis(channel_axis, len(image.shape)) != 0:
            image = np.moveaxis(np.asarray(image), channel_axis, 0)
        sample = np.asarray(strided_subsample(image, max_samples))
        low, high = self.compute_stats(sample, channel_axis=0, max_samples=max_samples)
        return ImageNormalizer(tuple(float(v) for v in low), tuple(float(v) for v in high))

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
            low, high = _check_stats(stats, channels_first.shape[0])
        out = ImageNormalizer(tuple(map(float, low)), tuple(map(float, high)))(channels_first)
        if channel_axis is None:
            return out[0]
        return np.moveaxis(out, 0, _normalize_axis(channel_axis, image.ndim))


@dataclass(frozen=True)
class ImageNormalizer:
    """The percentile rule bound to one image's statistics (``low``/``high`` value per channel).

    Small, hashable and picklable, so that it travels with lazy and distributed prediction tasks.
    """

    low: tuple[float, ...]
    high: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.low) != len(self.high) or not self.low:
            raise ValueError(f"ImageNormalizer needs a low and a high value per channel, got {self.low}, {self.high}")
        if not all(math.isfinite(v) for v in (*self.low, *self.high)):
            raise ValueError("ImageNormalizer statistics contain NaN or infinite values: recompute them")

    @property
    def n_channels(self) -> int:
        """Number of channels the statistics describe."""
        return len(self.low)

    @property
    def stats(self) -> tuple[np.ndarray, np.ndarray]:
        """``(low, high)`` as float64 arrays, the form :meth:`PercentileNormalization.apply` takes."""
        return np.asarray(self.low, dtype=np.float64), np.asarray(self.high, dtype=np.float64)

    def __call__(self, region: Any) -> np.ndarray:
        """Normalise a channel-first region (any part of the image) to float32."""
        channels_first = _channels_first(region, 0)
        _check_finite(channels_first)
        if channels_first.shape[0] != self.n_channels:
            raise ValueError(f"region has {channels_first.shape[0]} channel(s) but the statistics describe "
                             f"{self.n_channels}: normalise with the statistics of the same image")
        low, high = self.stats
        scale = 1.0 / np.maximum(high - low, EPS)
        shape = (-1,) + (1,) * (channels_first.ndim - 1)
        out = channels_first.astype(np.float32)
        out -= low.reshape(shape).astype(np.float32)
        out *= scale.reshape(shape).astype(np.float32)
        return out


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
