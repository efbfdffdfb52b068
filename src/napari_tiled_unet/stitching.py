"""Linking the instances of consecutive planes into objects that span planes (cellpose's ``stitch_threshold``).

A 2D model predicts a Z stack plane by plane, so every plane's objects are numbered on their own. Two objects
of consecutive planes are the same object when they overlap enough: their IoU is at least ``threshold`` and
they are each other's partner in the one-to-one matching that links the most pairs (then the most IoU). A
linked object takes the id it had in the plane before; any other object gets a new id. The same rule links
the objects of consecutive time points of a time-lapse (tracking by overlap).
"""

from __future__ import annotations

import numpy as np
from skimage.segmentation import relabel_sequential

from napari_tiled_unet.checks import check_float
from napari_tiled_unet.training.metrics import iou_pairs, matched_pairs

DEFAULT_STITCH_THRESHOLD = 0.25
"""IoU above which objects of consecutive planes are linked; 0 numbers every plane's objects on their own."""


def link_planes(planes: np.ndarray, threshold: float = DEFAULT_STITCH_THRESHOLD) -> np.ndarray:
    """Give objects that continue from one plane to the next the same id.

    Parameters
    ----------
    planes : numpy.ndarray
        ``(n, *spatial)`` integer labels, every plane numbered on its own (0 = background).
    threshold : float
        Minimum IoU of two objects of consecutive planes for them to be one object, in [0, 1); 0 links
        nothing (every object of the stack still gets an id of its own).

    Returns
    -------
    numpy.ndarray
        uint32 labels of the same shape with ids 1..n unique over the stack; linked objects share theirs.

    """
    check_float("stitch threshold", threshold, 0.0, 0.999)
    planes = np.asarray(planes)
    if planes.ndim < 2 or not np.issubdtype(planes.dtype, np.integer):
        raise ValueError(f"planes of shape {planes.shape} and type {planes.dtype} are invalid: give (n, Y, X) labels")
    out = np.zeros(planes.shape, dtype=np.uint32)
    largest = 0
    for index, plane in enumerate(planes):
        current, _, _ = relabel_sequential(plane.astype(np.uint32, copy=False), offset=largest + 1)
        top = int(current.max(initial=0))
        if index > 0 and threshold > 0 and top > largest and out[index - 1].any():
            current = _take_previous_ids(out[index - 1], current, threshold)
        out[index] = current
        largest = max(largest, top)
    relabelled, _, _ = relabel_sequential(out)
    return relabelled.astype(np.uint32, copy=False)


def _take_previous_ids(previous: np.ndarray, current: np.ndarray, threshold: float) -> np.ndarray:
    """``current`` with every object matched to an object of ``previous`` renamed to that object's id."""
    prev_ids = np.unique(previous)
    prev_ids = prev_ids[prev_ids != 0]
    cur_ids = np.unique(current)
    cur_ids = cur_ids[cur_ids != 0]
    pred_index, true_index, iou, _, _ = iou_pairs(current, previous)
    rows, cols, _ = matched_pairs(pred_index, true_index, iou, threshold)
    lut = np.arange(int(current.max()) + 1, dtype=np.uint32)
    lut[cur_ids[rows]] = prev_ids[cols]
    return lut[current]
