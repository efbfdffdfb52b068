"""Small Qt pieces: a signal relay from worker threads to the GUI thread, status text, a live loss plot (QPainter)."""

from __future__ import annotations

import math
from typing import Any

from qtpy.QtCore import QObject, QPointF, QRectF, Qt, Signal
from qtpy.QtGui import QColor, QPainter, QPainterPath, QPen
from qtpy.QtWidgets import QSizePolicy, QWidget

from .model_registry import LossHistory
from .model_text import metric_name

TRAIN_COLOR = QColor(90, 160, 255)
VAL_COLOR = QColor(255, 150, 60)
METRIC_COLOR = QColor(110, 210, 120)
AXIS_COLOR = QColor(170, 170, 170)
ERROR_STYLE = "color: #ff8a80;"
PLOT_HEIGHT = 120


def wrap_text(*labels: Any) -> None:
    """Let magicgui Labels wrap long messages over the full width of the widget (they are fixed-size otherwise)."""
    for label in labels:
        label.native.setWordWrap(True)
        label.native.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        label.native.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)


def set_status(label: Any, text: str, error: bool = False) -> None:
    """Show ``text`` in full in a widget's status label (errors in red, selectable so they can be copied)."""
    label.value = text
    if bool(label.native.property("error")) != error:  # restyling on every training step would cost time
        label.native.setProperty("error", error)
        label.native.setStyleSheet(ERROR_STYLE if error else "")


class Relay(QObject):
    """Carries objects from a worker thread to the GUI thread.

    Create it in the GUI thread and connect ``event``; ``event.emit(obj)`` may then be called from any thread and
    the connected slots run in the GUI thread (a queued connection), so they may touch widgets.
    """

    event = Signal(object)


class LossPlot(QWidget):
    """Training loss per step, held-out loss per epoch, and the main held-out metric (0..1, right axis).

    It draws a :class:`LossHistory` (shared with the model registry, so that a continued model's curves go on
    and a reopened widget shows them); ``steps`` and ``epochs`` are that history's lists.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(PLOT_HEIGHT)
        self.setMaximumHeight(PLOT_HEIGHT + 40)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setToolTip("blue: training loss (thin: every step, thick: epoch mean); orange: loss on the held-out "
                        "annotations; green: held-out score (right axis, 0 to 1; higher is better). Dashed lines "
                        "mark where training was continued.")
        self.history = LossHistory()

    @property
    def steps(self) -> list[tuple[int, float]]:
        """Training loss per step."""
        return self.history.steps

    @property
    def epochs(self) -> list[tuple[int, float, float | None, float | None]]:
        """Per epoch: step, training loss, held-out loss, main held-out metric."""
        return self.history.epochs

    @property
    def metric_name(self) -> str:
        """Key of the plotted metric."""
        return self.history.metric_name

    def show_history(self, history: LossHistory) -> None:
        """Draw ``history`` (and the points added to it from now on)."""
        self.history = history
        self.update()

    def clear(self) -> None:
        """Start an empty history (a new model)."""
        self.show_history(LossHistory())

    def add_step(self, step: int, loss: float) -> None:
        """Add the training loss of one step."""
        if math.isfinite(loss):
            self.history.steps.append((step, loss))
            self.update()

    def add_epoch(self, step: int, train_loss: float, val_loss: float | None, metrics: dict[str, float]) -> None:
        """Add an epoch's mean training loss, held-out loss and main held-out metric."""
        name = "instance_f1" if "instance_f1" in metrics else next(iter(metrics), "")
        if name:
            self.history.metric_name = name
        self.history.epochs.append((step, train_loss, val_loss, metrics.get(name) if name else None))
        self.update()

    # ------------------------------------------------------------------ drawing
    def paintEvent(self, event: Any) -> None:  # Qt override
        """Draw axes, the three series and a legend."""
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(self.rect()).adjusted(38, 18, -34, -18)
        painter.setPen(QPen(AXIS_COLOR, 1))
        painter.drawRect(rect)
        if not self.steps and not self.epochs:
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, "loss curves appear here during training")
            painter.end()
            return
        last_step = max([s for s, _ in self.steps] + [e[0] for e in self.epochs] + [1])
        # epoch means set the scale when there are some: single noisy steps are clipped rather than squash the plot
        epoch_losses = [e[1] for e in self.epochs] + [e[2] for e in self.epochs if e[2] is not None]
        losses = epoch_losses or [v for _, v in self.steps]
        top = max(max(losses) * 1.15, 1e-6)

        def point(step: float, value: float, high: float) -> QPointF:
            x = rect.left() + rect.width() * step / last_step
            y = rect.bottom() - rect.height() * min(max(value / high, 0.0), 1.0)
            return QPointF(x, y)

        faint = QColor(TRAIN_COLOR)
        faint.setAlpha(90)
        self._line(painter, [point(s, v, top) for s, v in self.steps], faint, 1.0)
        self._line(painter, [point(e[0], e[1], top) for e in self.epochs], TRAIN_COLOR, 2.0)
        self._line(painter, [point(e[0], e[2], top) for e in self.epochs if e[2] is not None], VAL_COLOR, 2.0)
        self._line(painter, [point(e[0], e[3], 1.0) for e in self.epochs if e[3] is not None], METRIC_COLOR, 2.0)
        painter.setPen(QPen(AXIS_COLOR, 1))
        painter.drawText(QRectF(0, rect.top() - 6, 36, 14), Qt.AlignmentFlag.AlignRight, f"{top:.2g}")
        painter.drawText(QRectF(0, rect.bottom() - 8, 36, 14), Qt.AlignmentFlag.AlignRight, "0")
        painter.drawText(QRectF(rect.right() + 3, rect.top() - 6, 30, 14), Qt.AlignmentFlag.AlignLeft, "1")
        painter.drawText(QRectF(rect.right() + 3, rect.bottom() - 8, 30, 14), Qt.AlignmentFlag.AlignLeft, "0")
        painter.drawText(QRectF(rect.left(), rect.bottom() + 2, rect.width(), 16), Qt.AlignmentFlag.AlignRight,
                         f"step {last_step}")
        mark = QPen(AXIS_COLOR, 1, Qt.PenStyle.DashLine)
        painter.setPen(mark)
        for start in self.history.runs:
            x = rect.left() + rect.width() * start / last_step
            painter.drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom()))
        self._legend(painter, rect)
        painter.end()

    @staticmethod
    def _line(painter: QPainter, points: list[QPointF], color: QColor, width: float) -> None:
        if not points:
            return
        painter.setPen(QPen(color, width))
        if len(points) == 1:
            painter.drawEllipse(points[0], 2.5, 2.5)
            return
        path = QPainterPath(points[0])
        for p in points[1:]:
            path.lineTo(p)
        painter.drawPath(path)

    def _legend(self, painter: QPainter, rect: QRectF) -> None:
        entries = [("train loss", TRAIN_COLOR), ("held-out loss", VAL_COLOR)]
        if self.metric_name:
            entries.append((f"{metric_name(self.metric_name)} (right)", METRIC_COLOR))
        x = rect.left()
        for text, color in entries:
            painter.setPen(QPen(color, 3))
            painter.drawLine(QPointF(x, rect.top() - 10), QPointF(x + 14, rect.top() - 10))
            painter.setPen(QPen(AXIS_COLOR, 1))
            width = painter.fontMetrics().horizontalAdvance(text)
            painter.drawText(QPointF(x + 18, rect.top() - 6), text)
            x += 30 + width
