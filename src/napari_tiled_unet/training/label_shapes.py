"""What a label image's values look like: how many pieces each value forms, how big and how compact they are.

Shared by the label inspection (:mod:`~napari_tiled_unet.training.label_report`) and the decision whether a
sparse instance annotation painted its background (:mod:`~napari_tiled_unet.training.sparse_instances`).
Everything is computed on at most :data:`MAX_PIXELS` pixels (a central crop of big images, a few planes of
stacks), so that inspecting a layer never takes long.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

MAX_PIXELS = 4_000_000
MAX_VALUES = 512
"""Values beyond this many are counted but not measured one by one."""
MAX_ELONGATION = 8.0
"""A piece larger than this many inscribed disks is a stroke, not a painted object (nuclei reach 3-4)."""


@dataclass(frozen=True)
class ValueShape:
    """The pixels of one label value.

    Attributes
    ----------
    value : int
        The label value.
    pixels : int
        Its number of pixels.
    pieces : int
        Connected pieces it forms (face connectivity).
    solidity : float
        Pixels over the area of the bounding box of its largest piece, rescaled so that a filled disk scores 1
        (``pi/4`` of its box); strokes and scattered scribbles score low.
    elongation : float
        Pixels of its largest piece over the disk of the largest radius that fits inside it (3D: in its fullest
        plane): about 1 for a disk, the aspect ratio for an ellipse, 15 or more for a brush stroke (which a
        straight stroke's box cannot tell from a filled blob).

    """

    value: int
    pixels: int
    pieces: int
    solidity: float
    elongation: float = 1.0

    @property
    def compact(self) -> bool:
        """One filled blob: a painted object (not a stroke, not several objects)."""
        return self.pieces == 1 and self.solidity >= 0.6 and self.elongation <= MAX_ELONGATION


def sample_for_shapes(labels: np.ndarray) -> np.ndarray:
    """At most :data:`MAX_PIXELS` pixels around the annotations: annotated planes of stacks, then a crop.

    Shapes need connected pixels, so the sample is a crop (never a stride): of stacks the planes that carry
    labels, evenly spaced, then the part of the annotated bounding box that fits, starting at its corner.
    """
    labels = np.asarray(labels)
    if labels.size <= MAX_PIXELS:
        return labels
    while labels.ndim > 2 and labels.size > MAX_PIXELS:
        annotated = np.flatnonzero(labels.reshape(labels.shape[0], -1).any(axis=1))
        keep = annotated if annotated.size else np.arange(labels.shape[0])
        per_plane = max(1, labels[0].size)
        count = max(1, min(keep.size, MAX_PIXELS // per_plane))
        labels = labels[keep[np.linspace(0, keep.size - 1, count).round().astype(int)]]
        if labels.shape[0] == 1:
            labels = labels[0]
        elif labels.size > MAX_PIXELS:
            labels = labels[: max(1, MAX_PIXELS // per_plane)]
            if labels.size > MAX_PIXELS:
                labels = labels[0]
    if labels.size <= MAX_PIXELS:
        return labels
    nonzero = np.argwhere(labels)
    start = nonzero.min(axis=0) if nonzero.size else np.zeros(labels.ndim, int)
    side = int(MAX_PIXELS ** (1 / labels.ndim))
    return labels[tuple(slice(int(s), int(s) + side) for s in start)]


def value_shapes(labels: np.ndarray) -> list[ValueShape]:
    """The shape of every non-zero value (the first :data:`MAX_VALUES` values in increasing order)."""
    labels = np.asarray(labels)
    shapes = []
    boxes = ndi.find_objects(labels.astype(np.int64, copy=False)) if labels.max(initial=0) <= 1 << 22 else []
    values = np.unique(labels)
    for value in values[values != 0][:MAX_VALUES]:
        box = boxes[int(value) - 1] if boxes and int(value) - 1 < len(boxes) else None
        window = labels[box] if box is not None else labels
        mask = window == value
        pieces, count = ndi.label(mask)
        sizes = np.bincount(pieces.ravel())[1:]
        largest = pieces == (int(np.argmax(sizes)) + 1)
        extent = [np.flatnonzero(largest.any(axis=tuple(a for a in range(mask.ndim) if a != k))) for k in
                  range(mask.ndim)]
        box_area = float(np.prod([e[-1] - e[0] + 1 for e in extent]))
        fill = (np.pi / 4) ** (mask.ndim - 1) if mask.ndim == 2 else np.pi / 6
        solidity = min(1.0, float(sizes.max()) / (box_area * fill)) if box_area else 0.0
        shapes.append(ValueShape(int(value), int(mask.sum()), int(count), round(solidity, 3),
                                 round(_elongation(largest, float(sizes.max())), 3)))
    return shapes


def _elongation(piece: np.ndarray, pixels: float) -> float:
    """Pixels of ``piece`` over the disk of its largest inscribed radius; in 3D, of its fullest plane.

    A 3D piece is measured in the plane (first axis) that holds most of it: a stroke painted in one plane of a
    stack stays a stroke, while a nucleus cut by the sampled crop, or squashed by a coarse Z step, stays a disk
    there (a ball would call its cap elongated).
    """
    if piece.ndim == 3:
        counts = piece.reshape(piece.shape[0], -1).sum(axis=1)
        plane = int(np.argmax(counts))
        piece, pixels = piece[plane], float(counts[plane])
    radius = float(ndi.distance_transform_edt(np.pad(piece, 1)).max())
    disk = np.pi * radius**2
    return pixels / disk if disk else float("inf")


def piece_elongations(labels: np.ndarray, first_value: int = 2) -> np.ndarray:
    """The elongation (see :class:`ValueShape`) of every connected piece of every value from ``first_value`` on.

    Computed on :func:`sample_for_shapes` of ``labels`` (2D; a stack's planes one by one). Objects painted
    completely measure 1.1-2.2 (people's BBBC007 and blobs annotations, simulated painting of four images),
    strokes drawn through them 3-9 and background strokes 16-79.
    """
    sample = sample_for_shapes(labels)
    planes = sample.reshape(-1, *sample.shape[-2:]) if sample.ndim > 2 else sample[None]
    result = []
    for plane in planes:
        for value in np.unique(plane[plane >= first_value])[:MAX_VALUES]:
            mask = np.pad(plane == value, 1)
            pieces, count = ndi.label(mask)
            index = np.arange(1, count + 1)
            radius = ndi.maximum(ndi.distance_transform_edt(mask), pieces, index)
            pixels = ndi.sum_labels(mask, pieces, index)
            result.append(pixels / (np.pi * np.asarray(radius) ** 2))
    return np.concatenate(result) if result else np.zeros(0)
