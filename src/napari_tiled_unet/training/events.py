"""Typed events that training sends to its callback (progress bars, loss plots, logs)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class StepEvent:
    """One optimisation step finished.

    Attributes
    ----------
    step : int
        Steps done so far (1-based).
    epoch : int
        Current epoch (1-based).
    loss : float
        Training loss of this step.
    learning_rate : float
        Learning rate used.
    elapsed : float
        Seconds since training started.
    progress : float
        Fraction of the training budget (time or epochs) used, 0..1.

    """

    step: int
    epoch: int
    loss: float
    learning_rate: float
    elapsed: float
    progress: float


@dataclass(frozen=True)
class EpochEvent:
    """An epoch ended and was validated.

    Attributes
    ----------
    epoch : int
        Epoch number (1-based).
    step : int
        Steps done so far.
    train_loss : float
        Mean training loss over the epoch.
    val_loss : float or None
        Loss on the held-back regions (None without validation).
    metrics : dict
        Validation metrics: ``foreground_iou``, and ``instance_f1`` for the instances task.
    score : float
        The value that picks the best model (instance F1, foreground IoU, or minus the loss).
    best : bool
        True if this epoch's model is the best so far (and was kept).
    elapsed : float
        Seconds since training started.
    progress : float
        Fraction of the training budget used, 0..1.

    """

    epoch: int
    step: int
    train_loss: float
    val_loss: float | None
    metrics: dict[str, float]
    score: float
    best: bool
    elapsed: float
    progress: float


@dataclass(frozen=True)
class FinishedEvent:
    """Training ended (budget used, cancelled, or stopped by an error after a best model existed).

    Attributes
    ----------
    summary : dict
        What was done: steps, epochs, seconds, best epoch, best score and metrics, why it stopped.
    cancelled : bool
        True if the user cancelled.

    """

    summary: dict[str, Any] = field(default_factory=dict)
    cancelled: bool = False


TrainingEvent = StepEvent | EpochEvent | FinishedEvent
TrainingCallback = Callable[[TrainingEvent], Any]
