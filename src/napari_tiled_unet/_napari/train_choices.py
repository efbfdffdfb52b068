"""How the Train widget follows what the user picks: channels, voxel size, the label check, corrections layers.

A mixin of :class:`~.train_widget.TrainWidget`: when the image layer changes, the channel choices and the voxel
size follow it; when the labels (or the task, the sparse box, the channels) change, the labels are checked again
and the task and sparse box follow the suggestion unless the user set them by hand; a built-in model is proposed
to start from for the data it was trained on; a corrections layer made by the Predict widget selects its image,
its model and the settings to read it with.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from .builtin_choices import builtin_for
from .channels import NONE, propose_channels
from .corrections_layer import corrections_info
from .label_check import Checked
from .messages import report_info
from .model_registry import registry
from .qt_parts import set_status
from .train_inputs import inputs_to_check, voxel_size_of

logger = logging.getLogger(__name__)


def _fits(image: np.ndarray, labels: np.ndarray) -> bool:
    return image.shape == labels.shape or image.shape[1:] == labels.shape


class TrainChoices:
    """Follow the picked layers and settings (a mixin of the Train widget; see the module docstring)."""

    viewer: Any
    fields: Any
    advanced: Any
    status: Any
    runner: Any
    model: Any
    model_name: str | None
    _show_model: Any

    def connect_choices(self) -> None:
        """Connect the data fields' controls (called once the widget is built)."""
        self.fields.image_layer.changed.connect(self._image_changed)
        self.fields.labels_layer.changed.connect(self._labels_changed)
        self.fields.channels.mode.changed.connect(self._input_changed)
        self.fields.channels.layers.changed.connect(self._input_changed)
        self.fields.on_settings_changed = self.recheck_labels
        self.advanced.dims.changed.connect(self._input_changed)  # 2D/3D: voxel size and start model follow
        self.fields.check.on_checked = self._checked
        self._image_changed(self.fields.image_layer.value)
        self._labels_changed(self.fields.labels_layer.value)

    def _image_changed(self, layer: Any = None) -> None:
        if layer is not None:
            data = layer.data[0] if getattr(layer, "multiscale", False) else layer.data
            proposal = propose_channels(data.shape, bool(getattr(layer, "rgb", False)), layer.axis_labels)
            self.fields.channels.for_layer(layer, proposal)
        self._input_changed()

    def _input_changed(self, *_: Any) -> None:
        """The image, its channels or 2D/3D changed: the voxel size follows and the labels are checked again."""
        self._voxel_changed()
        self.recheck_labels()

    def _voxel_changed(self, *_: Any) -> None:
        pair = self.fields.current_pair()
        self.advanced.set_voxel_size(None if pair is None else voxel_size_of(pair, int(self.advanced.dims.value)))

    def _labels_changed(self, layer: Any = None) -> None:
        info = corrections_info(layer) if layer is not None else None
        if info is not None:
            self.use_corrections(layer)
        self.recheck_labels()

    def recheck_labels(self) -> None:
        """Check the selected labels again (in a background thread); the result shows in the label check."""
        if self.runner.closed:
            return
        fields = self.fields
        pair = fields.current_pair()
        if pair is None:
            fields.check.clear("pick an image layer and a labels layer: the labels are checked here before training")
            return
        try:
            labels, images = inputs_to_check([pair])
        except ValueError as err:  # channel layers of different sizes...
            fields.check.clear(f"the labels cannot be checked: {err}")
            return
        corrections = corrections_info(pair.labels)
        note = ""
        if corrections is not None:
            reading = "1 = background, 2.. = objects" if corrections.settings.get("task") == "instances" else \
                "the model's label values"
            note = (f"'{pair.labels.name}' is the prediction of '{corrections.model_name}' to correct ({reading}; 0 = "
                    "not sure): fix the mistakes, then press Continue training (in a stack only the planes you edit "
                    "count)")
        fields.check.request(labels, images if all(map(_fits, images, labels)) else None, fields.task.value,
                             bool(fields.sparse.value), suggest=not fields.settings_by_hand and corrections is None,
                             name=pair.labels.name, note=note, dims=int(self.advanced.dims.value),
                             shipped_start=fields.has_builtins and (not fields.start_by_hand
                                                                    or bool(fields.start_from.value)))

    def _checked(self, checked: Checked) -> None:
        """After a check: propose a built-in model for the kind of data it was trained on (2D nuclei...)."""
        fields = self.fields
        if fields.start_by_hand or not fields.has_builtins:
            return
        pair = fields.current_pair()
        one_channel = pair is not None and pair.channels.mode == NONE and not getattr(pair.image, "rgb", False)
        dims = int(self.advanced.dims.value)
        model = builtin_for(checked.task, dims, 1) if one_channel and checked.report.kind != "empty" else None
        with fields.programmatic():
            fields.start_from.value = model.spec if model is not None else ""

    def use_corrections(self, layer: Any) -> None:
        """A corrections layer was picked: its image, its model and the settings that read it."""
        info = corrections_info(layer)
        if info is None:
            return
        fields = self.fields
        fields.apply_settings(str(info.settings.get("task", "semantic")), bool(info.settings.get("sparse")),
                              str(info.settings.get("sparse_background") or "auto"))
        source = next((lay for lay in self.viewer.layers if lay.name == info.source_name), None)
        if source is not None and source in list(fields.image_layer.choices):
            with fields.programmatic():
                fields.image_layer.value = source
        if info.model_name in registry and not self.runner.running:
            self._show_model(registry.get(info.model_name), info.model_name)
        elif info.model_name not in registry:
            logger.info("the model %r of %s is no longer in the session", info.model_name, layer.name)
        set_status(self.status, f"'{layer.name}': correct the prediction of '{info.model_name}' (paint missed objects "
                   "with a new id, paint 1 over wrong ones, erase where you are not sure), then press Continue "
                   "training")

    def select_new_corrections(self, layer: Any) -> None:
        """A corrections layer was just added (by the Predict widget): pick it as the labels to train on."""
        if corrections_info(layer) is None or self.runner.running:
            return
        self.fields.labels_layer.reset_choices()
        self.fields.labels_layer.value = layer
        report_info(f"'{layer.name}' is picked in Train U-Net: correct it, then press Continue training")
