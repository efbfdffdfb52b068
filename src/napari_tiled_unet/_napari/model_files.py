"""The Train widget's model files: save the current model, or load one to continue training it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qtpy.QtWidgets import QFileDialog

from napari_tiled_unet.model import UNet
from napari_tiled_unet.model_file import save_model

from .messages import report_info
from .model_registry import load_and_register
from .qt_parts import set_status


class ModelFileActions:
    """Save and load models (a mixin of the Train widget).

    The widget has ``model``, ``model_name``, ``status``, ``plot``, ``native``, ``_show_model`` and ``_error``.
    """

    model: UNet | None
    model_name: str | None
    status: Any
    plot: Any
    native: Any
    _show_model: Any
    _error: Any

    def save_model_to(self, path: str | Path) -> Path | None:
        """Save the current model to a ``.safetensors`` file; None (with the message shown) if that fails."""
        try:
            if self.model is None:
                raise ValueError("there is no model to save: train one first")
            written = save_model(self.model, path)
        except (ValueError, OSError) as err:
            self._error("save the model", err)
            return None
        report_info(f"Saved {self.model_name} to {written}")
        set_status(self.status, f"saved {self.model_name} to {written}")
        return written

    def load_model_from(self, path: str | Path) -> UNet | None:
        """Load a model to continue training it (it is offered to the Predict widget too)."""
        loaded = load_and_register(path, self._error)
        if loaded is None:
            return None
        net, name = loaded
        self._show_model(net, name)
        self.plot.clear()
        set_status(self.status, f"loaded {self.model_name}")
        return net

    def _save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.native, "Save model", f"{self.model_name or 'model'}.safetensors",
                                              "Model files (*.safetensors)")
        if path:
            self.save_model_to(path)

    def _load_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.native, "Load model", "", "Model files (*.safetensors)")
        if path:
            self.load_model_from(path)
