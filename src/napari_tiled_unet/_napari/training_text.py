"""What the Train widget's status line says about training events, in the user's words."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from napari_tiled_unet.training.events import EpochEvent, StepEvent
from napari_tiled_unet.training.selection import kept_epoch_text

from .model_text import metrics_in_words


def step_text(event: StepEvent, step_offset: int = 0) -> str:
    """``"epoch 2, step 31: loss 0.4120, 12 s"`` (steps count on over continued runs)."""
    return f"epoch {event.epoch}, step {step_offset + event.step}: loss {event.loss:.4f}, {event.elapsed:.0f} s"


def epoch_text(event: EpochEvent, sparse: bool, task: str = "semantic", strokes: bool = False) -> str:
    """The losses and held-out scores of an epoch, and whether its model is the best so far.

    ``strokes``: an instance model learnt from scribbles (its held-out part is scribbles).
    """
    scores = metrics_in_words(event.metrics, sparse, task, strokes)
    held_out = "" if event.val_loss is None else f", held-out loss {event.val_loss:.4f}"
    return (f"epoch {event.epoch}: train loss {event.train_loss:.4f}{held_out}"
            f"{'; ' + scores if scores else ''}{' (best so far)' if event.best else ''}")


def finished_text(summary: Mapping[str, Any], cancelled: bool, sparse: bool, task: str = "semantic",
                  strokes: bool = False) -> str:
    """What a finished (or cancelled) run did, how good its best model is, and how the labels were read.

    The summary's ``notes`` (e.g. "background is inferred") follow on their own lines; ``strokes`` as in
    :func:`epoch_text`.
    """
    scores = metrics_in_words(summary.get("best_metrics") or {}, sparse, task, strokes)
    notes = [str(note) for note in summary.get("notes") or []]
    return (f"{'cancelled' if cancelled else 'done'}: {summary.get('steps')} steps, "
            f"{summary.get('seconds')} s; {kept_epoch_text(summary)}"
            f"{', ' + scores if scores else ''}" + "".join(f"\nnote: {note}" for note in notes))
