"""The cover image of an exported model: the test input beside its predicted labels (2:1, PNG)."""

from __future__ import annotations

import io

import imageio.v3 as iio
import numpy as np

from napari_tiled_unet.postprocess import instances_from_probabilities

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


def cover_labels(probabilities: np.ndarray, instances: bool) -> np.ndarray:
    """What the cover shows of the output: object instances (instance models) or the most probable class."""
    if instances and probabilities.shape[0] == 3:
        return instances_from_probabilities(probabilities)
    if probabilities.shape[0] == 1:
        return (probabilities[0] > 0.5).astype(np.intp)
    return np.argmax(probabilities, axis=0)


def cover_png(normalized: np.ndarray, labels: np.ndarray, dims: int) -> bytes:
    """PNG bytes: the first input channel (cropped to the output area) | the labels in colour (2:1).

    Parameters
    ----------
    normalized : numpy.ndarray
        Preprocessed test input ``(C, *spatial)``.
    labels : numpy.ndarray
        Class or instance labels ``(*spatial_out)`` (0 = background, black), centred on the input.
    dims : int
        2 or 3 (3D shows the middle plane).

    """
    image = _middle_plane(normalized, dims)[0]
    plane = _middle_plane(labels[None], dims)[0]
    crop = tuple(slice((s - o) // 2, (s - o) // 2 + o) for s, o in zip(image.shape, plane.shape))
    left = _grey(image[crop])
    right = _PALETTE[np.where(plane == 0, 0, 1 + (plane - 1) % (len(_PALETTE) - 1))]
    picture = np.concatenate([left, right], axis=1)
    buffer = io.BytesIO()
    iio.imwrite(buffer, picture, extension=".png")
    return buffer.getvalue()
