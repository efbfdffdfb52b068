"""Choosing the instance post-processing on the validation region, after training (as StarDist does).

The seed threshold, the foreground threshold and the minimum object size decide how the network's outputs
become objects; the best values depend on the data (object size, how much objects touch, how sharp the model
is). They are chosen by grid search for the highest F1 at IoU 0.5 on the held-back blocks (ties: the higher
mean IoU of the matches), stored in the model file and used by default at prediction.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from napari_tiled_unet.postprocess import (
    DEFAULT_SPLIT_DEPTH,
    InstanceSettings,
    grown_objects,
    instances_from_probabilities,
    sized_objects,
    smoothed_distance,
)
from napari_tiled_unet.training.metrics import match_instances

SEEDS = (0.3, 0.45, 0.6, 0.75)
SEEDS_FINE = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
FOREGROUND = (0.4, 0.5, 0.6)
FOREGROUND_FINE = (0.3, 0.4, 0.5, 0.6, 0.7)
MIN_SIZE_SHARES = (0.05, 0.25)
"""Minimum object sizes tried, as shares of the median size of the true objects."""


@dataclass(frozen=True)
class InstanceBlock:
    """One held-back block: the model's outputs there and the true objects.

    Attributes
    ----------
    probs : numpy.ndarray
        ``(3, *spatial)`` class probabilities.
    distance : numpy.ndarray or None
        ``(*spatial)`` centre distance (None for a model without that channel).
    truth : numpy.ndarray
        ``(*spatial)`` true object ids (sparse: the painted objects).
    annotated : numpy.ndarray or None
        ``(*spatial)`` mask of annotated pixels for sparse annotations; None when everything is annotated.

    """

    probs: np.ndarray
    distance: np.ndarray | None
    truth: np.ndarray
    annotated: np.ndarray | None = None


def instances_for(block: InstanceBlock, settings: InstanceSettings) -> np.ndarray:
    """The objects a block's outputs give with ``settings`` (the prediction's post-processing)."""
    return sized_objects(_unsized_objects(block, None, settings), settings.min_size)


def scored_objects(predicted: np.ndarray, annotated: np.ndarray | None) -> np.ndarray:
    """Predicted objects that can be scored: all of them, or (sparse) those mostly on annotated pixels."""
    if annotated is None or not predicted.any():
        return predicted
    counts = np.bincount(predicted.ravel())
    on_annotated = np.bincount(predicted.ravel(), weights=annotated.ravel().astype(np.float64),
                               minlength=counts.size)
    keep = on_annotated >= 0.5 * np.maximum(counts, 1)
    keep[0] = False
    return np.where(keep[predicted], predicted, 0)


def block_counts(block: InstanceBlock, settings: InstanceSettings) -> tuple[int, int, int, float]:
    """``(tp, fp, fn, sum of matched IoU)`` of a block at IoU 0.5 with ``settings``."""
    return _counts(instances_for(block, settings), block)


def _counts(predicted: np.ndarray, block: InstanceBlock) -> tuple[int, int, int, float]:
    match = match_instances(scored_objects(predicted, block.annotated), block.truth)
    return match["tp"], match["fp"], match["fn"], match["mean_matched_iou"] * match["tp"]


def _unsized_objects(block: InstanceBlock, smoothed: np.ndarray | None, settings: InstanceSettings) -> np.ndarray:
    """:func:`instances_for` before the minimum size (which the grid varies last, on these same objects)."""
    if block.distance is not None:
        return grown_objects(block.probs, block.distance, settings.seed_threshold, settings.foreground_threshold,
                             settings.split_depth, smoothed)
    return instances_from_probabilities(block.probs, seed_threshold=settings.seed_threshold,
                                        foreground_threshold=settings.foreground_threshold, min_size=0)


def _min_sizes(blocks: Sequence[InstanceBlock], dims: int) -> list[int]:
    areas = np.concatenate([np.bincount(b.truth.ravel())[1:] for b in blocks])
    areas = areas[areas > 0]
    if areas.size == 0:
        return [InstanceSettings.defaults(dims).min_size]
    median = float(np.median(areas))
    return sorted({max(1, round(share * median)) for share in MIN_SIZE_SHARES})


def tune_instance_settings(blocks: Sequence[InstanceBlock], fine: bool = False,
                           split_depth: float = DEFAULT_SPLIT_DEPTH) -> tuple[InstanceSettings, float]:
    """The settings with the best F1 at IoU 0.5 over all blocks together, and that F1.

    Parameters
    ----------
    blocks : sequence of InstanceBlock
        The held-back blocks.
    fine : bool
        Search the finer grid (used once, for the model that is kept).
    split_depth : float
        The split depth the thresholds are tuned for (not itself tuned; 0: seeds are never cut).

    """
    dims = blocks[0].truth.ndim
    best, best_key = InstanceSettings.defaults(dims).replace(split_depth=split_depth), (-1.0, -1.0)
    seeds, foreground = (SEEDS_FINE, FOREGROUND_FINE) if fine else (SEEDS, FOREGROUND)
    min_sizes = _min_sizes(blocks, dims)
    # the smoothing and the watershed do not depend on the minimum size: once per block and threshold pair
    # (no smoothing where seeds are never cut: split_seeds does not look at it then)
    smoothed = [None if b.distance is None or split_depth <= 0 else smoothed_distance(b.distance) for b in blocks]
    for seed, fg in itertools.product(seeds, foreground):
        pair = InstanceSettings(seed_threshold=seed, foreground_threshold=fg, split_depth=split_depth)
        grown = [_unsized_objects(block, smooth, pair) for block, smooth in zip(blocks, smoothed)]
        for min_size in min_sizes:
            totals = np.zeros(4)
            for block, objects in zip(blocks, grown):
                totals += _counts(sized_objects(objects, min_size), block)
            tp, fp, fn, iou = totals
            f1 = 1.0 if tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn)
            key = (round(float(f1), 6), float(iou) / max(float(tp), 1.0))
            if key > best_key:
                best, best_key = pair.replace(min_size=min_size), key
    return best, best_key[0]
