"""The Predict with U-Net widget in a real viewer: aligned results, updates, stacks, outputs and errors."""

from __future__ import annotations

import numpy as np
import pytest
from napari.layers import Image, Labels

from napari_tiled_unet._napari.predict_widget import PredictWidget
from napari_tiled_unet.model_file import save_model
from napari_tiled_unet.predict import plan_tiles
from napari_tiled_unet.training.metrics import match_instances

TIMEOUT = 60_000


@pytest.fixture
def widget(viewer, qtbot, tiny_model, clean_registry):
    clean_registry.add(tiny_model, name="tiny")
    widget = PredictWidget(viewer)
    yield widget
    qtbot.waitUntil(lambda: not widget.running, timeout=TIMEOUT)


def predict(widget: PredictWidget, qtbot) -> None:
    assert widget.run()
    assert not widget.run_button.enabled and widget.cancel_button.enabled
    qtbot.waitUntil(lambda: not widget.running, timeout=TIMEOUT)
    assert widget.run_button.enabled and not widget.cancel_button.enabled


def test_model_list_follows_the_registry(widget, tiny_model, clean_registry):
    assert widget.model.value == "tiny"
    assert "task: semantic, from scribbles" in widget.model_info.value
    assert "classes: background (1), objects (2)" in widget.model_info.value
    assert "1 input channel" in widget.model_info.value
    assert widget.tile_info.value.startswith("tile ")
    layout, _batch = plan_tiles(tiny_model, (512, 512), None)
    assert widget.tile_size.value == max(layout.tile_shape) and not widget.tile_size.enabled  # the tile in use
    assert f"tile {layout.tile_shape[0]}×" in widget.tile_info.value
    name = clean_registry.add(tiny_model)
    assert widget.model.value == name
    assert {c for c in widget.model.choices if not str(c).startswith("builtin:")} == {name, "tiny"}


def test_prediction_is_an_aligned_labels_layer_updated_in_place(widget, viewer, qtbot, notes):
    source = viewer.layers["nuclei 2D"]
    source.scale = (0.5, 0.25)
    source.translate = (10.0, -4.0)
    predict(widget, qtbot)
    assert notes.errors == []
    layer = viewer.layers["nuclei 2D [labels]"]
    assert isinstance(layer, Labels) and layer is widget.result_layer
    assert layer.data.shape == source.data.shape and layer.data.dtype.kind == "u"
    assert set(np.unique(layer.data)) <= {1, 2}  # the scribbles' label values
    assert layer.colormap.map(1)[3] == 0 and layer.colormap.map(2)[3] == 1  # background 1 is transparent
    np.testing.assert_allclose(layer.scale, (0.5, 0.25))
    np.testing.assert_allclose(layer.translate, (10.0, -4.0))
    count = len(viewer.layers)
    automatic = widget.tile_info.value
    widget.auto_tile.value = False
    widget.tile_size.value = 100
    assert widget.tile_info.value != automatic and widget.tile_info.value.startswith("tile ")
    first = layer.data.copy()
    predict(widget, qtbot)
    assert len(viewer.layers) == count and viewer.layers["nuclei 2D [labels]"] is layer
    np.testing.assert_array_equal(layer.data, first)  # overlap-tile: any tile size gives the same labels


def test_probabilities_are_one_readable_layer_per_class_updated_in_place(widget, viewer, qtbot, notes):
    widget.output.value = "probabilities"
    predict(widget, qtbot)
    foreground = viewer.layers["nuclei 2D [p(objects)]"]
    background = viewer.layers["nuclei 2D [p(background)]"]
    assert isinstance(foreground, Image) and isinstance(background, Image)
    assert widget.result_layers == [foreground, background] and widget.result_layer is foreground
    assert foreground.data.shape == (512, 512) and foreground.data.dtype == np.float32
    np.testing.assert_allclose(foreground.data + background.data, 1.0, rtol=1e-4)
    assert foreground.visible and not background.visible  # the background class is hidden
    assert tuple(foreground.contrast_limits) == (0.0, 1.0) and foreground.colormap.name == "green"
    assert foreground.blending == "additive" and foreground.opacity < 1
    names = [layer.name for layer in viewer.layers]
    assert names.index(foreground.name) > names.index(background.name)  # foreground above background
    count = len(viewer.layers)
    widget.auto_tile.value = False
    widget.tile_size.value = 100
    predict(widget, qtbot)
    assert len(viewer.layers) == count and viewer.layers["nuclei 2D [p(objects)]"] is foreground
    assert notes.errors == []


def test_instances(widget, viewer, qtbot, notes):
    widget.output.value = "instances"
    predict(widget, qtbot)
    instances = viewer.layers["nuclei 2D [instances]"]
    assert isinstance(instances, Labels) and instances.data.shape == (512, 512) and notes.errors == []


def test_stack_plane_by_plane_and_current_plane_only(widget, viewer, qtbot, sample):
    stack = np.stack([sample["image"][:96, :96], sample["image"][96:192, :96], sample["image"][:96, 96:192]])
    viewer.add_image(stack, name="stack", scale=(2.0, 1.0, 1.0))
    widget.image_layer.value = viewer.layers["stack"]
    assert "ZYX image" in widget.tile_info.value
    widget.current_plane.value = True
    viewer.dims.set_current_step(0, 1)
    predict(widget, qtbot)
    layer = viewer.layers["stack [labels]"]
    assert layer.data.shape == (3, 96, 96)
    np.testing.assert_allclose(layer.scale, (2.0, 1.0, 1.0))
    assert layer.data[1].min() >= 1 and not layer.data[0].any() and not layer.data[2].any()
    widget.current_plane.value = False
    predict(widget, qtbot)
    assert viewer.layers["stack [labels]"] is layer and all(layer.data[z].min() >= 1 for z in range(3))


def test_rgb_image_for_a_grey_model_is_a_clear_error(widget, viewer, qtbot, notes):
    viewer.add_image(np.zeros((64, 64, 3), dtype=np.uint8), name="rgb", rgb=True)
    widget.image_layer.value = viewer.layers["rgb"]
    assert "RGB" in widget.tile_info.value
    assert not widget.run()
    assert len(notes.errors) == 1 and "RGB" in notes.errors[0] and "channel" in notes.errors[0]
    assert widget.run_button.enabled and "rgb [labels]" not in viewer.layers


def test_cancel_leaves_the_layers_alone(widget, viewer, qtbot, notes):
    widget.auto_tile.value = False
    widget.tile_size.value = 44  # many tiles
    count = len(viewer.layers)
    assert widget.run()
    widget.cancel_button.native.click()
    qtbot.waitUntil(lambda: not widget.running, timeout=TIMEOUT)
    assert widget.last_outcome.cancelled and len(viewer.layers) == count
    assert any("cancelled" in message for message in notes.infos) and notes.errors == []


def test_load_a_model_file(widget, viewer, qtbot, tiny_model, tmp_path, notes):
    path = save_model(tiny_model, tmp_path / "nuclei.safetensors")
    assert widget.load_model_from(path) is not None
    assert widget.model.value == "nuclei.safetensors"
    (tmp_path / "bad.safetensors").write_bytes(b"\x80\x04not a model")
    assert widget.load_model_from(tmp_path / "bad.safetensors") is None
    assert "pickle" in notes.errors[-1]
    predict(widget, qtbot)
    assert "nuclei 2D [labels]" in viewer.layers


def test_the_plugin_widget_is_docked_from_the_manifest(viewer):
    _dock, widget = viewer.window.add_plugin_dock_widget("napari-tiled-unet", "Predict with U-Net")
    assert isinstance(widget, PredictWidget) and widget.image_layer.value is viewer.layers["nuclei 2D"]


def test_export_to_bioimageio_and_load_it_back(widget, viewer, qtbot, tmp_path, notes):
    from napari_tiled_unet import load_model

    target = tmp_path / "shared.zip"
    assert widget.export_model_to(target)
    qtbot.waitUntil(lambda: widget.export_button.enabled, timeout=TIMEOUT)
    assert target.exists() and not notes.errors, notes.errors
    assert "Exported" in notes.infos[-1]
    assert load_model(target).metadata["task"] == "semantic"
    assert widget.load_model_from(target) is not None
    predict(widget, qtbot)
    assert "nuclei 2D [labels]" in viewer.layers
    assert widget.export_model_to(tmp_path / "missing" / "x.zip")
    qtbot.waitUntil(lambda: widget.export_button.enabled, timeout=TIMEOUT)
    assert "does not exist" in notes.errors[-1]
    assert not (tmp_path / "missing").exists()


def _large_nuclei():
    from unet_helpers import large_nuclei

    return large_nuclei()[0]


def _steep_background():
    from unet_helpers import nuclei_on, ramp

    return nuclei_on(ramp((256, 256), 4000.0), contrast=800.0)[0]


@pytest.mark.parametrize("make_image, box, said, n_objects, off_word", [
    # builtin:nuclei names the radius it segments best: nuclei of radius 24 are predicted on a shrunk image
    (_large_nuclei, "rescale", ["predicted on the image scaled by 0.4", "24 px median radius"], 5, "scaled"),
    # and the background variation it was trained on: a steeper one is flattened first
    (_steep_background, "flatten", ["background flattened (it varies by"], 16, "flattened"),
], ids=["large objects shrunk", "steep background flattened"])
def test_the_builtin_model_adapts_the_image_says_so_and_the_box_turns_it_off(viewer, qtbot, clean_registry,
                                                                             make_image, box, said, n_objects,
                                                                             off_word):
    image = make_image()
    viewer.add_image(image, name="nuclei", translate=(10, 20))
    widget = PredictWidget(viewer)
    widget.model.value = "builtin:nuclei"
    widget.image_layer.value = viewer.layers["nuclei"]
    widget.output.value = "instances"
    checkbox = getattr(widget, box)
    assert checkbox.native.isVisibleTo(widget.native) and checkbox.value  # the model names what it likes
    widget.tta.value = False
    predict(widget, qtbot)
    assert all(words in widget.status.value for words in said), widget.status.value
    result = widget.result_layer
    assert result.data.shape == image.shape and int(result.data.max()) == n_objects
    np.testing.assert_array_equal(result.translate, (10, 20))
    checkbox.value = False
    predict(widget, qtbot)
    assert off_word not in widget.status.value
    clean_registry.add(widget.selected_model().__class__(widget.selected_model().config), name="plain")
    widget.model.value = "plain"
    assert not checkbox.native.isVisibleTo(widget.native)  # the model names nothing: nothing to adapt to


def test_a_plane_preview_of_a_steep_stack_is_flattened_like_the_whole_stack(viewer, qtbot):
    from unet_helpers import nuclei_on, ramp

    steep, _ = nuclei_on(ramp((256, 256), 4000.0), contrast=800.0)
    even, _ = nuclei_on(np.full((256, 256), 200.0), contrast=800.0)
    viewer.add_image(np.stack([steep, even]), name="movie")
    widget = PredictWidget(viewer)
    widget.model.value = "builtin:nuclei"
    widget.image_layer.value = viewer.layers["movie"]
    widget.output.value = "instances"
    widget.link.value = 0.0
    predict(widget, qtbot)  # the whole movie: one steep frame flattens both
    assert "background flattened" in widget.status.value, widget.status.value
    whole = np.array(widget.result_layer.data)
    widget.current_plane.value = True
    viewer.dims.set_current_step(0, 1)
    for _ in range(2):  # measured on the whole stack once, then from the kept statistics
        predict(widget, qtbot)
        preview = np.array(widget.result_layer.data)[1]
        assert "background flattened" in widget.status.value, widget.status.value
        assert preview.max() == 16 and match_instances(preview, whole[1], 0.99)["f1"] == 1.0


def test_an_instance_model_proposes_instances_until_the_output_is_picked_by_hand(viewer, instance_model, tiny_model,
                                                                                 clean_registry):
    clean_registry.add(tiny_model, name="classes")
    clean_registry.add(instance_model, name="objects")
    widget = PredictWidget(viewer)
    widget.model.value = "objects"
    assert widget.output.value == "instances"
    widget.model.value = "classes"
    assert widget.output.value == "labels"
    widget.output.value = "probabilities"  # by hand: kept while the model stays
    widget.image_layer.value = widget.image_layer.value
    assert widget.output.value == "probabilities"
    widget.model.value = "objects"  # another model: proposed again
    assert widget.output.value == "instances"
