"""The "Predict with U-Net" dock widget: a model and an image layer in, aligned result layers out."""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from magicgui.widgets import CheckBox, ComboBox, Container, Label, ProgressBar, PushButton, SpinBox
from qtpy.QtWidgets import QFileDialog

from napari_tiled_unet.devices import device_of, resolve_device
from napari_tiled_unet.inference import OUTPUT_KINDS
from napari_tiled_unet.model import UNet
from napari_tiled_unet.model_file import load_model
from napari_tiled_unet.model_meta import class_names, label_values
from napari_tiled_unet.predict import plan_tiles

from .device_choices import available_devices
from .dock_layout import HELP_COMMAND_LINE, HELP_NAPARI, help_link, lay_out_dock, native_of, section
from .export_actions import ExportActions
from .jobs import Outcome, PredictionJob, run_prediction
from .layer_axes import axes_for_layer, current_plane, loop_axes, plane_slices
from .layer_choices import connect_layer_events, disconnect_layer_events, follow_renames, layer_choices
from .lifecycle import JobRunner
from .messages import PREDICTION, report_error, report_info
from .model_registry import registry
from .model_text import describe_model
from .predict_output import Pending, show_result
from .qt_parts import set_status, wrap_text

if TYPE_CHECKING:
    import napari

logger = logging.getLogger(__name__)


class PredictWidget(ExportActions, Container):
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
        self.result_layers: list[Any] = []
        self._pending: Pending | None = None
        self._device_copy: tuple[tuple[int, str], UNet] | None = None

        self.model = ComboBox(label="model", choices=lambda _w=None: registry.names(),
                              tooltip="models trained in this session, or loaded from files")
        self.load_button = PushButton(text="Load model…", tooltip="load a .safetensors model or a bioimage.io .zip "
                                      "exported by napari-tiled-unet")
        self.export_button = PushButton(text="Export to bioimage.io…",
                                        tooltip="save the selected model as a bioimage.io package (.zip) for Fiji, "
                                        "ilastik and the model zoo; asks for a name, authors and a license")
        self.model_info = Label(value="no model: train one or load a .safetensors file",
                                tooltip="what the selected model predicts and how it was trained")
        self.image_layer = ComboBox(label="image", choices=layer_choices(self.viewer, "image"),
                                    tooltip="the image layer to segment (a 2D model predicts stacks plane by plane)")
        self.output = ComboBox(label="output", choices=list(OUTPUT_KINDS), value="labels",
                               tooltip="labels: the label values you painted; instances: one id per object; "
                               "probabilities: one layer per class, from 0 to 1")
        self.current_plane = CheckBox(text="current plane only (quick preview of a stack)", value=False,
                                      tooltip="predict only the plane shown in the viewer")
        self.auto_tile = CheckBox(text="automatic tile size", value=True,
                                  tooltip="pick the largest tile that fits the memory of the device")
        self.tile_size = SpinBox(label="tile size", value=508, min=4, max=8192, enabled=False,
                                 tooltip="input tile edge in pixels, rounded to a valid size; the result is the same "
                                 "for any tile size, smaller tiles need less memory")
        self.device = ComboBox(label="device", choices=available_devices(), value="auto",
                               tooltip="auto: a CUDA or Apple GPU when there is one, else the CPU")
        self.tile_info = Label(value="", tooltip="the tiles the prediction will use")
        self.run_button = PushButton(text="Predict", tooltip="predict the selected image with the selected model")
        self.cancel_button = PushButton(text="Cancel", enabled=False,
                                        tooltip="stop before the next tiles; no layer is changed")
        self.progress = ProgressBar(value=0, min=0, max=1, label="tiles", tooltip="tiles predicted so far")
        self.status = Label(value="ready", tooltip="what prediction is doing, and any error in full")
        self._lay_out()
        self.runner = JobRunner(self.native, self.viewer)
        self.export_runner = JobRunner(self.native, self.viewer)
        self.runner.on_close.append(self._closed)

        self.run_button.changed.connect(lambda: self.run())
        self.cancel_button.changed.connect(self.cancel)
        self.load_button.changed.connect(self._load_dialog)
        self.export_button.changed.connect(lambda: self.open_export_dialog())
        for widget in (self.image_layer, self.model, self.auto_tile, self.tile_size, self.device):
            widget.changed.connect(self._update_info)
        connect_layer_events(self.viewer, self._layers_changed)
        registry.changed.connect(self._models_changed)
        self._update_info()

    def _lay_out(self) -> None:
        buttons = Container(widgets=[self.load_button, self.export_button], layout="horizontal", labels=False)
        model = Container(widgets=[Container(widgets=[self.model]), buttons, self.model_info], labels=False)
        image = Container(widgets=[Container(widgets=[self.image_layer, self.output]), self.current_plane],
                          labels=False)
        tiles = Container(widgets=[self.auto_tile, Container(widgets=[self.tile_size, self.device]), self.tile_info],
                          labels=False)
        actions = Container(widgets=[self.run_button, self.cancel_button], layout="horizontal", labels=False)
        for box in (buttons, model, image, tiles, actions):
            box.margins = (0, 0, 0, 0)
        self._forms = [model, image, tiles]
        self.sections = {
            "model": section("Model", model.native, tooltip="the model to predict with"),
            "image": section("Image and output", image.native, tooltip="what to segment, and what to get back"),
            "tiles": section("Tiles and device", tiles.native, tooltip="how the image is cut into tiles, and "
                             "where the network runs"),
        }
        header = [help_link("How to predict (help)", HELP_NAPARI, "open the README: predicting in napari"),
                  help_link("Many files? Use the command line", HELP_COMMAND_LINE,
                            "open the README: predicting whole folders from the command line")]
        self.scroll = lay_out_dock(self, header, self.sections.values(),
                                   native_of([actions, self.progress, self.status]))
        wrap_text(self.model_info, self.tile_info, self.status)

    def reset_choices(self, *_: Any) -> None:
        """Offer the viewer's current layers and the session's models (napari calls this when layers change)."""
        if not self.runner.closed:
            for form in self._forms:
                form.reset_choices()

    def _closed(self, reason: str) -> None:
        disconnect_layer_events(self.viewer, self._layers_changed)
        registry.changed.disconnect(self._models_changed)
        self.export_runner.close(reason)

    @property
    def running(self) -> bool:
        """True while a prediction is in progress."""
        return self.runner.running

    def _layers_changed(self, event: Any = None) -> None:
        if self.runner.closed:
            return
        follow_renames(event, self._layers_changed)
        self.image_layer.reset_choices()

    def _models_changed(self) -> None:
        """A model was added or replaced: offer it and select the newest."""
        if self.runner.closed:
            return
        try:
            self.model.reset_choices()
        except RuntimeError:  # Qt deleted the widget before telling us: stop listening
            self.runner.close("the widget was deleted")
            return
        names = registry.names()
        if names:
            self.model.value = names[0]
        self._device_copy = None
        self._update_info()

    def selected_model(self) -> UNet | None:
        """The model picked in the list."""
        name = self.model.value
        return registry.get(name) if name in registry else None

    def _net_on_device(self) -> UNet | None:
        """The selected model on the selected device (a copy, kept, when it must move; the registered one stays)."""
        net = self.selected_model()
        if net is None:
            return None
        device = resolve_device(self.device.value)
        if device_of(net) == device:
            return net
        key = (id(net), str(device))
        if self._device_copy is None or self._device_copy[0] != key:
            self._device_copy = (key, copy.deepcopy(net).to(device).eval())
        return self._device_copy[1]

    def _layer_axes(self, layer: Any, net: UNet) -> tuple[Any, str]:
        data = layer.data[0] if getattr(layer, "multiscale", False) else layer.data
        return data, axes_for_layer(data.shape, bool(getattr(layer, "rgb", False)), net.config.dims,
                                    net.config.in_channels)

    def _tile(self) -> int | None:
        return None if self.auto_tile.value else int(self.tile_size.value)

    def _update_info(self, *_: Any) -> None:
        """Describe the model and the tiles that will be used (the tile box shows the automatic tile)."""
        self.tile_size.enabled = not self.auto_tile.value
        layer = self.image_layer.value
        try:
            net = self._net_on_device()
        except ValueError as err:
            self.tile_info.value = str(err)
            return
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
        if self.auto_tile.value:
            with self.tile_size.changed.blocked():
                self.tile_size.value = max(layout.tile_shape)
        tile = "×".join(map(str, layout.tile_shape))
        planes = f" per plane ({axes} image)" if loop_axes(axes, net.config.dims) else ""
        self.tile_info.value = f"tile {tile} px, {layout.n_tiles} tile(s){planes}, batch {batch}"

    # ------------------------------------------------------------------ running
    def run(self) -> bool:
        """Start the prediction in a background thread; False (with the message shown) if the input is not usable."""
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
            self._error(f"predict '{layer.name}'" if layer is not None else "predict", err)
            return False
        job = PredictionJob(net=net, image=data, axes=axes, output=self.output.value, tile_shape=self._tile())
        self._pending = Pending(layer, axes, net.config.dims, self.output.value, plane, tuple(label_values(net)),
                                tuple(class_names(net)))
        self.progress.value = 0
        what = f"predicting {layer.name}" + (f" plane {plane}" if plane else "")
        set_status(self.status, what + "…")
        self.runner.start(run_prediction, job, on_event=self._on_progress, on_done=self._on_returned,
                          on_orphaned=self._drop_orphaned, description=what)
        self._set_running(True)
        return True

    def cancel(self) -> None:
        """Stop the prediction before the next batch of tiles."""
        if self.running:
            self.runner.cancel()
            set_status(self.status, "cancelling…")

    def _set_running(self, running: bool) -> None:
        self.run_button.enabled = not running
        self.cancel_button.enabled = running
        self.load_button.enabled = not running

    def _on_progress(self, done_total: tuple[int, int]) -> None:
        done, total = done_total
        self.progress.max = max(total, 1)
        self.progress.value = done
        set_status(self.status, f"tile {done} of {total}")

    def _on_returned(self, outcome: Outcome) -> None:
        pending, self._pending = self._pending, None
        self.last_outcome = outcome
        try:
            if outcome.error is not None:
                self._error(f"predict '{pending.layer.name}'" if pending else "predict", outcome.error)
            elif outcome.cancelled:
                report_info("Prediction cancelled; no layer was changed")
                set_status(self.status, "cancelled; no layer was changed")
            elif pending is not None:
                self._show(pending, outcome.result[0])
        except Exception as err:  # logged and shown; the widget must stay usable
            self._error("show the result", err)
        finally:
            self._set_running(False)

    def _show(self, pending: Pending, result: Any) -> None:
        if pending.layer not in self.viewer.layers:
            raise ValueError(f"the image layer '{pending.layer.name}' was removed during the prediction: "
                             "add it again and predict")
        shown = show_result(self.viewer, pending.layer, pending.with_result(result))
        self.result_layers, self.result_layer = shown.layers, shown.layer
        done = f"done: {shown.layer.name} {tuple(shown.layer.data.shape)}"
        if shown.kept_edited:
            report_info(shown.why_new())
            done = f"{done}. {shown.why_new()}"
        set_status(self.status, done)

    def _drop_orphaned(self, outcome: Outcome, reason: str) -> None:
        self._pending = None
        logger.info("prediction stopped because %s; nothing was added to the viewer", reason)

    def _error(self, action: str, err: BaseException) -> None:
        """Show an error as a notification and in full in the status area."""
        set_status(self.status, report_error(action, err, PREDICTION), error=True)

    # ------------------------------------------------------------------ models from files
    def load_model_from(self, path: str | Path) -> UNet | None:
        """Load a model file, offer it in the list and select it; None (with the message shown) if that fails."""
        try:
            net = load_model(path)
        except (ValueError, OSError) as err:
            self._error("load the model", err)
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

