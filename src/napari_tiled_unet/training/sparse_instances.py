"""Sparse instance annotation: a few objects painted completely, some background painted with 1 (or none).

The convention is that of the semantic scribbles, so one labels layer serves both and napari's "new label"
button gives the ids: 0 = not annotated (ignored by the loss), 1 = background painted by the user, 2.. = objects,
each painted completely with its own id. Touching painted objects are separated like dense instance masks.

Many people paint a few objects and no background at all, numbering them 1, 2, 3... (the BBBC007 and blobs
annotations in our real-data set). :func:`background_mode` recognises that (label 1 is then one compact blob
the size of the other objects, not strokes), and :func:`inferred_background` marks background where it is
unambiguous instead of treating unpainted objects as background:

- a pixel is background when it is clearly on the background side of the image's intensities: below (for
  bright objects; above for dark ones) the midpoint between the typical background level and the Otsu
  threshold of the image, and
- at least :data:`INFER_MARGIN` pixels away from every painted object.

Everything else that is unpainted (unpainted objects, dim objects, the halo of painted ones) stays ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from scipy import ndimage as ndi
from skimage.filters import threshold_otsu

from napari_tiled_unet.training.label_shapes import sample_for_shapes, value_shapes

BackgroundMode = Literal["auto", "painted", "inferred"]
BACKGROUND_MODES: tuple[str, ...] = ("auto", "painted", "inferred")
PAINTED_BACKGROUND = 1
INFER_MARGIN = 2
"""Pixels around painted objects that inferred background leaves out (the edge a person paints loosely)."""


def background_mode(labels: Sequence[np.ndarray]) -> tuple[str, str]:
    """Decide whether label 1 is painted background or the first painted object.

    Returns
    -------
    tuple of str
        ``("painted" | "inferred", reason)``: "inferred" when no label image uses 1 as background (1 is one
        compact blob of an object's size, or 1 is absent), with a one-line reason for the user.

    """
    ones, others = [], []
    for lab in labels:
        shapes = value_shapes(sample_for_shapes(lab))
        ones += [s for s in shapes if s.value == PAINTED_BACKGROUND]
        others += [s for s in shapes if s.value != PAINTED_BACKGROUND]
    if not ones:
        return "inferred", "no pixel is painted with 1 (background): background is inferred"
    sizes = [s.pixels for s in others if s.compact]
    object_like = all(s.compact for s in ones) and bool(sizes) and all(
        0.1 * np.median(sizes) <= s.pixels <= 10 * np.median(sizes) for s in ones)
    if object_like:
        return "inferred", ("label 1 is painted like the other objects (one filled blob of the same size), so it "
                            "is read as an object and background is inferred; paint background with 1 to say where "
                            "it is")
    return "painted", "label 1 is painted background"


def as_painted_convention(labels: np.ndarray, mode: str) -> np.ndarray:
    """Labels in the convention 0 = not annotated, 1 = background, 2.. = objects (objects shifted by one if needed).

    In "inferred" mode every non-zero value is an object; the background (value 1) is added by
    :func:`with_inferred_background`.
    """
    labels = np.asarray(labels)
    if mode == "painted":
        return labels
    shifted = labels.astype(np.int64, copy=True)
    shifted[shifted > 0] += 1
    return shifted


def inferred_background(image: np.ndarray, objects: np.ndarray, margin: int = INFER_MARGIN) -> np.ndarray:
    """Pixels that are unambiguously background next to a few painted objects (see the module docstring).

    Parameters
    ----------
    image : np.ndarray
        ``(C, *spatial)`` normalised image.
    objects : np.ndarray
        ``(*spatial)`` mask of the painted objects.
    margin : int
        Pixels around the painted objects left out.

    Returns
    -------
    np.ndarray
        Boolean mask of background pixels.

    """
    intensity = np.asarray(image, dtype=np.float32).mean(axis=0)
    objects = np.asarray(objects, dtype=bool)
    if not objects.any() or objects.all():
        return np.zeros(objects.shape, dtype=bool)
    sample = intensity[:: max(1, intensity.shape[0] // 512)] if intensity.ndim == 3 else intensity
    threshold = float(threshold_otsu(sample))
    bright = float(np.median(intensity[objects])) >= threshold
    side = intensity < threshold if bright else intensity > threshold
    if not side.any():
        return np.zeros(objects.shape, dtype=bool)
    level = float(np.median(intensity[side]))
    cut = level + 0.5 * (threshold - level)
    clear = intensity < cut if bright else intensity > cut
    far = ndi.distance_transform_edt(~objects) > margin
    return clear & far


def with_inferred_background(image: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Painted-convention labels with value 1 added where :func:`inferred_background` finds background."""
    result = np.array(labels, dtype=np.int64, copy=True)
    background = inferred_background(image, result >= 2) & (result == 0)
    result[background] = PAINTED_BACKGROUND
    return result
