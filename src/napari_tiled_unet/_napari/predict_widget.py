"""The "Predict with U-Net" dock widget: a model and an image layer in, aligned result layers out."""

from __future__ import annotations

import copy
import logging
from typing import TYPE_CHECKING, Any

from magicgui.widgets import CheckBox, ComboBox, Container, FloatSpinBox, Label, ProgressBar, PushButton, SpinBox

from napari_tiled_unet.axes import loop_letters
from napari_tiled_unet.devices import device_of, resolve_device
from napari_tiled_unet.errors import ModelFileError
from napari_tiled_unet.inference import OUTPUT_KINDS
from napari_tiled_unet.instance_output import is_instance_model
from napari_tiled_unet.model import UNet
from napari_tiled_unet.object_scale import largest_radius
from napari_tiled_unet.predict import plan_tiles
from napari_tiled_unet.stitching import DEFAULT_STITCH_THRESHOLD
from napari_tiled_unet.test_time_augmentation import tta_recommended
from napari_tiled_unet.uneven_background import background_limit_of

from .builtin_choices import is_builtin, load_builtin, shipped
from .channel_picker import ChannelPicker
from .channels import LAYERS, ChannelChoice, layers_named, propose_channels
from .correction_actions import CorrectionActions, LastResult
from .device_choices import available_devices
from .dock_layout import HELP_COMMAND_LINE, HELP_NAPARI, help_link, lay_out_dock, native_of, section
from .export_actions import ExportActions
from .jobs import Outcome
from .layer_axes import loop_axes
from .layer_choices import connect_layer_events, disconnect_layer_events, follow_renames, layer_choices
from .lifecycle import JobRunner
from .model_registry import registry
from .model_text import describe_model
from .predict_inputs import NormalizerCache, PredictionInput, layer_data, prediction_input
from .predict_objects import ObjectSettings
from .predict_output import Pending
from .predict_run import PredictRunning
from .qt_parts import wrap_text

if TYPE_CHECKING:
    import napari

logger = logging.getLogger(__name__)


def model_choices(_widget: Any = None) -> list[tuple[str, str]]:
    """The models of the session (newest first), then the built-in ones."""
    names = registry.names()
    return [(n, n) for n in names] + [(m.spec, m.spec) for m in shipped() if m.spec not in names]


class PredictWidget(PredictRunning, CorrectionActions, ExportActions, Container):
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
        self.last_result: LastResult | None = None
        self.result_layer: Any = None
        self.result_layers: list[Any] = []
        self._pending: Pending | None = None
        self._running_net: tuple[UNet, str] | None = None
        self._device_copy: tuple[tuple[int, str], UNet] | None = None
        self._normalizers = NormalizerCache()
        self._model_seen: str | None = None

        self.model = ComboBox(label="model", choices=model_choices,
                              tooltip="models trained in this session, loaded from files, or shipped with the "
                              "plugin (builtin:...)")
        self.load_button = PushButton(text="Load model…", tooltip="load a .safetensors model or a bioimage.io .zip "
                                      "exported by napari-tiled-unet")
        self.export_button = PushButton(text="Export to bioimage.io…",
                                        tooltip="save the selected model as a bioimage.io package (.zip) for Fiji, "
                                        "ilastik and the model zoo; asks for a name, authors and a license")
        self.model_info = Label(value="no model: train one or load a .safetensors file",
                                tooltip="what the selected model predicts and how it was trained")
        self.image_layer = ComboBox(label="image", choices=layer_choices(self.viewer, "image"),
                                    tooltip="the image layer to segment (a 2D model predicts stacks plane by plane)")
        self.channels = ChannelPicker(self.viewer, "predict")
        self.output = ComboBox(label="output", choices=list(OUTPUT_KINDS), value="labels",
                               tooltip="labels: the label values you painted; instances: one id per object; "
                               "probabilities: one layer per class, from 0 to 1")
        self.link = FloatSpinBox(label="link across planes", value=DEFAULT_STITCH_THRESHOLD, min=0.0, max=0.95,
                                 step=0.05, tooltip="instances of a stack predicted plane by plane: objects of "
                                 "consecutive Z planes (or time points) get one id when at least this share of the "
                                 "smaller one overlaps the other (Z planes become 3D objects, cut apart where the "
                                 "area has a valley: nuclei stacked in Z; time points are tracked by overlap); 0: "
                                 "every plane numbers its objects on its own")
        self.current_plane = CheckBox(text="current plane only (quick preview of a stack)", value=False,
                                      tooltip="predict only the plane shown in the viewer; it is normalised with the "
                                      "whole stack, so it equals that plane of a full prediction (when large objects "
                                      "are shrunk, this plane's objects alone decide by how much)")
        self.tta = CheckBox(text="test-time augmentation (about 8x slower)", value=False,
                            tooltip="average the 8 flips and rotations of every plane: slightly smoother, more "
                            "reliable results at about 8 times the time (ticked for a single 2D image when the "
                            "model recommends it, as builtin:nuclei does)")
        self.rescale = CheckBox(text="shrink large objects to the size the model likes", value=True, visible=False,
                                tooltip="the model segments objects up to a certain radius best (builtin:nuclei: "
                                "11 px): when the objects come out larger, the image (every plane of a stack by "
                                "the same factor) is predicted again shrunk to that size, and the objects are scaled "
                                "back")
        self.flatten = CheckBox(text="flatten a strongly uneven background", value=True, visible=False,
                                tooltip="the model was trained on backgrounds that vary little (builtin:nuclei: by "
                                "up to 30% of the image's range): where stray light or a glow makes it vary more, "
                                "that smooth background is subtracted before predicting (a stack: every plane or "
                                "none, also for the current plane only)")
        self._tta_by_hand = False
        self._output_by_hand = False
        self._proposing = False
        self.objects = ObjectSettings()
        self.correct_button = PushButton(text="Make annotation for corrections",
                                         tooltip="copy the last result into a new Labels layer in the model's "
                                         "training labels (instance models: 1 = background, 2.. = objects) to fix "
                                         "its mistakes; then Continue training in Train U-Net learns from it (in a "
                                         "stack only the planes you edit)")
        self.correct_hint = Label(value="Copies the last result into a Labels layer you can edit: fix the model's "
                                  "mistakes there, then press Continue training in Train U-Net.",
                                  tooltip="the correct-and-retrain loop: predict, fix, train again")
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
        self._connect()
        self._model_changed()

    def _lay_out(self) -> None:
        buttons = Container(widgets=[self.load_button, self.export_button], layout="horizontal", labels=False)
        model = Container(widgets=[Container(widgets=[self.model]), buttons, self.model_info], labels=False)
        image = Container(widgets=[Container(widgets=[self.image_layer, *self.channels.widgets, self.output,
                                                      self.link]),
                                   self.current_plane, self.tta, self.rescale, self.flatten], labels=False)
        tiles = Container(widgets=[self.auto_tile, Container(widgets=[self.tile_size, self.device]), self.tile_info],
                          labels=False)
        correct = Container(widgets=[self.correct_hint, self.correct_button], labels=False)
        actions = Container(widgets=[self.run_button, self.cancel_button], layout="horizontal", labels=False)
        for box in (buttons, model, image, tiles, correct, actions):
            box.margins = (0, 0, 0, 0)
        self._forms = [model, image, tiles]
        wrap_text(self.model_info, self.tile_info, self.status, self.correct_hint)  # before the sections measure them
        self.sections = {
            "model": section("Model", model.native, tooltip="the model to predict with"),
            "image": section("Image and output", image.native, tooltip="what to segment, and what to get back"),
            "objects": section("Objects (instance models)", self.objects.native, expanded=False,
                               tooltip="how an instance model's outputs become objects, with a quick preview"),
            "correct": section("Correct and retrain", correct.native, tooltip="fix the model's mistakes and let "
                               "it learn from them"),
            "tiles": section("Tiles and device", tiles.native, expanded=False,
                             tooltip="how the image is cut into tiles, and where the network runs"),
        }
        header = [help_link("How to predict (help)", HELP_NAPARI, "open the README: predicting in napari"),
                  help_link("Many files? Use the command line", HELP_COMMAND_LINE,
                            "open the README: predicting whole folders from the command line")]
        self.scroll = lay_out_dock(self, header, self.sections.values(),
                                   native_of([actions, self.progress, self.status]))

    def _connect(self) -> None:
        self.run_button.changed.connect(lambda: self.run())
        self.cancel_button.changed.connect(self.cancel)
        self.load_button.changed.connect(self._load_dialog)
        self.export_button.changed.connect(lambda: self.open_export_dialog())
        self.correct_button.changed.connect(lambda: self.make_corrections())
        self.objects.preview_button.changed.connect(lambda: self.preview_objects())
        self.model.changed.connect(self._model_changed)
        self.image_layer.changed.connect(self._image_changed)
        self.tta.changed.connect(self._tta_set_by_hand)
        self.output.changed.connect(self._output_set_by_hand)
        for widget in (self.auto_tile, self.tile_size, self.device, self.output, self.channels.mode,
                       self.channels.layers):
            widget.changed.connect(self._update_info)
        connect_layer_events(self.viewer, self._layers_changed)
        registry.changed.connect(self._models_changed)

    def reset_choices(self, *_: Any) -> None:
        """Offer the viewer's current layers and the session's models (napari calls this when layers change)."""
        if not self.runner.closed:
            for form in self._forms:
                form.reset_choices()

    def _closed(self, reason: str) -> None:
        disconnect_layer_events(self.viewer, self._layers_changed)
        registry.changed.disconnect(self._models_changed)
        self.export_runner.close(reason)

    def _layers_changed(self, event: Any = None) -> None:
        if self.runner.closed:
            return
        follow_renames(event, self._layers_changed)
        self.image_layer.reset_choices()
        self.channels.reset_choices()

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
        self._model_changed()

    # ------------------------------------------------------------------ model and input
    def selected_model(self) -> UNet | None:
        """The model picked in the list (a built-in one is loaded on first use)."""
        name = self.model.value
        if name in registry:
            return registry.get(name)
        if is_builtin(name):
            try:
                return load_builtin(name)
            except ModelFileError as err:
                self._error("load the built-in model", err)
        return None

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

    def _model_changed(self, *_: Any) -> None:
        net = self.selected_model()
        if self.model.value != self._model_seen:
            self._model_seen = self.model.value
            self.channels.set_by_hand = False
            self._tta_by_hand = False
            self._output_by_hand = False
            self.sections["objects"].setVisible(self.objects.show_model(net))
            self.rescale.visible = largest_radius(net) is not None
            self.flatten.visible = net is not None and background_limit_of(net.metadata) is not None
        self._propose_channels(net)
        self._propose_tta(net)
        self._propose_output(net)
        self._update_info()

    def _output_set_by_hand(self, *_: Any) -> None:
        if not self._proposing:
            self._output_by_hand = True

    def _propose_output(self, net: UNet | None) -> None:
        """Instances for an instance model (one id per object is what it is for), labels otherwise.

        Left alone once the user has picked an output since the model was picked.
        """
        if self._output_by_hand or net is None:
            return
        self._proposing = True
        try:
            self.output.value = "instances" if is_instance_model(net) else "labels"
        finally:
            self._proposing = False

    def _image_changed(self, *_: Any) -> None:
        net = self.selected_model()
        self._propose_channels(net)
        self._propose_tta(net)
        self._update_info()

    def _tta_set_by_hand(self, *_: Any) -> None:
        if not self._proposing:
            self._tta_by_hand = True

    def _propose_tta(self, net: UNet | None) -> None:
        """Tick test-time augmentation where the model recommends it and the input is one 2D image.

        Left alone once the user has set it since the model was picked.
        """
        if self._tta_by_hand:
            return
        single = False
        if net is not None and self.image_layer.value is not None:
            try:
                single = not loop_letters(self._input(net).axes, net.config.dims)
            except ValueError:  # channels or axes that do not fit the model: said elsewhere, not proposed
                pass
        self._proposing = True
        try:
            self.tta.value = bool(net is not None and tta_recommended(net) and single)
        finally:
            self._proposing = False

    def _propose_channels(self, net: UNet | None) -> None:
        """Propose the channels the model was trained on: layers of those names, or an axis of that size."""
        layer = self.image_layer.value
        if layer is None:
            self.channels.for_layer(None, None)
            return
        proposal = None
        if net is not None:
            names = (net.metadata.get("channels") or {}).get("names") or []
            images = [lay for _name, lay in layer_choices(self.viewer, "image")()]
            found = layers_named(names, images) if net.config.in_channels > 1 else None
            proposal = ChannelChoice(LAYERS, layers=found) if found else propose_channels(
                layer_data(layer).shape, bool(getattr(layer, "rgb", False)), layer.axis_labels, net.config.in_channels)
        self.channels.for_layer(layer, proposal)

    def _input(self, net: UNet) -> PredictionInput:
        return prediction_input(self.image_layer.value, self.channels.value(), net)

    def _tile(self) -> int | None:
        return None if self.auto_tile.value else int(self.tile_size.value)

    def _update_info(self, *_: Any) -> None:
        """Describe the model and the tiles that will be used (the tile box shows the automatic tile)."""
        self.tile_size.enabled = not self.auto_tile.value
        self.link.enabled = self.output.value == "instances"
        layer = self.image_layer.value
        try:
            net = self._net_on_device()
        except ValueError as err:
            self.tile_info.value = str(err)
            return
        self.model_info.value = describe_model(net) if net is not None else "no model: train one or load a file"
        if net is None or (layer is None and self.channels.value().mode != LAYERS):
            self.tile_info.value = ""
            return
        try:
            source = self._input(net)
            spatial = [source.shape[i] for i, a in enumerate(source.axes) if a not in "CS"][-net.config.dims:]
            layout, batch = plan_tiles(net, spatial, self._tile())
        except ValueError as err:
            self.tile_info.value = f"cannot predict this image: {err}"
            return
        if self.auto_tile.value:
            with self.tile_size.changed.blocked():
                self.tile_size.value = max(layout.tile_shape)
        tile = "×".join(map(str, layout.tile_shape))
        stack = bool(loop_axes(source.axes, net.config.dims))
        self.current_plane.enabled = stack
        self.link.enabled = stack and self.output.value == "instances"
        planes = f" per plane ({source.axes} image)" if stack else ""
        self.tile_info.value = f"tile {tile} px, {layout.n_tiles} tile(s){planes}, batch {batch}"
