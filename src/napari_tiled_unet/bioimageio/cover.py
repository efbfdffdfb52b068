"""The cover image of an exported model: the test input beside its predicted classes (2:1, PNG)."""

from __future__ import annotations

import io

import imageio.v3 as iio
import numpy as np

# Class colours: background black, then distinct hues (repeated for many classes).
_PALETTE = np.array([
    [0, 0, 0], [255, 200, 0], [0, 160, 255], [230, 60, 60], [80, 200, 80], [200, 80, 220], [250, 130, 30],
    [120, 230, 230], [160, 160, 160],
], dtype=np.uint8)


def _middle_plane(array: np.ndarray, dims: int) -> np.ndarray:
    """The central Z plane of a 3D ``(C, Z, Y, X)`` array; 2D arrays unchanged."""
    return array[:, array.shape[1] // 2] if dims == 3 else array


def _grey(plane: np.ndarray) -> np.ndarray:
    """A normalised channel (0..1 for the central percentiles) as an RGB image."""
    grey = (np.clip(plane, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=-1)


def cover_png(normalized: np.ndarray, probabilities: np.ndarray, dims: int) -> bytes:
    """PNG bytes: the first input channel (cropped to the output area) | the most probable class per pixel.

    Parameters
    ----------
    normalized : numpy.ndarray
        Preprocessed test input ``(C, *spatial)``.
    probabilities : numpy.ndarray
        Test output ``(K, *spatial_out)``, centred on the input.
    dims : int
        2 or 3 (3D shows the middle plane).

    """
    image = _middle_plane(normalized, dims)[0]
    probs = _middle_plane(probabilities, dims)
    crop = tuple(slice((s - o) // 2, (s - o) // 2 + o) for s, o in zip(image.shape, probs.shape[1:]))
    left = _grey(image[crop])
    classes = np.argmax(probs, axis=0) if probs.shape[0] > 1 else (probs[0] > 0.5).astype(np.intp)
    right = _PALETTE[np.where(classes == 0, 0, 1 + (classes - 1) % (len(_PALETTE) - 1))]
    picture = np.concatenate([left, right], axis=1)
    buffer = io.BytesIO()
    iio.imwrite(buffer, picture, extension=".png")
    return buffer.getvalue()
