"""Running a prediction from the Predict widget: the job, its progress, and the result put into the viewer.

A mixin of :class:`~.predict_widget.PredictWidget`. One plane of a stack ("current plane only", and the
objects preview) is normalised with the statistics of the whole layer, and its background flattened when the
whole layer's is, both decided once per layer in the worker thread and kept
(:class:`~.predict_inputs.NormalizerCache`), so that it equals that plane of a full prediction.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from qtpy.QtWidgets import QFileDialog

from napari_tiled_unet.model import UNet
from napari_tiled_unet.model_meta import class_names, label_values
from napari_tiled_unet.uneven_background import flatten_in_words

from .correction_actions import LastResult
from .jobs import Outcome, PredictionJob, run_prediction
from .layer_axes import current_plane, loop_axes, plane_slices
from .messages import PREDICTION, report_error, report_info
from .model_registry import load_and_register
from .predict_inputs import NormalizerCache, PredictionInput, linking_in_words
from .predict_output import Pending, show_result
from .qt_parts import set_status

logger = logging.getLogger(__name__)


def _plane_at_cursor(viewer: Any, source: PredictionInput, dims: int) -> tuple[int, ...]:
    """The plane shown in the viewer, as indices of the input's loop axes."""
    position = list(source.reference.world_to_data(viewer.dims.point))
    if source.choice.mode == "layers":
        position = [0.0, *position]  # the stacked channel axis comes first
    return current_plane(source.axes, source.shape, dims, position)


class PredictRunning:
    """Start, follow and show predictions (a mixin of the Predict widget)."""

    viewer: Any
    runner: Any
    status: Any
    progress: Any
    model: Any
    output: Any
    current_plane: Any
    link: Any
    tta: Any
    rescale: Any
    flatten: Any
    objects: Any
    image_layer: Any
    run_button: Any
    cancel_button: Any
    load_button: Any
    channels: Any
    native: Any
    result_layer: Any
    result_layers: list[Any]
    last_result: LastResult | None
    last_outcome: Outcome | None
    _pending: Pending | None
    _normalizers: NormalizerCache
    _net_on_device: Any
    _input: Any
    _tile: Any

    @property
    def running(self) -> bool:
        """True while a prediction is in progress."""
        return self.runner.running

    def run(self, plane_only: bool | None = None, output: str | None = None) -> bool:
        """Start the prediction in a background thread; False (with the message shown) if the input is not usable.

        Parameters
        ----------
        plane_only : bool, optional
            Predict only the plane in view (default: the "current plane only" box).
        output : str, optional
            "labels", "instances" or "probabilities" (default: the output list).

        """
        if self.running:
            return False
        output = output or self.output.value
        plane_only = bool(self.current_plane.value) if plane_only is None else plane_only
        layer = self.image_layer.value
        try:
            net = self._net_on_device()
            if net is None:
                raise ValueError("pick a model: train one in the Train U-Net widget or load a .safetensors file")
            if layer is None and self.channels.value().mode != "layers":
                raise ValueError("pick an image layer first")
            source = self._input(net)
            job, plane, key = self._job(net, source, output, plane_only)
        except ValueError as err:
            self._error(f"predict '{layer.name}'" if layer is not None else "predict", err)
            return False
        self._pending = Pending(source.reference, source.axes, net.config.dims, output, plane,
                                tuple(label_values(net)), tuple(class_names(net)), source.shape, source.placement)
        self._running = (job, key, net, str(self.model.value))
        self.progress.value = 0
        what = f"predicting {source.reference.name}" + (f" plane {plane}" if plane else "")
        set_status(self.status, what + "…")
        self.runner.start(run_prediction, job, on_event=self._on_progress, on_done=self._on_returned,
                          on_orphaned=self._drop_orphaned, description=what)
        self._set_running(True)
        return True

    def _job(self, net: UNet, source: PredictionInput, output: str,
             plane_only: bool) -> tuple[PredictionJob, tuple[int, ...] | None, Any]:
        """The job, the plane it predicts (None: all) and the normaliser cache key it fills (None: none)."""
        data, dims = source.read(), net.config.dims
        plane = key = normalizer = whole = None
        flatten = "auto" if self.flatten.value else "off"
        if plane_only and loop_axes(source.axes, dims):
            plane = _plane_at_cursor(self.viewer, source, dims)
            key = (*NormalizerCache.key(source, net), flatten)
            cached = self._normalizers.get(key)
            if cached is not None:  # the whole stack was measured before: its statistics and flattening
                normalizer, flatten = cached
            whole = data if cached is None else None
            data = data[plane_slices(source.axes, dims, plane)]
        settings = self.objects.settings() if output == "instances" else None
        job = PredictionJob(net=net, image=data, axes=source.axes, output=output, tile_shape=self._tile(),
                            normalizer=normalizer, whole_image=whole, whole_axes=source.axes,
                            stitch_threshold=float(self.link.value), instance_settings=settings,
                            tta=bool(self.tta.value), rescale="auto" if self.rescale.value else "off",
                            flatten=flatten)
        return job, plane, key

    def preview_objects(self) -> bool:
        """Predict the instances of the plane in view with the Objects section's values."""
        return self.run(plane_only=True, output="instances")

    def cancel(self) -> None:
        """Stop the prediction before the next batch of tiles."""
        if self.running:
            self.runner.cancel()
            set_status(self.status, "cancelling…")

    def _set_running(self, running: bool) -> None:
        self.run_button.enabled = not running
        self.cancel_button.enabled = running
        self.load_button.enabled = not running
        self.objects.preview_button.enabled = not running and self.objects.applies

    def _on_progress(self, done_total: tuple[int, int]) -> None:
        done, total = done_total
        self.progress.max = max(total, 1)
        self.progress.value = done
        set_status(self.status, f"tile {done} of {total}")

    def _on_returned(self, outcome: Outcome) -> None:
        pending, self._pending = self._pending, None
        job, key, net, model_name = self._running
        self.last_outcome = outcome
        try:
            if key is not None:
                self._normalizers.put(key, job.normalizer, job.flatten)
            if outcome.error is not None:
                self._error(f"predict '{pending.layer.name}'" if pending else "predict", outcome.error)
            elif outcome.cancelled:
                report_info("Prediction cancelled; no layer was changed")
                set_status(self.status, "cancelled; no layer was changed")
            elif pending is not None:
                self._show(pending, outcome.result[0], net, model_name, job)
        except Exception as err:  # logged and shown; the widget must stay usable
            self._error("show the result", err)
        finally:
            self._set_running(False)

    def _show(self, pending: Pending, result: Any, net: UNet, model_name: str, job: PredictionJob) -> None:
        if pending.layer not in self.viewer.layers:
            raise ValueError(f"the image layer '{pending.layer.name}' was removed during the prediction: "
                             "add it again and predict")
        shown = show_result(self.viewer, pending.layer, pending.with_result(result))
        self.result_layers, self.result_layer = shown.layers, shown.layer
        if pending.output != "probabilities":
            self.last_result = LastResult(pending, net, model_name, shown.layer)
        parts = [f"done: {shown.layer.name} {tuple(shown.layer.data.shape)}"]
        linked = linking_in_words(pending.axes, pending.model_dims, pending.output, job.stitch_threshold)
        if linked and pending.plane is None:
            parts.append(linked)
        if job.tta:
            parts.append("with test-time augmentation")
        parts.extend(flatten_in_words(variation, limit, flag=False) for variation, limit in job.flattened)
        for factor, radius in job.rescaled:
            parts.append(f"predicted on the image scaled by {factor:.2f}"
                         + (f" (objects of {radius:.0f} px median radius: larger than the model likes)"
                            if radius is not None else ""))
        if shown.kept_edited:
            report_info(shown.why_new())
            parts.append(shown.why_new())
        set_status(self.status, "; ".join(parts))

    def _drop_orphaned(self, outcome: Outcome, reason: str) -> None:
        self._pending = None
        logger.info("prediction stopped because %s; nothing was added to the viewer", reason)

    def _error(self, action: str, err: BaseException) -> None:
        """Show an error as a notification and in full in the status area."""
        set_status(self.status, report_error(action, err, PREDICTION), error=True)

    # ------------------------------------------------------------------ models from files
    def load_model_from(self, path: str | Path) -> UNet | None:
        """Load a model file, offer it in the list and select it; None (with the message shown) if that fails."""
        loaded = load_and_register(path, self._error)
        if loaded is None:
            return None
        net, name = loaded
        self.model.value = name
        report_info(f"Loaded model {name}")
        return net

    def _load_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.native, "Load model", "",
                                              "Model files (*.safetensors *.zip);;bioimage.io packages (*.zip)")
        if path:
            self.load_model_from(path)
