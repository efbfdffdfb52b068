"""Background jobs owned by a dock widget, ended cleanly when the dock or the viewer closes.

A widget starts its long work (training, prediction) through a :class:`JobRunner`. Events and the outcome come
back in the GUI thread. When the widget's dock is closed, the viewer window closes, the application quits or the
widget is deleted while a job runs, the runner (once):

1. stops delivering anything to the widget (no signal reaches a deleted Qt object),
2. cancels the job and waits for its worker thread to end, at most :data:`WAIT_ON_CLOSE_S` seconds,
3. hands the outcome to the job's ``on_orphaned`` callback, which keeps what is worth keeping (the best model
   goes to the session's model registry) without touching the widget's Qt objects.

If the worker has not ended in time, ``on_orphaned`` runs when it ends (if the event loop still runs).
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from qtpy.QtCore import QEvent, QObject
from qtpy.QtWidgets import QApplication, QMainWindow, QWidget
from superqt.utils import create_worker

from .jobs import Outcome
from .qt_parts import Relay

logger = logging.getLogger(__name__)

WAIT_ON_CLOSE_S = 30.0
"""How long closing waits for a cancelled job to end (a training step, or a validation pass, must finish)."""

PROVIDER = "Tiled U-Net"


@dataclass
class RunningJob:
    """One job in flight: what it runs, where its results go, and whether it has ended."""

    job: Any
    on_event: Callable[[Any], Any]
    on_done: Callable[[Outcome], Any]
    on_orphaned: Callable[[Outcome, str], Any]
    done: threading.Event = field(default_factory=threading.Event)
    outcome: Outcome | None = None
    handled: bool = False
    worker: Any = None
    task: Any = None


class JobRunner:
    """Runs one job at a time for a widget and ends it cleanly when the widget goes away.

    Parameters
    ----------
    native : QWidget
        The widget napari docks (its dock, its window and its deletion are watched).
    viewer : napari.Viewer, optional
        The viewer; a running job is listed in its window's task status, so that closing napari says what
        runs and cancels it.

    """

    def __init__(self, native: QWidget, viewer: Any = None) -> None:
        self.closed_because: str | None = None
        self.current: RunningJob | None = None
        #: Called with the reason when the widget goes away (to disconnect from the viewer's events).
        self.on_close: list[Callable[[str], Any]] = []
        self._viewer = weakref.ref(viewer) if viewer is not None else None
        self._relay = Relay()
        self._relay.event.connect(self._deliver_event)
        self._watcher = CloseWatcher(native, self.close)

    @property
    def closed(self) -> bool:
        """True once the widget's dock, its viewer or the widget itself has gone."""
        return self.closed_because is not None

    @property
    def running(self) -> bool:
        """True while a job runs."""
        return self.current is not None

    def start(self, function: Callable[[Any, Callable[[Any], Any]], Outcome], job: Any, *,
              on_event: Callable[[Any], Any], on_done: Callable[[Outcome], Any],
              on_orphaned: Callable[[Outcome, str], Any], description: str) -> RunningJob:
        """Run ``function(job, emit)`` in a worker thread (``job.cancel`` is a threading.Event).

        ``on_event`` receives what ``emit`` was given and ``on_done`` the outcome, in the GUI thread, while the
        widget lives; ``on_orphaned(outcome, reason)`` gets the outcome instead once it has gone.
        """
        if self.closed:
            raise RuntimeError("this widget was closed: open it again from the Plugins menu")
        if self.current is not None:
            raise RuntimeError("a job is already running")
        running = RunningJob(job, on_event, on_done, on_orphaned)
        emit = self._relay.event.emit

        def work() -> Outcome:
            try:
                running.outcome = function(job, emit)
            finally:
                running.done.set()
            return running.outcome

        worker = create_worker(work, _start_thread=False, _ignore_errors=True)
        worker.returned.connect(lambda _outcome: self._finish(running))
        worker.errored.connect(lambda err: self._finish(running, Outcome(error=err)))
        running.worker = worker
        running.task = self._register_task(description, job)
        self.current = running
        self._watcher.watch_window()
        worker.start()
        return running

    def cancel(self) -> None:
        """Ask the running job to stop (it ends at its next check)."""
        if self.current is not None:
            self.current.job.cancel.set()

    # ------------------------------------------------------------------ delivery
    def _deliver_event(self, event: Any) -> None:
        if self.closed or self.current is None:
            return
        try:
            self.current.on_event(event)
        except Exception:  # an exception escaping a Qt slot can abort the process: log it instead
            logger.exception("showing a progress event failed")

    def _finish(self, running: RunningJob, error_outcome: Outcome | None = None) -> None:
        if running.handled:
            return
        running.handled = True
        outcome = running.outcome or error_outcome or Outcome(error=RuntimeError("the worker ended without result"))
        if self.current is running:
            self.current = None
        self._update_task(running, outcome)
        try:
            if self.closed:
                running.on_orphaned(outcome, self.closed_because or "closed")
            else:
                running.on_done(outcome)
        except Exception:  # an exception escaping a Qt slot can abort the process: log it instead
            logger.exception("handling the end of a job failed")

    # ------------------------------------------------------------------ closing
    def close(self, reason: str) -> None:
        """The widget has gone (``reason`` says how): cancel, wait for the worker, keep what it produced."""
        if self.closed:
            return
        self.closed_because = reason
        self._watcher.stop()
        for callback in self.on_close:
            try:
                callback(reason)
            except Exception:  # closing goes on: the job must still be ended
                logger.exception("a close callback failed (%s)", reason)
        running = self.current
        if running is None:
            return
        running.job.cancel.set()
        if running.done.wait(WAIT_ON_CLOSE_S):
            self._finish(running)
        else:
            logger.warning("the cancelled job is still running after %.0f s (%s); its result is kept when it ends",
                           WAIT_ON_CLOSE_S, reason)

    # ------------------------------------------------------------------ napari's task status
    def _window(self) -> Any:
        viewer = self._viewer() if self._viewer is not None else None
        return getattr(viewer, "window", None)

    def _register_task(self, description: str, job: Any) -> Any:
        """List the job in napari's task status: closing the window then says what runs, and cancels it."""
        register = getattr(self._window(), "_register_task_status", None)
        if register is None:
            return None
        try:
            from napari.utils.task_status import Status

            return register(PROVIDER, Status.BUSY, description, cancel_callback=job.cancel.set)
        except Exception:  # napari's task status is optional: the job runs anyway
            logger.debug("could not register the task status", exc_info=True)
            return None

    def _update_task(self, running: RunningJob, outcome: Outcome) -> None:
        update = getattr(self._window(), "_update_task_status", None)
        if running.task is None or update is None:
            return
        try:
            from napari.utils.task_status import Status

            status = (Status.FAILED if outcome.error is not None
                      else Status.CANCELLED if outcome.cancelled else Status.COMPLETED)
            update(running.task, status, "")
        except Exception:  # the window may be gone
            logger.debug("could not update the task status", exc_info=True)


class CloseWatcher(QObject):
    """Calls ``callback(reason)`` once when a docked widget goes away.

    Watched: the dock is closed (napari takes the widget out of it: its parent becomes None), the main window
    closes (a Close event followed by its Hide), the application quits, or the widget is deleted.
    """

    def __init__(self, native: QWidget, callback: Callable[[str], Any]) -> None:
        super().__init__(native)
        self._native = native
        self._callback = callback
        self._docked = native.parent() is not None
        self._window: QWidget | None = None
        self._window_closing = False
        self._stopped = False
        native.installEventFilter(self)
        fire = _weak_fire(weakref.ref(self))
        native.destroyed.connect(lambda *_: fire("the widget was deleted"))
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(lambda: fire("napari quits"))

    def stop(self) -> None:
        """Stop watching (the callback has run)."""
        self._stopped = True

    def fire(self, reason: str) -> None:
        """Call the callback once; never let an error escape into Qt (that would abort the process)."""
        if self.__dict__.get("_stopped", True):  # done, or being torn down
            return
        self._stopped = True
        try:
            self._callback(reason)
        except Exception:
            logger.exception("closing the widget (%s) failed", reason)

    def watch_window(self) -> None:
        """Watch the main window the widget is in now (it may change when the widget is docked)."""
        try:
            window = self._native.window()
        except RuntimeError:  # the widget was deleted
            return
        if window is self._window or not isinstance(window, QMainWindow):
            return
        if self._window is not None:
            self._window.removeEventFilter(self)
        self._window = window
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # Qt override
        """Follow the dock (parent changes) and the main window (close then hide)."""
        if "_native" not in self.__dict__ or self._stopped:  # being torn down, or done
            return False
        try:
            kind = event.type()
            if watched is self._native:
                if kind == QEvent.Type.ParentChange:
                    if self._native.parent() is None and self._docked:
                        self.fire("its panel was closed")
                    self._docked = self._native.parent() is not None
                    self.watch_window()
                elif kind == QEvent.Type.Show:
                    self.watch_window()
            elif watched is self._window:
                if kind == QEvent.Type.Close:
                    self._window_closing = True
                elif kind == QEvent.Type.Hide and self._window_closing and not event.spontaneous():
                    self.fire("the napari window was closed")
                elif kind in (QEvent.Type.Show, QEvent.Type.WindowStateChange):
                    self._window_closing = False
        except Exception:  # an exception in an event filter would abort the process
            logger.exception("watching the widget's dock failed")
        return False


def _weak_fire(watcher: weakref.ref[CloseWatcher]) -> Callable[[str], None]:
    """A callback that fires ``watcher`` if it still exists: Qt connections must not keep widgets alive.

    The runner holds its watcher, so the Python side of the watcher lives as long as the runner does, also
    after Qt deleted the watcher's C++ side (a child of the widget, deleted before the widget's ``destroyed``).
    """

    def fire(reason: str) -> None:
        live = watcher()
        if live is not None:
            live.fire(reason)

    return fire
