"""Losses on the network output: pixel-weighted cross-entropy with ignored pixels, soft Dice, and the distance term.

An instance model's last channel regresses the centre distance (in [0, 1]): binary cross-entropy between its
sigmoid and the target, over the annotated pixels, is added to the class losses with weight 1.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from napari_tiled_unet.training.labels import IGNORE


def weighted_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Mean of ``weight * CE`` over annotated pixels (targets == -1 are ignored).

    Parameters
    ----------
    logits : torch.Tensor
        ``(N, K, *spatial)``.
    targets : torch.Tensor
        ``(N, *spatial)`` int64 class indices, -1 where not annotated.
    weights : torch.Tensor
        ``(N, *spatial)`` float pixel weights.

    """
    annotated = targets != IGNORE
    if not bool(annotated.any()):
        return logits.sum() * 0.0
    per_pixel = F.cross_entropy(logits.float(), targets.clamp(min=0), reduction="none")
    weights = weights * annotated
    return (per_pixel * weights).sum() / weights.sum().clamp(min=1e-6)


def soft_dice_loss(logits: torch.Tensor, targets: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """1 - mean soft Dice over the non-background classes (class 0 is background), annotated pixels only."""
    n_classes = logits.shape[1]
    if n_classes < 2:
        return logits.sum() * 0.0
    annotated = (targets != IGNORE).unsqueeze(1)
    probs = torch.softmax(logits.float(), dim=1) * annotated
    onehot = F.one_hot(targets.clamp(min=0), n_classes).movedim(-1, 1).float() * annotated
    axes = (0,) + tuple(range(2, logits.ndim))
    intersection = (probs * onehot).sum(axes)[1:]
    total = (probs + onehot).sum(axes)[1:]
    return 1.0 - ((2 * intersection + eps) / (total + eps)).mean()


def distance_loss(logits: torch.Tensor, targets: torch.Tensor, distance: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy between ``sigmoid(logits)`` and the centre distance, over annotated pixels.

    Parameters
    ----------
    logits : torch.Tensor
        ``(N, *spatial)`` distance-channel logits.
    targets : torch.Tensor
        ``(N, *spatial)`` class targets (only used for the annotated mask, -1 = not annotated).
    distance : torch.Tensor
        ``(N, *spatial)`` target in [0, 1].

    """
    annotated = (targets != IGNORE).float()
    per_pixel = F.binary_cross_entropy_with_logits(logits.float(), distance.float(), reduction="none")
    return (per_pixel * annotated).sum() / annotated.sum().clamp(min=1.0)


def training_loss(logits: torch.Tensor, targets: torch.Tensor, maps: torch.Tensor, kind: str,
                  n_classes: int | None = None) -> torch.Tensor:
    """The loss named by ``kind`` ("ce" or "ce+dice"), plus the distance term when the net has that channel.

    Parameters
    ----------
    logits : torch.Tensor
        ``(N, outputs, *spatial)``: ``n_classes`` class logits, then the distance channel if any.
    targets : torch.Tensor
        ``(N, *spatial)`` int64 class targets, -1 where not annotated.
    maps : torch.Tensor
        ``(N, *spatial)`` pixel weights, or ``(N, K, *spatial)``: the weights, then the distance target.
    kind : str
        "ce" or "ce+dice".
    n_classes : int, optional
        Number of class channels (all channels when None).

    """
    n_classes = logits.shape[1] if n_classes is None else n_classes
    weights = maps if maps.ndim == targets.ndim else maps[:, 0]
    classes = logits[:, :n_classes]
    loss = weighted_cross_entropy(classes, targets, weights)
    if kind == "ce+dice":
        loss = loss + soft_dice_loss(classes, targets)
    if logits.shape[1] > n_classes:
        loss = loss + distance_loss(logits[:, n_classes], targets, maps[:, 1])
    return loss
