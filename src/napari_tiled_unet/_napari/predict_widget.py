"""The "Predict with U-Net" dock widget: a model and an image layer in, an aligned Labels layer out."""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from magicgui.widgets import CheckBox, ComboBox, Container, Label, ProgressBar, PushButton, SpinBox
from napari.qt.threading import create_worker
from qtpy.QtWidgets import QFileDialog

from napari_tiled_unet.devices import device_of, resolve_device
from napari_tiled_unet.inference import OUTPUT_KINDS
from napari_tiled_unet.model import UNet
from napari_tiled_unet.model_file import load_model
from napari_tiled_unet.model_meta import label_values
from napari_tiled_unet.predict import plan_tiles

from .jobs import Outcome, PredictionJob, run_export, run_prediction
from .layer_axes import axes_for_layer, current_plane, loop_axes, plane_slices
from .messages import report_error, report_info
from .model_registry import describe_model, registry
from .predict_output import show_result
from .qt_parts import Relay, wrap_text
from .train_form import available_devices, connect_layer_events, follow_renames, layer_choices

if TYPE_CHECKING:
    import napari

logger = logging.getLogger(__name__)


class PredictWidget(Container):
    """Predict a whole image or stack with a model of this session or from a file, tile by tile, exactly.

    Parameters
    ----------
    napari_viewer : napari.viewer.Viewer
        The viewer whose image layers are offered and where the result is added.

    """

    def __init__(self, napari_viewer: napari.viewer.Viewer) -> None:
        super().__init__(labels=False)
        self.viewer = getattr(napari_viewer, "__wrapped__", napari_viewer)
        self.last_outcome: Outcome | None = None
        self.result_layer: Any = None
        self._job: PredictionJob | None = None
        self._pending: dict[str, Any] = {}
        self._relay = Relay()
        self._relay.event.connect(self._on_progress)

        self.image_layer = ComboBox(label="image", choices=layer_choices(self.viewer, "image"))
        self.model = ComboBox(label="model", choices=lambda _w=None: registry.names(),
                              tooltip="models trained in this session, or loaded from files")
        self.load_button = PushButton(text="Load model…")
        self.export_button = PushButton(text="Export to bioimage.io…",
                                        tooltip="save the selected model as a bioimage.io package (.zip) for Fiji, "
                                        "ilastik and the model zoo")
        self.model_info = Label(value="no model: train one or load a .safetensors file")
        self.output = ComboBox(label="output", choices=list(OUTPUT_KINDS), value="labels",
                               tooltip="labels: classes; instances: one id per object; probabilities: per class")
        self.auto_tile = CheckBox(text="automatic tile size", value=True)
        self.tile_size = SpinBox(label="tile size", value=508, min=4, max=8192, enabled=False,
                                 tooltip="input tile edge, rounded to a valid size; results are the same for any")
        self.tile_info = Label(value="")
        self.device = ComboBox(label="device", choices=available_devices(), value="auto")
        self.current_plane = CheckBox(text="current plane only (quick preview of a stack)", value=False)
        self.run_button = PushButton(text="Predict")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.progress = ProgressBar(value=0, min=0, max=1, label="tiles")
        self.status = Label(value="ready")
        self.extend([
            Container(widgets=[self.image_layer, self.model]),
            Container(widgets=[self.load_button, self.export_button], layout="horizontal", labels=False),
            self.model_info,
            Container(widgets=[self.output, self.tile_size, self.device]),
            self.auto_tile, self.tile_info, self.current_plane,
            Container(widgets=[self.run_button, self.cancel_button], layout="horizontal", labels=False),
            self.progress, self.status,
        ])
        wrap_text(self.model_info, self.tile_info, self.status)
        self.run_button.changed.connect(lambda: self.run())
        self.cancel_button.changed.connect(self.cancel)
        self.load_button.changed.connect(self._load_dialog)
        self.export_button.changed.connect(self._export_dialog)
        for widget in (self.image_layer, self.model, self.auto_tile, self.tile_size, self.device):
            widget.changed.connect(self._update_info)
        connect_layer_events(self.viewer, self._layers_changed)
        registry.changed.connect(self._models_changed)
        self.native.destroyed.connect(lambda *_: registry.changed.disconnect(self._models_changed))
        self._update_info()

    @property
    def running(self) -> bool:
        """True while a prediction is in progress."""
        return self._job is not None

    def _layers_changed(self, event: Any = None) -> None:
        follow_renames(event, self._layers_changed)
        self.image_layer.reset_choices()

    def _models_changed(self) -> None:
        """A model was added: offer it and select the newest."""
        self.model.reset_choices()
        names = registry.names()
        if names:
            self.model.value = names[0]
        self._update_info()

    def selected_model(self) -> UNet | None:
        """The model picked in the list."""
        name = self.model.value
        return registry.get(name) if name in registry else None

    def _net_on_device(self) -> UNet | None:
        """The selected model on the selected device (a copy when it must move; the registered one stays put)."""
        net = self.selected_model()
        if net is None:
            return None
        device = resolve_device(self.device.value)
        return net if device_of(net) == device else copy.deepcopy(net).to(device).eval()

    def _layer_axes(self, layer: Any, net: UNet) -> tuple[Any, str]:
        data = layer.data[0] if getattr(layer, "multiscale", False) else layer.data
        return data, axes_for_layer(data.shape, bool(getattr(layer, "rgb", False)), net.config.dims,
                                    net.config.in_channels)

    def _tile(self) -> int | None:
        return None if self.auto_tile.value else int(self.tile_size.value)

    def _update_info(self, *_: Any) -> None:
        self.tile_size.enabled = not self.auto_tile.value
        net, layer = self.selected_model(), self.image_layer.value
        self.model_info.value = describe_model(net) if net is not None else "no model: train one or load a file"
        if net is None or layer is None:
            self.tile_info.value = ""
            return
        try:
            data, axes = self._layer_axes(layer, net)
            spatial = [data.shape[i] for i, a in enumerate(axes) if a not in "CS"][-net.config.dims:]
            layout, batch = plan_tiles(net, spatial, self._tile())
        except ValueError as err:
            self.tile_info.value = f"cannot predict this image: {err}"
            return
        tile = "×".join(map(str, layout.tile_shape))
        planes = f" per plane ({axes} image)" if loop_axes(axes, net.config.dims) else ""
        self.tile_info.value = f"tile {tile} px, {layout.n_tiles} tile(s){planes}, batch {batch}"

    # ------------------------------------------------------------------ running
    def run(self) -> bool:
        """Start the prediction in a background thread; False (with a notification) if the input is not usable."""
        if self.running:
            return False
        layer = self.image_layer.value
        try:
            if layer is None:
                raise ValueError("pick an image layer first")
            net = self._net_on_device()
            if net is None:
                raise ValueError("pick a model: train one in the Train U-Net widget or load a .safetensors file")
            data, axes = self._layer_axes(layer, net)
            plane = None
            if self.current_plane.value and loop_axes(axes, net.config.dims):
                position = layer.world_to_data(self.viewer.dims.point)
                plane = current_plane(axes, data.shape, net.config.dims, position)
                data = data[plane_slices(axes, net.config.dims, plane)]
        except ValueError as err:
            report_error("predict", err)
            return False
        job = PredictionJob(net=net, image=data, axes=axes, output=self.output.value, tile_shape=self._tile())
        self._job = job
        self.native.destroyed.connect(lambda *_: job.cancel.set())
        self._pending = {"layer": layer, "axes": axes, "dims": net.config.dims, "plane": plane,
                         "output": self.output.value,
                         "label_values": label_values(net)}
        self.progress.value = 0
        self.status.value = f"predicting {layer.name}" + (f" plane {plane}" if plane else "") + "…"
        self._set_running(True)
        worker = create_worker(run_prediction, job, self._relay.event.emit, _start_thread=False)
        worker.returned.connect(self._on_returned)
        worker.errored.connect(lambda err: self._on_returned(Outcome(error=err)))
        worker.start()
        return True

    def cancel(self) -> None:
        """Stop the prediction before the next batch of tiles."""
        if self._job is not None:
            self._job.cancel.set()
            self.status.value = "cancelling…"

    def _set_running(self, running: bool) -> None:
        self.run_button.enabled = not running
        self.cancel_button.enabled = running
        self.load_button.enabled = not running

    def _on_progress(self, done_total: tuple[int, int]) -> None:
        done, total = done_total
        self.progress.max = max(total, 1)
        self.progress.value = done
        self.status.value = f"tile {done} of {total}"

    def _on_returned(self, outcome: Outcome) -> None:
        if self._job is None:
            return
        self._job, pending = None, self._pending
        self.last_outcome = outcome
        try:
            if outcome.error is not None:
                report_error("predict", outcome.error)
                self.status.value = "failed: see the notification"
            elif outcome.cancelled:
                report_info("Prediction cancelled; no layer was changed")
                self.status.value = "cancelled"
            else:
                result, _ = outcome.result
                self.result_layer = show_result(self.viewer, pending["layer"], result, pending["axes"],
                                                pending["dims"], pending["output"], pending["plane"],
                                                pending["label_values"])
                self.status.value = f"done: {self.result_layer.name} {self.result_layer.data.shape}"
        except Exception as err:  # logged and shown; the widget must stay usable
            report_error("show the result", err)
        finally:
            self._set_running(False)

    # ------------------------------------------------------------------ models from files
    def load_model_from(self, path: str | Path) -> UNet | None:
        """Load a model file, offer it in the list and select it; None (with a notification) if that fails."""
        try:
            net = load_model(path)
        except (ValueError, OSError) as err:
            report_error("load the model", err)
            return None
        name = registry.add_file(path, net)
        self.model.value = name
        report_info(f"Loaded model {name}")
        return net

    def _load_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.native, "Load model", "",
                                              "Model files (*.safetensors *.zip);;bioimage.io packages (*.zip)")
        if path:
            self.load_model_from(path)

    # ------------------------------------------------------------------ bioimage.io export
    def export_model_to(self, path: str | Path) -> Any:
        """Export the selected model to a bioimage.io zip in a background thread; returns the worker (or None).

        Success and errors are notifications; the zip appears complete or not at all.
        """
        net = self.selected_model()
        if net is None:
            report_error("export", ValueError("pick a model to export: train one or load a .safetensors file"))
            return None
        self.export_button.enabled = False
        self.status.value = f"exporting to {Path(path).name}…"
        worker = create_worker(run_export, net, Path(path), _start_thread=False)

        def finished(outcome: Outcome) -> None:
            self.export_button.enabled = True
            if outcome.error is not None:
                self.status.value = "export failed: see the notification"
                report_error("export the model", outcome.error)
            else:
                self.status.value = f"exported {outcome.result}"
                report_info(f"Exported the model to {outcome.result} (bioimage.io format 0.5)")

        worker.returned.connect(finished)
        worker.errored.connect(lambda err: finished(Outcome(error=err)))
        worker.start()
        return worker

    def _export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.native, "Export to bioimage.io", "model.zip",
                                              "bioimage.io package (*.zip)")
        if path:
            self.export_model_to(path if path.endswith(".zip") else f"{path}.zip")
