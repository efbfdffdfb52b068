"""Losses on the network output: pixel-weighted cross-entropy with ignored pixels, soft Dice, and the distance term.

An instance model's last channel regresses the centre distance (in [0, 1]): binary cross-entropy between its
sigmoid and the target, over the annotated pixels, is added to the class losses with weight 1.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from napari_tiled_unet.training.labels import ANY_OBJECT, IGNORE


def weighted_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Mean of ``weight * CE`` over annotated pixels (targets == -1 are ignored).

    A pixel whose target is :data:`~napari_tiled_unet.training.labels.ANY_OBJECT` is some object class, not
    which: its term is ``-log(1 - p(background))``, the cross-entropy of the classes after 0 merged.

    Parameters
    ----------
    logits : torch.Tensor
        ``(N, K, *spatial)``.
    targets : torch.Tensor
        ``(N, *spatial)`` int64 class indices, -1 where not annotated, -2 for "any class but 0".
    weights : torch.Tensor
        ``(N, *spatial)`` float pixel weights.

    """
    annotated = targets != IGNORE
    if not bool(annotated.any()):
        return logits.sum() * 0.0
    logits = logits.float()
    per_pixel = F.cross_entropy(logits, targets.clamp(min=0), reduction="none")
    loose = targets == ANY_OBJECT
    if bool(loose.any()):
        log_probs = torch.log_softmax(logits, dim=1)
        per_pixel = torch.where(loose, -torch.logsumexp(log_probs[:, 1:], dim=1), per_pixel)
    weights = weights * annotated
    return (per_pixel * weights).sum() / weights.sum().clamp(min=1e-6)


def soft_dice_loss(logits: torch.Tensor, targets: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """1 - mean soft Dice over the non-background classes (class 0 is background), pixels of a known class only."""
    n_classes = logits.shape[1]
    if n_classes < 2:
        return logits.sum() * 0.0
    annotated = (targets >= 0).unsqueeze(1)
    probs = torch.softmax(logits.float(), dim=1) * annotated
    onehot = F.one_hot(targets.clamp(min=0), n_classes).movedim(-1, 1).float() * annotated
    axes = (0,) + tuple(range(2, logits.ndim))
    intersection = (probs * onehot).sum(axes)[1:]
    total = (probs + onehot).sum(axes)[1:]
    return 1.0 - ((2 * intersection + eps) / (total + eps)).mean()


def distance_loss(logits: torch.Tensor, targets: torch.Tensor, distance: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy between ``sigmoid(logits)`` and the centre distance, over pixels of a known class.

    Parameters
    ----------
    logits : torch.Tensor
        ``(N, *spatial)`` distance-channel logits.
    targets : torch.Tensor
        ``(N, *spatial)`` class targets (only used for the mask: -1 not annotated, -2 an object without outline,
        whose distance is unknown).
    distance : torch.Tensor
        ``(N, *spatial)`` target in [0, 1].

    """
    annotated = (targets >= 0).float()
    per_pixel = F.binary_cross_entropy_with_logits(logits.float(), distance.float(), reduction="none")
    return (per_pixel * annotated).sum() / annotated.sum().clamp(min=1.0)


SIGMA_FLOOR = 0.05
"""Smallest intensity difference scale of the edge term, in normalised units (0..1 = 1st to 99.8th percentile)."""


def edge_smoothness_loss(probs: torch.Tensor, image: torch.Tensor, dilations: tuple[int, ...] = (1, 2)) -> torch.Tensor:
    """Penalise different predictions of neighbouring pixels unless the image has an edge between them.

    ``mean(w * |p_i - p_j|)`` over pairs of pixels ``d`` apart along every spatial axis, with
    ``w = exp(-(I_i - I_j)**2 / (2 sigma**2))`` and ``sigma`` twice the median neighbour difference of the
    batch (its noise level), at least :data:`SIGMA_FLOOR` (the steps of a quantised 8-bit image are no edges).
    Where a scribble leaves the object's edge unannotated, this moves the predicted
    boundary onto the strongest intensity edge, where the true edge of a blurred object is (a CRF-like
    regulariser for scribble supervision, cf. Tang et al. 2018, "On regularized losses for weakly-supervised
    CNN segmentation").

    Parameters
    ----------
    probs : torch.Tensor
        ``(N, K, *spatial)`` class probabilities.
    image : torch.Tensor
        ``(N, *spatial)`` normalised intensities at the same pixels (channels averaged).
    dilations : tuple of int
        Pixel distances of the pairs compared.

    """
    terms = []
    for axis in range(2, probs.ndim):
        for d in dilations:
            size = probs.shape[axis]
            if size <= d:
                continue
            dp = (probs.narrow(axis, d, size - d) - probs.narrow(axis, 0, size - d)).abs().sum(dim=1)
            di = image.narrow(axis - 1, d, size - d) - image.narrow(axis - 1, 0, size - d)
            sigma = (2.0 * di.abs().median()).clamp(min=SIGMA_FLOOR)
            terms.append((torch.exp(-0.5 * (di / sigma) ** 2) * dp).mean())
    return torch.stack(terms).mean() if terms else probs.sum() * 0.0


def training_loss(logits: torch.Tensor, targets: torch.Tensor, maps: torch.Tensor, kind: str,
                  n_classes: int | None = None, image: torch.Tensor | None = None,
                  edge_weight: float = 0.0) -> torch.Tensor:
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
    image : torch.Tensor, optional
        ``(N, *spatial)`` input intensities at the output pixels, for the edge term.
    edge_weight : float
        Weight of :func:`edge_smoothness_loss` (0: off).

    """
    n_classes = logits.shape[1] if n_classes is None else n_classes
    weights = maps if maps.ndim == targets.ndim else maps[:, 0]
    classes = logits[:, :n_classes]
    loss = weighted_cross_entropy(classes, targets, weights)
    if kind == "ce+dice":
        loss = loss + soft_dice_loss(classes, targets)
    if logits.shape[1] > n_classes:
        loss = loss + distance_loss(logits[:, n_classes], targets, maps[:, 1])
    if edge_weight > 0 and image is not None:
        loss = loss + edge_weight * edge_smoothness_loss(torch.softmax(classes.float(), dim=1), image)
    return loss
