"""The Predict widget's "Correct and retrain" button: the last result as an annotation to correct and train on."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from napari_tiled_unet.model import UNet

from .builtin_choices import is_builtin
from .corrections_layer import add_corrections_layer
from .layer_axes import loop_axes
from .messages import report_info
from .model_registry import registry
from .predict_output import Pending
from .qt_parts import set_status

HOW_TO_CORRECT = ("paint missed objects with a new id (napari's new-label button, or M), paint 1 (background) over "
                  "wrong objects, erase (0) where you are not sure, then press Continue training in Train U-Net; "
                  "in a stack only the planes you edit count")


@dataclass(frozen=True)
class LastResult:
    """The latest prediction shown: where it went, and the model that made it (and its name in the list)."""

    pending: Pending
    net: UNet
    model_name: str
    layer: Any


class CorrectionActions:
    """Make an annotation for corrections from the last result (a mixin of the Predict widget).

    The widget has ``viewer``, ``last_result`` (a :class:`LastResult` or None), ``status`` and ``_error``.
    """

    viewer: Any
    last_result: LastResult | None
    status: Any
    _error: Any

    def make_corrections(self) -> Any:
        """Add a Labels layer to correct, made from the last result; None (with the message shown) if impossible."""
        last = self.last_result
        try:
            if last is None or last.layer not in self.viewer.layers:
                raise ValueError("predict first: the annotation is made from the result of a prediction")
            model_name = last.model_name
            if is_builtin(model_name) or model_name not in registry:
                model_name = registry.add(copy.deepcopy(last.net), name=f"{model_name} (your copy)")
            n_loop = len(loop_axes(last.pending.axes, last.pending.model_dims))
            layer = add_corrections_layer(self.viewer, last.layer, last.net, last.pending.output, model_name, n_loop,
                                          last.pending.layer.name)
        except ValueError as err:
            self._error("make an annotation for corrections", err)
            return None
        self.viewer.layers.selection.active = layer
        set_status(self.status, f"made '{layer.name}': {HOW_TO_CORRECT}")
        report_info(f"Correct '{layer.name}': {HOW_TO_CORRECT}")
        return layer
