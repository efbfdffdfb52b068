"""Losses on the network output: pixel-weighted cross-entropy with ignored pixels, and soft Dice."""

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


def training_loss(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor, kind: str) -> torch.Tensor:
    """The loss named by ``kind`` ("ce" or "ce+dice")."""
    loss = weighted_cross_entropy(logits, targets, weights)
    if kind == "ce+dice":
        loss = loss + soft_dice_loss(logits, targets)
    return loss
