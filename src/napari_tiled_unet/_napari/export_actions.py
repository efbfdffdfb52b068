"""The Predict widget's bioimage.io export: the dialog, then the export in a worker thread, reported in the widget."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from .export_dialog import ExportDialog, ExportInfo, default_settings
from .jobs import ExportJob, Outcome, run_export
from .messages import report_info
from .qt_parts import set_status

logger = logging.getLogger(__name__)


class ExportActions:
    """Export the selected model (a mixin of the Predict widget).

    The widget has ``selected_model()``, ``model`` (the model list), ``export_button``, ``status``,
    ``export_runner`` (a :class:`~.lifecycle.JobRunner`) and ``_error``.
    """

    selected_model: Any
    model: Any
    export_button: Any
    status: Any
    export_runner: Any
    native: Any
    _error: Any

    def open_export_dialog(self, settings: Any = None) -> ExportDialog | None:
        """Ask name, authors, license and description for the selected model; exporting starts on Export."""
        net = self.selected_model()
        if net is None:
            self._error("export", ValueError("pick a model to export: train one or load a .safetensors file"))
            return None
        dialog = ExportDialog(net, str(self.model.value), parent=self.native,
                              settings=settings if settings is not None else default_settings())
        dialog.accepted.connect(lambda: self.export_model_to(dialog.target(), dialog.info))
        dialog.open()
        return dialog

    def export_model_to(self, path: str | Path, info: ExportInfo | None = None) -> bool:
        """Export the selected model to a bioimage.io zip in a background thread; False if it did not start.

        Success and errors are notifications and status lines; the zip appears complete or not at all.
        """
        net = self.selected_model()
        if net is None:
            self._error("export", ValueError("pick a model to export: train one or load a .safetensors file"))
            return False
        if self.export_runner.running:
            return False
        self.export_button.enabled = False
        set_status(self.status, f"exporting to {Path(path).name}…")
        job = ExportJob(net, Path(path), info.as_kwargs() if info is not None else {})
        self.export_runner.start(run_export, job, on_event=lambda _e: None, on_done=self._exported,
                                 on_orphaned=lambda outcome, reason: logger.info("export ended: %s", outcome),
                                 description=f"exporting to {Path(path).name}")
        return True

    def _exported(self, outcome: Outcome) -> None:
        self.export_button.enabled = True
        if outcome.error is not None:
            self._error("export the model", outcome.error)
        else:
            set_status(self.status, f"exported {outcome.result}")
            report_info(f"Exported the model to {outcome.result} (bioimage.io format 0.5)")
