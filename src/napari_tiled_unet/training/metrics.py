"""Segmentation metrics: foreground IoU, instance matching (precision, recall, F1) and mean average precision.

The mean average precision is that of the 2018 Data Science Bowl and StarDist, over IoU thresholds 0.5:0.05:0.95.

The IoU of every overlapping (prediction, truth) pair is computed in one pass over the pixels from the
unique pairs of labels, never with a loop over objects on the full image. A pair matches when its IoU is at
least the threshold. Above 0.5 an object can overlap at most one other object that much, so the matching is
unique and read off directly; otherwise, if an object has several candidates, the maximum matching is found
with ``scipy.optimize.linear_sum_assignment``. The IoU pairs are computed once for all thresholds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

#: IoU thresholds of the mean average precision of the 2018 Data Science Bowl and StarDist: 0.5, 0.55, ... 0.95.
AP_THRESHOLDS: tuple[float, ...] = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))


def _check_pair(
    pred: np.ndarray, target: np.ndarray, names: tuple[str, str]
) -> tuple[np.ndarray, np.ndarray]:
    pred, target = np.asarray(pred), np.asarray(target)
    if pred.shape != target.shape:
        raise ValueError(
            f"{names[0]} shape {pred.shape} differs from {names[1]} shape {target.shape}: use equal shapes"
        )
    return pred, target


def foreground_iou(pred: np.ndarray, target: np.ndarray, ignore: np.ndarray | None = None) -> float:
    """Intersection over union of two binary masks (non-zero = foreground).

    Parameters
    ----------
    pred, target : np.ndarray
        Masks of equal shape; any non-zero value is foreground.
    ignore : np.ndarray, optional
        Mask of pixels left out of the computation (e.g. not annotated).

    Returns
    -------
    float
        IoU in [0, 1]; 1.0 when both masks are empty (after ``ignore``).

    """
    pred, target = _check_pair(pred, target, ("pred", "target"))
    pred, target = pred != 0, target != 0
    if ignore is not None:
        _, ignore = _check_pair(pred, ignore, ("pred", "ignore"))
        keep = ignore == 0
        pred, target = pred & keep, target & keep
    union = int(np.count_nonzero(pred | target))
    if union == 0:
        return 1.0
    return int(np.count_nonzero(pred & target)) / union


def _dense_ids(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """Flatten and relabel to 0 (background) and 1..n (objects, in increasing id order); return them and n."""
    if labels.dtype == bool:
        return labels.reshape(-1).astype(np.intp), int(labels.any())
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"instance labels of dtype {labels.dtype} are invalid: use an integer label image")
    flat = labels.reshape(-1)
    if flat.size == 0:
        return flat.astype(np.intp), 0
    if flat.min() < 0:
        raise ValueError("instance labels contain negative ids: use 0 for background and positive object ids")
    largest = int(flat.max())
    if largest <= max(flat.size, 1 << 20):  # linear-time relabelling through a lookup table
        flat = flat.astype(np.intp, copy=False)
        present = np.bincount(flat, minlength=largest + 1) > 0
        present[0] = False
        table = np.cumsum(present)
        return table[flat], int(table[-1])
    ids, inverse = np.unique(flat, return_inverse=True)
    return inverse.reshape(-1) + int(ids[0] != 0), int(np.count_nonzero(ids))


def overlap_pairs(
    pred_instances: np.ndarray, true_instances: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Intersection of every overlapping pair of objects, with the areas of both.

    Returns
    -------
    tuple
        ``(pred_index, true_index, intersection, pred_area, true_area)``: indices 0..n-1 of the objects in
        increasing label order, the pixels each overlapping pair shares, and the areas of all objects
        (``pred_area[pred_index]`` is the area of each pair's predicted object).

    """
    pred, true = _check_pair(pred_instances, true_instances, ("pred_instances", "true_instances"))
    p, n_pred = _dense_ids(pred)
    t, n_true = _dense_ids(true)
    pred_area = np.bincount(p, minlength=n_pred + 1)[1:]
    true_area = np.bincount(t, minlength=n_true + 1)[1:]
    both = (p > 0) & (t > 0)
    pairs, intersection = np.unique((p[both] - 1) * n_true + (t[both] - 1), return_counts=True)
    pred_index, true_index = np.divmod(pairs, max(n_true, 1))
    return pred_index, true_index, intersection, pred_area, true_area


def iou_pairs(
    pred_instances: np.ndarray, true_instances: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """IoU of every overlapping pair of objects.

    Returns
    -------
    tuple
        ``(pred_index, true_index, iou, n_pred, n_true)``: indices 0..n-1 of the objects in increasing label
        order and the IoU of each overlapping pair (a sparse IoU matrix).

    """
    pred_index, true_index, intersection, pred_area, true_area = overlap_pairs(pred_instances, true_instances)
    union = pred_area[pred_index] + true_area[true_index] - intersection
    return pred_index, true_index, intersection / union, pred_area.size, true_area.size


def matched_pairs(pred_index: np.ndarray, true_index: np.ndarray, iou: np.ndarray,
                  threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One-to-one matching of overlapping pairs at ``IoU >= threshold``: most matches first, then the total IoU.

    Parameters
    ----------
    pred_index, true_index, iou : numpy.ndarray
        The sparse IoU matrix from :func:`iou_pairs`.
    threshold : float
        Minimum IoU of a match.

    Returns
    -------
    tuple of numpy.ndarray
        ``(pred_index, true_index, iou)`` of the matched pairs.

    """
    keep = (iou >= threshold) & (iou > 0)
    pred_index, true_index, iou = pred_index[keep], true_index[keep], iou[keep]
    unique = np.unique(pred_index).size == pred_index.size and np.unique(true_index).size == true_index.size
    if unique:  # always the case for threshold > 0.5
        return pred_index, true_index, iou
    rows, row = np.unique(pred_index, return_inverse=True)
    cols, col = np.unique(true_index, return_inverse=True)
    score = np.zeros((rows.size, cols.size))
    score[row, col] = 1.0 + iou  # every match is worth more than any gain in IoU
    chosen_rows, chosen_cols = linear_sum_assignment(score, maximize=True)
    matched = score[chosen_rows, chosen_cols] > 0
    chosen_rows, chosen_cols = chosen_rows[matched], chosen_cols[matched]
    return rows[chosen_rows], cols[chosen_cols], score[chosen_rows, chosen_cols] - 1.0


def _match(pred_index: np.ndarray, true_index: np.ndarray, iou: np.ndarray, threshold: float) -> np.ndarray:
    """IoU values of the matched pairs: one-to-one, maximising the number of matches, then the total IoU."""
    return matched_pairs(pred_index, true_index, iou, threshold)[2]


def match_instances(
    pred_instances: np.ndarray, true_instances: np.ndarray, iou_threshold: float = 0.5
) -> dict[str, Any]:
    """Match predicted to true objects one-to-one at ``IoU >= iou_threshold``.

    Parameters
    ----------
    pred_instances, true_instances : np.ndarray
        Integer label images of equal shape, 0 = background (2D or 3D).
    iou_threshold : float
        Minimum IoU of a match, in (0, 1].

    Returns
    -------
    dict
        ``tp``, ``fp``, ``fn``, ``n_pred``, ``n_true`` (int), ``precision``, ``recall``, ``f1`` and
        ``mean_matched_iou`` (float). With no objects at all, precision, recall and F1 are 1.0; the mean
        matched IoU is 0.0 when nothing matched.

    """
    _check_threshold("iou_threshold", iou_threshold)
    pred_index, true_index, iou, n_pred, n_true = iou_pairs(pred_instances, true_instances)
    matched = _match(pred_index, true_index, iou, float(iou_threshold))
    tp = int(matched.size)
    fp, fn = n_pred - tp, n_true - tp
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "n_pred": n_pred,
        "n_true": n_true,
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "mean_matched_iou": float(matched.mean()) if tp else 0.0,
    }


def _check_threshold(name: str, value: Any) -> None:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not 0 < value <= 1:
        raise ValueError(f"{name}={value!r} is invalid: use a number in (0, 1]")


def average_precision(
    pred_instances: np.ndarray, true_instances: np.ndarray, thresholds: tuple[float, ...] = AP_THRESHOLDS
) -> dict[str, Any]:
    """Average precision ``AP_t = TP / (TP + FP + FN)`` at each IoU threshold ``t`` and its mean over ``t``.

    The definition of the 2018 Data Science Bowl and of StarDist (there called "accuracy"): at every threshold
    the objects are matched one-to-one as in :func:`match_instances` (a match needs ``IoU >= t``, as in
    StarDist); the IoU of the object pairs is computed once for all thresholds. The Data Science Bowl score of a
    set of images is the mean of the per-image means.

    Parameters
    ----------
    pred_instances, true_instances : np.ndarray
        Integer label images of equal shape, 0 = background (2D or 3D).
    thresholds : tuple of float
        IoU thresholds in (0, 1]; by default :data:`AP_THRESHOLDS` (0.5, 0.55, ..., 0.95).

    Returns
    -------
    dict
        ``"ap"``: ``{threshold: AP_t}``; ``"mean_ap"``: the mean over the thresholds; ``"tp"``: ``{threshold:
        TP}``; ``"n_pred"``, ``"n_true"``. With no objects at all every AP is 1.0.

    """
    thresholds = tuple(thresholds)
    if not thresholds:
        raise ValueError("thresholds is empty: give at least one IoU threshold, e.g. AP_THRESHOLDS")
    for value in thresholds:
        _check_threshold("IoU threshold", value)
    pred_index, true_index, iou, n_pred, n_true = iou_pairs(pred_instances, true_instances)
    ap, tp = {}, {}
    for threshold in thresholds:
        matched = int(_match(pred_index, true_index, iou, float(threshold)).size)
        tp[float(threshold)] = matched
        ap[float(threshold)] = _ratio(matched, n_pred + n_true - matched)  # TP + FP + FN
    return {"ap": ap, "mean_ap": float(np.mean(list(ap.values()))), "tp": tp, "n_pred": n_pred, "n_true": n_true}


def mean_average_precision(pred_instances: np.ndarray, true_instances: np.ndarray) -> float:
    """Mean of ``TP / (TP + FP + FN)`` over IoU thresholds 0.5:0.05:0.95 (see :func:`average_precision`)."""
    return float(average_precision(pred_instances, true_instances)["mean_ap"])


def _ratio(numerator: int, denominator: int) -> float:
    return 1.0 if denominator == 0 else numerator / denominator


def instance_f1(pred: np.ndarray, true: np.ndarray, iou_threshold: float = 0.5) -> float:
    """F1 score of the one-to-one matching at ``IoU >= iou_threshold`` (see :func:`match_instances`)."""
    return float(match_instances(pred, true, iou_threshold)["f1"])
