"""Render a synthetic nuclei image and its instance masks from a style and a seed.

Nuclei are painted one after the other; a later nucleus hides what it covers (occlusion), so touching and
overlapping nuclei always get distinct ids and the masks hold what is visible. A hidden nucleus split into
pieces keeps its largest piece; the other pieces, and nuclei left with a sliver, go to the neighbour that
covers them. Ids are then numbered 1..N without gaps.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage.measure import label as label_regions

from napari_tiled_unet.synthetic.camera import record
from napari_tiled_unet.synthetic.optics import expose
from napari_tiled_unet.synthetic.placement import place_nuclei
from napari_tiled_unet.synthetic.shapes import Box, rasterize
from napari_tiled_unet.synthetic.style import NucleiStyle
from napari_tiled_unet.synthetic.texture import Stain

# a hidden nucleus with less than this share of its area visible is given to its neighbour
_MIN_VISIBLE = 0.15
_MIN_PIXELS = 6


def _check_shape(shape: tuple[int, ...], style: NucleiStyle) -> tuple[int, ...]:
    shape = tuple(int(s) for s in shape)
    if len(shape) != style.ndim or min(shape) < 1:
        raise ValueError(f"shape={shape!r} does not fit a {style.ndim}D style (spacing {style.spacing}): give "
                         f"{style.ndim} positive sizes")
    return shape


def paint(rng: np.random.Generator, shape: tuple[int, ...], style: NucleiStyle) -> tuple[np.ndarray, np.ndarray]:
    """Place and paint the nuclei: in-focus stain density (float32) and instance labels (int32).

    Parameters
    ----------
    rng : numpy.random.Generator
        The random stream.
    shape : tuple of int
        Image shape.
    style : NucleiStyle
        The look of the image.

    Returns
    -------
    stain : np.ndarray
        Stain density before optics (1 = a typical nucleus).
    labels : np.ndarray
        Instance labels 1..N (0 = background), one 4-connected (6 in 3D) region per nucleus.

    """
    shape = _check_shape(shape, style)
    spacing = np.asarray(style.spacing)
    stain_field = np.zeros(shape, dtype=np.float32)
    labels = np.zeros(shape, dtype=np.int32)
    texture = Stain(rng, shape, style)
    boxes: dict[int, Box] = {}
    areas: dict[int, int] = {}
    hidden: set[int] = set()
    painted = []
    nuclei = place_nuclei(rng, style, shape)
    for nucleus, drawn in zip(nuclei, rasterize(nuclei, shape, spacing), strict=True):
        if drawn is None:
            continue
        box, rho = drawn
        mask = rho < 1.0
        area = int(np.count_nonzero(mask))
        if area == 0:
            continue
        label_id = len(boxes) + 1
        local_labels, local_stain = labels[box], stain_field[box]
        below = local_labels[mask]
        if below.any():
            hidden.update(np.unique(below[below > 0]).tolist())
        value = texture.interior(nucleus, box, rho)
        local_stain[mask] = value[mask] + style.overlap_glow * local_stain[mask]
        local_labels[mask] = label_id
        painted.append(nucleus)
        boxes[label_id], areas[label_id] = box, area
    texture.add_spots(painted, np.arange(1, len(painted) + 1))
    _resolve_hidden(labels, hidden, boxes, areas)
    factor = texture.spot_factor(labels)
    if factor is not None:
        stain_field *= factor
    return stain_field, _sequential(labels)


def _resolve_hidden(labels: np.ndarray, hidden: set[int], boxes: dict[int, Box], areas: dict[int, int]) -> None:
    """Give detached pieces and slivers of partly hidden nuclei to the neighbour that hides them (in place).

    A piece without any neighbour (never the case for occlusion) stays with its nucleus.
    """
    if not boxes:
        return
    # one pass over the image: connected pieces of equal id, and how many pieces each id has
    pieces = label_regions(labels, background=0, connectivity=1)
    owner = np.zeros(int(pieces.max()) + 1, dtype=np.int64)
    owner[pieces.ravel()] = labels.ravel()
    n_pieces = np.bincount(owner[1:], minlength=len(boxes) + 1)
    visible = np.bincount(labels.ravel(), minlength=len(boxes) + 1)
    for label_id in sorted(hidden | set(np.flatnonzero(n_pieces > 1).tolist())):
        sliver = visible[label_id] < max(_MIN_PIXELS, _MIN_VISIBLE * areas[label_id])
        if n_pieces[label_id] <= 1 and not sliver:
            continue
        box = tuple(slice(max(s.start - 1, 0), s.stop + 1) for s in boxes[label_id])
        local, local_pieces = labels[box], pieces[box]
        ids = np.unique(local_pieces[local == label_id])
        if ids.size == 0:  # hidden completely
            continue
        largest = ids[int(np.argmax([np.count_nonzero(local_pieces == p) for p in ids]))]
        for piece in ids:
            if piece == largest and not sliver:
                continue
            region = local_pieces == piece
            ring = ndi.binary_dilation(region) & ~region
            around = local[ring]
            around = around[(around > 0) & (around != label_id)]
            local[region] = np.bincount(around).argmax() if around.size else label_id


def _sequential(labels: np.ndarray) -> np.ndarray:
    """Ids 1..N without gaps, as uint16 (uint32 above 65535 objects)."""
    present = np.bincount(labels.ravel()) > 0
    present[0] = False
    lookup = np.cumsum(present)
    dtype = np.uint16 if lookup[-1] < 65536 else np.uint32
    return lookup.astype(dtype)[labels]


def render_nuclei(shape: tuple[int, ...], style: NucleiStyle,
                  seed: int | np.random.SeedSequence = 0) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic fluorescence-nuclei image and its instance masks (2D or 3D).

    Parameters
    ----------
    shape : tuple of int
        ``(Y, X)`` or ``(Z, Y, X)``, matching ``style.spacing``.
    style : NucleiStyle
        How the image looks.
    seed : int or numpy.random.SeedSequence
        Seed of the random stream: the same shape, style and seed give the same arrays.

    Returns
    -------
    image : np.ndarray
        ``uint8`` or ``uint16`` camera image (``style.bits``).
    labels : np.ndarray
        ``uint16`` instance masks: 0 = background, 1..N = nuclei; touching nuclei have different ids.

    """
    rng = np.random.default_rng(seed)
    stain, labels = paint(rng, shape, style)
    return record(rng, expose(rng, stain, style), style), labels
