"""What the picked labels look like, said before training: the Train widget's label check.

When a labels layer is picked (and when the task or the sparse box change), the labels are inspected by
:func:`napari_tiled_unet.training.label_report.inspect_labels` in a background thread (it samples at most 4M
pixels, but the image statistics of a large stack take a few seconds). The widget shows the summary and every
finding in its own words, proposes the task and sparse setting the labels suggest, and, when the settings
contradict the labels, offers to train anyway. Start checks again in the training job, before any training.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from magicgui.widgets import CheckBox, Container, Label, PushButton

from napari_tiled_unet.training.config import TrainingConfig
from napari_tiled_unet.training.label_report import LabelReport, inspect_labels
from napari_tiled_unet.training.start import scribble_suggestion

from .messages import TRAIN_ANYWAY, TRAINING, in_user_words
from .qt_parts import ERROR_STYLE, Relay, wrap_text

logger = logging.getLogger(__name__)

WAIT_ON_CLOSE_S = 10.0
"""How long closing the widget waits for a label check still running (a check takes a few seconds at most)."""

SEVERITY_WORDS = {"error": "contradiction", "warning": "warning", "info": "note"}


@dataclass(frozen=True)
class Checked:
    """A label check's result: the report for the settings it was made with, and those settings."""

    report: LabelReport
    task: str
    sparse: bool


def check_labels(labels: Sequence[np.ndarray], images: Sequence[np.ndarray] | None, task: str, sparse: bool,
                 suggest: bool, dims: int = 2, shipped_start: bool = True) -> Checked:
    """Inspect the labels for ``task``/``sparse``, or for the settings they suggest when ``suggest`` is True.

    With ``shipped_start`` (training may start from a shipped model), scribbles through objects that model finds
    suggest an instance model (:func:`~napari_tiled_unet.training.start.scribble_suggestion`); the report then
    carries that suggestion and says why.
    """
    first = inspect_labels(labels, images=images)
    if shipped_start:
        first = scribble_suggestion(first, labels, images, TrainingConfig.defaults(dims))
    if suggest and first.kind != "empty":
        task, sparse = first.suggested_task, first.suggested_sparse
    report = inspect_labels(labels, task, sparse, images=images)
    said = tuple(f for f in first.findings if f.code.startswith("scribbles_"))
    report = dataclasses.replace(report, suggested_task=first.suggested_task, suggested_sparse=first.suggested_sparse,
                                 findings=(*said, *report.findings))  # what decides the suggestion first
    return Checked(report, task, sparse)


def summary_in_words(report: LabelReport) -> str:
    """What the labels look like and what they suggest, in one sentence in the widget's words.

    Example: "2 values (1, 2), 0 on 97% of the pixels: looks like scribbles. Suggested: task semantic, 'sparse'
    ticked."
    """
    if report.kind == "empty":
        return "nothing is painted yet (every pixel is 0)"
    shown = ", ".join(map(str, report.values)) + (", ..." if report.n_values > len(report.values) else "")
    values = f"{report.n_values} value{'s' if report.n_values != 1 else ''} ({shown})"
    return (f"{values}, 0 on {report.zero_fraction:.0%} of the pixels: looks like {report.kind}. Suggested: "
            f"{suggestion_in_words(report.suggested_task, report.suggested_sparse)}.")


def report_in_words(report: LabelReport, name: str = "") -> str:
    """The summary and the findings, one per line, in the Train widget's words."""
    lines = [f"{f'{name!r}: ' if name else ''}{summary_in_words(report)}"]
    for finding in report.findings:
        if finding.code == "empty":
            continue
        lines.append(f"{SEVERITY_WORDS.get(finding.severity, finding.severity)}: "
                     f"{in_user_words(finding.message, TRAINING)}")
    if any(f.code != "empty" for f in report.errors):
        lines.append(f"Start will not train with these settings: change them (or press 'Use suggestion'), or tick "
                     f"'{TRAIN_ANYWAY}'")
    return "\n".join(lines)


def suggestion_in_words(task: str, sparse: bool) -> str:
    """``"task instances, 'sparse' ticked"``."""
    return f"task {task}, 'sparse' {'ticked' if sparse else 'unticked'}"


class LabelCheck(Container):
    """The label check's area: what the labels look like, a button for the suggestion, and "train anyway".

    ``on_suggested(task, sparse, chosen)`` is called when the suggestion should be applied: ``chosen`` is True
    when the user pressed "Use suggestion" (the labels must then be checked again for those settings), False
    when a check made for the suggested settings arrives while the user has not set them by hand.
    """

    def __init__(self, on_suggested: Callable[[str, bool, bool], Any]) -> None:
        super().__init__(labels=False)
        self.margins = (0, 0, 0, 0)
        self.text = Label(value="pick a labels layer: its labels are checked here before training",
                          tooltip="what the labels look like, what task and sparse setting they suggest, and "
                          "anything that contradicts the settings below")
        self.use_button = PushButton(text="Use suggestion", enabled=False,
                                     tooltip="set the task and the sparse box as the labels suggest")
        self.ignore = CheckBox(text=f"{TRAIN_ANYWAY} (ignore the label check)", value=False, visible=False,
                               tooltip="train with the settings as they are, although the labels seem to "
                               "contradict them (like the command line's --ignore-label-check)")
        self.extend([self.text, Container(widgets=[self.use_button, self.ignore], layout="horizontal",
                                          labels=False)])
        wrap_text(self.text)
        self._on_suggested = on_suggested
        self._generation = 0
        self._pending = 0
        self.closed = False
        self._threads: list[threading.Thread] = []
        self._relay = Relay()
        self._relay.event.connect(self._run_delivery)
        self.last: Checked | None = None
        #: Called with every check that arrives (the widget may propose a model to start from).
        self.on_checked: Callable[[Checked], Any] | None = None
        self.use_button.changed.connect(self._use)

    @property
    def pending(self) -> bool:
        """True while a check runs."""
        return self._pending > 0

    def clear(self, text: str) -> None:
        """No labels to check: say why."""
        self._generation += 1
        self.last = None
        self._show(text, error=False)
        self.use_button.enabled = False
        self.ignore.visible = False

    def request(self, labels: Sequence[np.ndarray], images: Sequence[np.ndarray] | None, task: str, sparse: bool,
                suggest: bool, name: str = "", note: str = "", dims: int = 2, shipped_start: bool = True) -> None:
        """Check the labels in a background thread (see :func:`check_labels`); the latest request wins."""
        self._generation += 1
        generation = self._generation
        self._pending += 1
        self.text.value = f"checking the labels{f' {name!r}' if name else ''}…"
        me = weakref.ref(self)  # a check still running must not keep a closed widget (and its viewer) alive
        relay = self._relay

        def deliver(result: Checked | BaseException) -> None:
            if (check := me()) is not None:
                check._pending = max(check._pending - 1, 0)
                if isinstance(result, BaseException):
                    check._failed(generation, result)
                else:
                    check._done(generation, result, suggest, name, note)

        def work() -> None:
            try:
                result: Checked | BaseException = check_labels(list(labels), None if images is None else list(images),
                                                                  task, sparse, suggest, dims, shipped_start)
            except Exception as err:  # shown in the widget and logged in the GUI thread
                result = err
            try:
                relay.event.emit((deliver, result))
            except RuntimeError:  # the widget and its relay were deleted: nobody waits for this check
                logger.debug("a label check ended after its widget was deleted")

        thread = threading.Thread(target=work, name="label check", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def end(self) -> None:
        """The widget goes away: nothing more is shown, and checks still running are awaited a moment.

        A check only reads the labels, so nothing is lost if one outlives the wait; waiting keeps its thread
        from running into the application's teardown.
        """
        self.closed = True
        deadline = time.monotonic() + WAIT_ON_CLOSE_S
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0.0))
        self._threads = [t for t in self._threads if t.is_alive()]

    @staticmethod
    def _run_delivery(item: tuple[Callable[[Any], Any], Any]) -> None:
        deliver, result = item
        try:
            deliver(result)
        except Exception:  # an exception escaping a Qt slot can abort the process: log it instead
            logger.exception("showing the label check failed")

    def _failed(self, generation: int, err: BaseException) -> None:
        logger.warning("the label check failed: %s", err, exc_info=(type(err), err, err.__traceback__))
        if not self.closed and generation == self._generation:
            self._show(f"the labels could not be checked ({type(err).__name__}: {err}); Start checks them again",
                       error=False)

    def _done(self, generation: int, checked: Checked, suggested: bool, name: str, note: str) -> None:
        if self.closed or generation != self._generation:
            return
        if suggested:
            self._on_suggested(checked.task, checked.sparse, False)
        self.show(checked, name, note)
        if self.on_checked is not None:
            self.on_checked(checked)

    def show(self, checked: Checked, name: str = "", note: str = "") -> None:
        """Show a check's result (also the one a training job made when Start was pressed).

        With a ``note`` (a corrections layer, read with its model's settings) the note replaces the summary and
        its suggestion, and only warnings and contradictions are listed.
        """
        self.last = checked
        report = checked.report
        if note:
            text = "\n".join([note] + [f"{SEVERITY_WORDS[f.severity]}: {in_user_words(f.message, TRAINING)}"
                                        for f in report.findings if f.severity != "info" and f.code != "empty"])
        else:
            text = report_in_words(report, name)
        blocking = any(f.code != "empty" for f in report.errors)
        self._show(text, error=blocking)
        self.ignore.visible = blocking or self.ignore.value
        differs = (report.suggested_task, report.suggested_sparse) != (checked.task, checked.sparse)
        self.use_button.enabled = report.kind != "empty" and differs and not note
        self.use_button.tooltip = (f"set {suggestion_in_words(report.suggested_task, report.suggested_sparse)}, as "
                                   "the labels suggest")

    def _show(self, text: str, error: bool) -> None:
        self.text.value = text
        self.text.native.setStyleSheet(ERROR_STYLE if error else "")

    def _use(self) -> None:
        if self.last is not None:
            self._on_suggested(self.last.report.suggested_task, self.last.report.suggested_sparse, True)
