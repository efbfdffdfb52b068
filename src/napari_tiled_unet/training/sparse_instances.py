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
  threshold of the image, or the dimmest painted object if that is dimmer (whether objects are bright is read
  from the painted objects against their surroundings, :func:`objects_are_bright`), and
- at least :data:`INFER_MARGIN` pixels away from every painted object.

Everything else that is unpainted (unpainted objects, dim objects) stays ignored.

Just outside a painted object, people leave the pixels unpainted (or paint them loosely), so the network never
learns where objects end and grows a rim of foreground around them that the watershed cuts into extra objects.
:func:`edge_band_background` therefore marks the pixels within :data:`INFER_MARGIN` of a painted object that are
darker than that object's own painted edge (brighter, for dark objects) as background: plain background there,
while a touching unpainted neighbour, as bright as the edge, stays ignored (but for its outermost pixels
where it meets the background). This is done where background strokes are painted;
without them, the margin stays ignored, because there the painted nuclei of BBBC007 were found less well with
the band (fine-tuned from builtin:nuclei, recall of its painted nuclei 0.87 to 0.80 in two runs).

Where background strokes are painted, people paint them next to the objects they painted, so the network never
sees the empty far background labelled and may call it foreground there. :func:`flat_background` adds that
empty background too, but only where the image holds no structure at the painted objects' scale at all (no
bump of even a tenth of a painted object's contrast within an object radius), so that dim, hazy or
unpainted objects and textured background are never taught as background.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from scipy import ndimage as ndi
from skimage.filters import threshold_otsu

from napari_tiled_unet.object_scale import median_radius
from napari_tiled_unet.training.label_shapes import sample_for_shapes, value_shapes

BackgroundMode = Literal["auto", "painted", "inferred"]
BACKGROUND_MODES: tuple[str, ...] = ("auto", "painted", "inferred")
PAINTED_BACKGROUND = 1
INFER_MARGIN = 2
"""Pixels around painted objects that inferred background leaves out (the edge a person paints loosely)."""
FLAT_CONTRAST = 0.1
"""Structure below this share of the painted objects' median contrast counts as flat (see :func:`flat_background`)."""


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
    return "painted", ("label 1 is painted background; the plain background just outside painted objects and "
                       "empty, flat background far from them are added")


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
    distance = ndi.distance_transform_edt(~objects)
    bright = objects_are_bright(intensity, objects, distance, margin)
    signed = intensity if bright else -intensity
    sample = signed[:: max(1, signed.shape[0] // 512)] if signed.ndim == 3 else signed
    threshold = float(threshold_otsu(sample))
    below = signed < threshold
    if not below.any():
        return np.zeros(objects.shape, dtype=bool)
    level = float(np.median(signed[below]))
    ids = ndi.label(objects)[0]
    dimmest = float(np.min(ndi.median(signed, ids, np.arange(1, int(ids.max()) + 1))))
    cut = level + 0.5 * (min(threshold, dimmest) - level)
    return (signed < cut) & (distance > margin)


def objects_are_bright(intensity: np.ndarray, objects: np.ndarray, distance: np.ndarray | None = None,
                       margin: int = INFER_MARGIN) -> bool:
    """Whether the painted objects are brighter than what lies just around them.

    Parameters
    ----------
    intensity : np.ndarray
        ``(*spatial)`` image.
    objects : np.ndarray
        Boolean mask of the painted objects.
    distance : np.ndarray, optional
        Distance of every pixel to the nearest painted object (computed when not given).
    margin : int
        Pixels just outside the objects left out (their blurred edge).

    Returns
    -------
    bool
        True when the objects' median exceeds that of a ring one object radius wide beyond ``margin`` (the
        rest of the image when there is no such ring). A global threshold cannot tell: people often paint
        nuclei dimmer than the image's Otsu threshold, which once turned the inferred background into the
        bright nuclei of the stand-in image.

    """
    if distance is None:
        distance = ndi.distance_transform_edt(~objects)
    ring = (distance > margin) & (distance <= margin + object_radius(objects))
    around = intensity[ring] if ring.any() else intensity[~objects]
    return float(np.median(intensity[objects])) >= float(np.median(around))


def object_radius(objects: np.ndarray) -> int:
    """Radius in pixels of a ball (disk in 2D) of the median painted object's size, at least 2."""
    radius = median_radius(ndi.label(objects)[0])
    return 2 if radius is None else max(2, round(radius))


def flat_background(image: np.ndarray, objects: np.ndarray, margin: int = INFER_MARGIN,
                    contrast: float = FLAT_CONTRAST) -> np.ndarray:
    """Unambiguous background that also holds no structure at the painted objects' scale.

    A morphological top-hat of the blurred image with a box of the painted objects' diameter measures how much
    each pixel stands out from its surroundings (a white top-hat for bright objects, black for dark ones). Its
    median inside the painted objects is their contrast. With the painted objects filled with the background
    level, pixels where the top-hat, smoothed over half an object radius, stays below ``contrast`` times that,
    and not within an object radius of a pixel above it, are flat; the result is those among
    :func:`inferred_background`, so it reaches up to ``margin`` around the painted objects.

    Parameters
    ----------
    image, objects, margin
        As for :func:`inferred_background`.
    contrast : float
        Share of the painted objects' contrast below which structure counts as flat.

    Returns
    -------
    np.ndarray
        Boolean mask of background pixels.

    """
    objects = np.asarray(objects, dtype=bool)
    candidates = inferred_background(image, objects, margin)
    if not candidates.any():
        return candidates
    intensity = ndi.gaussian_filter(np.asarray(image, dtype=np.float32).mean(axis=0), 1.0)
    radius = object_radius(objects)
    background_level = float(np.median(intensity[candidates]))
    bright = float(np.median(intensity[objects])) >= background_level
    level = float(np.median(_top_hat(intensity, 2 * radius + 1, bright)[objects]))
    if level <= 0:
        return np.zeros(objects.shape, dtype=bool)
    # the painted objects themselves are no unknown structure: fill them (and their blurred edge) with the
    # background level, so that flat background reaches up to the margin around them
    unpainted = intensity.copy()
    unpainted[ndi.binary_dilation(objects, iterations=margin + 1)] = background_level
    top_hat = _top_hat(unpainted, 2 * radius + 1, bright)
    structure = ndi.gaussian_filter(top_hat, radius / 2.0) > contrast * level
    structure = ndi.binary_dilation(structure, iterations=radius)
    return candidates & ~structure


def _top_hat(intensity: np.ndarray, size: int, bright: bool) -> np.ndarray:
    """White (bright objects) or black top-hat with a box of edge ``size``: how much a pixel stands out."""
    if bright:
        return intensity - ndi.maximum_filter(ndi.minimum_filter(intensity, size), size)
    return ndi.minimum_filter(ndi.maximum_filter(intensity, size), size) - intensity


def edge_band_background(image: np.ndarray, labels: np.ndarray, width: int = INFER_MARGIN) -> np.ndarray:
    """Unpainted pixels within ``width`` of a painted object that are darker than that object's painted edge.

    Parameters
    ----------
    image : np.ndarray
        ``(C, *spatial)`` normalised image.
    labels : np.ndarray
        ``(*spatial)`` labels in the painted convention (0 not annotated, 1 background, 2.. objects).
    width : int
        Pixels outside the painted objects considered.

    Returns
    -------
    np.ndarray
        Boolean mask of background pixels: those darker than the mean (blurred) intensity on the nearest painted
        object's edge. Brighter pixels (a touching unpainted object, an object painted too small) are left out,
        but for the outermost pixels of a touching neighbour where it meets the background; for dark objects on
        a bright background, "darker" reads "brighter".

    """
    labels = np.asarray(labels)
    objects = labels >= 2
    if not objects.any() or objects.all():
        return np.zeros(labels.shape, dtype=bool)
    intensity = ndi.gaussian_filter(np.asarray(image, dtype=np.float32).mean(axis=0), 0.7)
    distance, nearest = ndi.distance_transform_edt(~objects, return_indices=True)
    band = (distance > 0) & (distance <= width) & (labels == 0)
    if not band.any():
        return band
    ids = np.where(objects, labels, 0).astype(np.int64)
    edge = objects & ~ndi.binary_erosion(objects)
    sums = np.bincount(ids[edge], weights=intensity[edge], minlength=int(ids.max()) + 1)
    level = sums / np.maximum(np.bincount(ids[edge], minlength=sums.size), 1)
    edge_level = level[ids[tuple(nearest)]]
    bright = objects_are_bright(intensity, objects, distance)
    return band & (intensity < edge_level if bright else intensity > edge_level)


def with_inferred_background(image: np.ndarray, labels: np.ndarray, mode: str = "inferred") -> np.ndarray:
    """Painted-convention labels with value 1 added where background is unambiguous.

    ``mode="inferred"`` (no background painted): the clear background of :func:`inferred_background`.
    ``mode="painted"`` (background strokes): the band just outside the painted objects
    (:func:`edge_band_background`) and the flat, empty background of :func:`flat_background`.
    """
    result = np.array(labels, dtype=np.int64, copy=True)
    objects = result >= 2
    if mode == "inferred":
        background = inferred_background(image, objects)
    else:
        background = flat_background(image, objects) | edge_band_background(image, result)
    background &= result == 0
    result[background] = PAINTED_BACKGROUND
    return result
