"""Validation on the held-back blocks: loss, foreground IoU and (instances) F1 at IoU 0.5."""

from __future__ import annotations

import numpy as np
import torch

from napari_tiled_unet.inference import softmax
from napari_tiled_unet.model import UNet
from napari_tiled_unet.postprocess import instances_from_probabilities
from napari_tiled_unet.predict import predict_tiled
from napari_tiled_unet.tiling import tile_context
from napari_tiled_unet.training.data import TrainingData, TrainingImage
from napari_tiled_unet.training.labels import IGNORE
from napari_tiled_unet.training.losses import weighted_cross_entropy
from napari_tiled_unet.training.metrics import foreground_iou, instance_f1


def _block_logits(net: UNet, item: TrainingImage, val_slices: tuple[slice, ...]) -> np.ndarray:
    """Logits of the held-back block, predicted with real image context around it where there is some."""
    context = tile_context(net.config)
    shape = item.spatial_shape
    outer = []
    inner = []
    for s, n in zip(val_slices, shape):
        start, stop = s.start or 0, n if s.stop is None else s.stop
        lo, hi = max(0, start - context), min(n, stop + context)
        outer.append(slice(lo, hi))
        inner.append(slice(start - lo, stop - lo))
    logits = predict_tiled(net, item.image[(slice(None), *outer)])
    return logits[(slice(None), *inner)]


def validate(net: UNet, data: TrainingData, task: str) -> tuple[float, dict[str, float]]:
    """Loss and metrics over every held-back block (pixel-weighted means over the blocks)."""
    net.eval()
    losses, weights, ious, f1s = [], [], [], []
    for item in data.images:
        if item.val_slices is None or item.val_targets is None:
            continue
        logits = _block_logits(net, item, item.val_slices)
        targets = item.val_targets
        annotated = targets != IGNORE
        n = float(annotated.sum())
        with torch.inference_mode():
            loss = weighted_cross_entropy(
                torch.from_numpy(logits[None]), torch.from_numpy(targets[None].astype(np.int64)),
                torch.ones((1, *targets.shape)),
            )
        losses.append(float(loss) * n)
        weights.append(n)
        classes = np.argmax(logits, axis=0)
        ious.append(foreground_iou(classes > 0, targets > 0, ignore=~annotated) * n)
        if task == "instances" and item.val_instances is not None:
            predicted = instances_from_probabilities(softmax(logits))
            f1s.append(instance_f1(predicted, item.val_instances) * n)
    total = max(sum(weights), 1.0)
    metrics = {"foreground_iou": sum(ious) / total}
    if task == "instances":
        metrics["instance_f1"] = sum(f1s) / total
    return sum(losses) / total, metrics


def score_of(task: str, val_loss: float | None, metrics: dict[str, float], train_loss: float) -> float:
    """Higher is better: instance F1 (instances), foreground IoU (semantic), else minus the loss."""
    if val_loss is None:
        return -train_loss
    if task == "instances":
        return metrics["instance_f1"] + 1e-3 * metrics["foreground_iou"]
    return metrics["foreground_iou"] - 1e-3 * val_loss
