"""Validation on the held-back blocks: loss, foreground IoU and (instances) F1 at IoU 0.5.

Instances are scored with the post-processing tuned on the same blocks (:mod:`.threshold_tuning`), the way the
model will predict after training. Sparse annotations are scored on what was annotated: the painted objects,
and predicted objects that lie mostly on annotated pixels (a predicted object on unpainted pixels is neither
right nor wrong).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from napari_tiled_unet.class_outputs import sigmoid, softmax
from napari_tiled_unet.model import UNet
from napari_tiled_unet.postprocess import InstanceSettings
from napari_tiled_unet.predict import predict_tiled
from napari_tiled_unet.tiling import tile_contexts
from napari_tiled_unet.training.data import TrainingData, TrainingImage
from napari_tiled_unet.training.labels import IGNORE, is_object
from napari_tiled_unet.training.losses import weighted_cross_entropy
from napari_tiled_unet.training.metrics import foreground_iou
from napari_tiled_unet.training.threshold_tuning import InstanceBlock, tune_instance_settings


def _block_logits(net: UNet, item: TrainingImage, val_slices: tuple[slice, ...]) -> np.ndarray:
    """Logits of the held-back block, predicted with real image context around it where there is some."""
    shape = item.spatial_shape
    outer = []
    inner = []
    for s, n, context in zip(val_slices, shape, tile_contexts(net.config)):
        start, stop = s.start or 0, n if s.stop is None else s.stop
        lo, hi = max(0, start - context), min(n, stop + context)
        outer.append(slice(lo, hi))
        inner.append(slice(start - lo, stop - lo))
    logits = predict_tiled(net, item.image[(slice(None), *outer)])
    return logits[(slice(None), *inner)]


MAX_VALIDATION_PIXELS = 2_000_000
"""Held-back pixels scored every epoch; beyond it, an evenly spaced subset of the images' blocks is scored (all of
them are scored once, for the model that is kept)."""


def validation_items(data: TrainingData, max_pixels: int | None) -> list[TrainingImage]:
    """The images whose held-back blocks are scored: all, or an evenly spaced subset within ``max_pixels``."""
    items = [item for item in data.images if item.val_slices is not None and item.val_targets is not None]
    sizes = [item.val_targets.size for item in items]
    if max_pixels is None or sum(sizes) <= max_pixels:
        return items
    count = max(1, int(len(items) * max_pixels / sum(sizes)))
    return [items[i] for i in np.linspace(0, len(items) - 1, count).round().astype(int)]


@dataclass(frozen=True)
class ValidationResult:
    """Loss and metrics on the held-back blocks, and the post-processing tuned there (instances)."""

    loss: float
    metrics: dict[str, float]
    settings: InstanceSettings | None = None
    settings_without_cuts: InstanceSettings | None = None
    """Tuned for seeds that are never cut (``validate(..., without_cuts=True)``), else None."""


def validate(net: UNet, data: TrainingData, task: str, fine: bool = False,
             without_cuts: bool = False) -> ValidationResult:
    """Loss and metrics over every held-back block (pixel-weighted means over the blocks).

    Parameters
    ----------
    net : UNet
        The model (switched to eval mode).
    data : TrainingData
        The training data with its held-back blocks.
    task : str
        "semantic" or "instances".
    fine : bool
        Instances: tune the post-processing on a finer grid (done once, for the model that is kept).
    without_cuts : bool
        Instances with a centre distance: also tune the settings for seeds that are never cut (split depth 0),
        which the planes of Z stacks linked into 3D objects use (``settings_without_cuts``).

    """
    net.eval()
    n_classes = data.encoding.n_classes
    losses, weights, ious = [], [], []
    blocks: list[InstanceBlock] = []
    for item in validation_items(data, None if fine else MAX_VALIDATION_PIXELS):
        logits = _block_logits(net, item, item.val_slices)
        targets = item.val_targets
        annotated = targets != IGNORE
        n = float(annotated.sum())
        with torch.inference_mode():
            loss = weighted_cross_entropy(
                torch.from_numpy(logits[None, :n_classes]), torch.from_numpy(targets[None].astype(np.int64)),
                torch.ones((1, *targets.shape)),
            )
        losses.append(float(loss) * n)
        weights.append(n)
        classes = np.argmax(logits[:n_classes], axis=0)
        ious.append(foreground_iou(classes > 0, is_object(targets), ignore=~annotated) * n)
        if task == "instances" and item.val_instances is not None:
            probs = softmax(np.array(logits[:n_classes], copy=True))
            distance = sigmoid(logits[n_classes]) if logits.shape[0] > n_classes else None
            blocks.append(InstanceBlock(probs, distance, item.val_instances,
                                        annotated if bool((~annotated).any()) else None))
    total = max(sum(weights), 1.0)
    metrics = {"foreground_iou": sum(ious) / total}
    settings = uncut = None
    if task == "instances" and blocks:
        settings, f1 = tune_instance_settings(blocks, fine=fine)
        metrics["instance_f1"] = f1
        if without_cuts and all(block.distance is not None for block in blocks):
            uncut, _ = tune_instance_settings(blocks, fine=fine, split_depth=0.0)
    return ValidationResult(sum(losses) / total, metrics, settings, uncut)


def score_of(task: str, sparse: bool, val_loss: float | None, metrics: dict[str, float], train_loss: float) -> float:
    """Higher is better: instance F1 (held-out objects), minus the held-out loss (scribbles), foreground IoU (dense).

    Object strokes for an instance model hold out no outlined object and are scored like scribbles.

    Scribbles hold out only scribble pixels, which a model classifies perfectly within a few epochs (IoU 1.0
    from epoch 3 on real images), so their loss, which keeps measuring how confident the model is, decides.
    """
    if val_loss is None:
        return -train_loss
    if task == "instances" and "instance_f1" in metrics:
        return metrics["instance_f1"] + 1e-3 * metrics["foreground_iou"]
    if sparse:
        return -val_loss
    return metrics["foreground_iou"] - 1e-3 * val_loss
