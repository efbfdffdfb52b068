"""Smooth random fields and broad blurs, computed on a coarse grid where they are smooth (fast)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

# a Gaussian of sigma s needs a grid step of about s / _STEPS_PER_SIGMA to stay smooth after upsampling
_STEPS_PER_SIGMA = 3.0


def _upsample(low: np.ndarray, factors: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Linear upsampling of a coarse grid by ``factors``, cropped to ``shape``."""
    if np.all(factors == 1):
        return low[tuple(slice(0, s) for s in shape)]
    up = ndi.zoom(low, factors, order=1, grid_mode=True, mode="nearest")
    return up[tuple(slice(0, s) for s in shape)]


def smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], scale: float | np.ndarray) -> np.ndarray:
    """A smooth zero-mean random field of unit standard deviation and correlation length ``scale``.

    Parameters
    ----------
    rng : numpy.random.Generator
        The random stream.
    shape : tuple of int
        Output shape.
    scale : float or array
        Correlation length (Gaussian sigma) per axis, in pixels of the array.

    Returns
    -------
    np.ndarray
        float32 field.

    """
    sigma = np.broadcast_to(np.asarray(scale, dtype=float), (len(shape),))
    factors = np.maximum(1, np.floor(sigma / _STEPS_PER_SIGMA)).astype(int)
    low_shape = tuple(int(np.ceil(s / f)) + 2 for s, f in zip(shape, factors, strict=True))
    low = ndi.gaussian_filter(rng.standard_normal(low_shape, dtype=np.float32), sigma / factors, mode="wrap")
    field = _upsample(low, factors, shape)
    std = float(field.std())
    return (field - field.mean()) / (std if std > 0 else 1.0)


def blur(array: np.ndarray, sigma: float | np.ndarray) -> np.ndarray:
    """Gaussian blur with ``sigma`` (per axis, array pixels); broad sigmas run on a block-averaged grid."""
    sigma = np.broadcast_to(np.asarray(sigma, dtype=float), (array.ndim,))
    factors = np.maximum(1, np.floor(sigma / _STEPS_PER_SIGMA)).astype(int)
    if np.all(factors == 1):
        return ndi.gaussian_filter(array, sigma, mode="reflect")
    padded_shape = [int(np.ceil(s / f)) * f for s, f in zip(array.shape, factors, strict=True)]
    padded = np.pad(array, [(0, p - s) for p, s in zip(padded_shape, array.shape, strict=True)], mode="edge")
    blocks = padded.reshape([v for p, f in zip(padded_shape, factors, strict=True) for v in (p // f, f)])
    low = blocks.mean(axis=tuple(range(1, 2 * array.ndim, 2)))
    low = ndi.gaussian_filter(low, sigma / factors, mode="reflect")
    return _upsample(low, factors, array.shape)
