"""Stacks and time-lapses with a 2D model in the Predict widget: linking, axis labels, the plane preview, objects."""

from __future__ import annotations

import numpy as np
import pytest

from napari_tiled_unet._napari.predict_widget import PredictWidget
from napari_tiled_unet.inference import predict_image
from napari_tiled_unet.instance_output import instance_settings_of

TIMEOUT = 60_000


@pytest.fixture
def stack(sample) -> np.ndarray:
    """Three planes of one crop: the same objects in every plane (a nucleus 3 planes tall, or standing still)."""
    crop = sample["image"][:96, :96]
    return np.stack([crop, crop, crop])


@pytest.fixture
def widget(viewer, qtbot, instance_model, clean_registry):
    clean_registry.add(instance_model, name="nuclei")
    widget = PredictWidget(viewer)
    yield widget
    qtbot.waitUntil(lambda: not widget.running, timeout=TIMEOUT)


def predict(widget: PredictWidget, qtbot, notes=None, **kwargs) -> None:
    assert widget.run(**kwargs), widget.status.value
    qtbot.waitUntil(lambda: not widget.running, timeout=TIMEOUT)
    assert notes is None or notes.errors == [], notes.errors


def test_a_z_stack_with_a_2d_model_gives_3d_objects(widget, viewer, qtbot, notes, stack):
    viewer.add_image(stack, name="stack", scale=(2.0, 0.5, 0.5))
    widget.image_layer.value = viewer.layers["stack"]
    widget.output.value = "instances"
    assert widget.link.enabled and widget.link.value == 0.5
    predict(widget, qtbot, notes)
    data = viewer.layers["stack [instances]"].data
    ids = [set(np.unique(data[z])) - {0} for z in range(3)]
    assert ids[0] and ids[0] == ids[1] == ids[2]  # every object keeps its id through the planes
    assert ("Z planes linked into 3D objects, cut at area valleys (overlap ≥ 0.5 of the smaller object)"
            in widget.status.value)
    widget.link.value = 0.0
    predict(widget, qtbot, notes)
    data = viewer.layers["stack [instances]"].data
    assert not ({*np.unique(data[0])} & {*np.unique(data[1])}) - {0}  # per-plane ids
    assert "numbered on their own" in widget.status.value


def test_a_time_lapse_stays_a_time_lapse(widget, viewer, qtbot, notes, stack):
    viewer.add_image(stack, name="movie", axis_labels=("t", "y", "x"), scale=(5.0, 0.5, 0.5))
    widget.image_layer.value = viewer.layers["movie"]
    assert "TYX image" in widget.tile_info.value
    widget.output.value = "instances"
    predict(widget, qtbot, notes)
    layer = viewer.layers["movie [instances]"]
    assert tuple(layer.axis_labels) == ("t", "y", "x") and "time points linked by overlap" in widget.status.value
    np.testing.assert_allclose(layer.scale, (5.0, 0.5, 0.5))


def test_the_plane_preview_equals_that_plane_of_the_full_prediction(widget, viewer, qtbot, notes, sample,
                                                                    tiny_model, clean_registry):
    clean_registry.add(tiny_model, name="scribbles")  # a semantic model: one probability layer per class
    crop = sample["image"][:96, :96].astype(np.float32)
    stack = np.stack([crop, crop * 0.2, crop * 3.0 + 50])  # planes of very different brightness
    viewer.add_image(stack, name="stack")
    widget.image_layer.value = viewer.layers["stack"]
    widget.output.value = "probabilities"
    predict(widget, qtbot, notes)
    full = viewer.layers["stack [p(objects)]"].data.copy()
    viewer.layers.remove("stack [p(objects)]")
    viewer.layers.remove("stack [p(background)]")
    viewer.dims.set_current_step(0, 1)
    widget.current_plane.value = True
    predict(widget, qtbot, notes)
    job = widget._running[0]
    assert job.whole_image is not None and job.normalizer is not None  # the whole stack's statistics, once
    preview = viewer.layers["stack [p(objects)]"].data
    np.testing.assert_allclose(preview[1], full[1], atol=1e-6)
    assert not preview[0].any() and not preview[2].any()
    alone, _ = predict_image(widget.selected_model(), stack[1], output="probabilities")
    assert np.abs(alone[1] - full[1]).max() > 1e-3  # normalised on its own the plane would differ
    viewer.dims.set_current_step(0, 2)
    predict(widget, qtbot, notes)
    assert widget._running[0].whole_image is None  # the kept normaliser is reused
    np.testing.assert_allclose(viewer.layers["stack [p(objects)]"].data[2], full[2], atol=1e-6)


def test_objects_settings_start_at_the_models_values_and_preview_quickly(widget, viewer, qtbot, notes,
                                                                         instance_model, tiny_model, clean_registry):
    assert widget.sections["objects"].isVisibleTo(widget.native)
    tuned = instance_settings_of(instance_model)
    assert widget.objects.settings() is None, "left as they are: the model's settings for the image"
    assert widget.objects.seed_threshold.value == tuned.seed_threshold
    widget.output.value = "instances"
    predict(widget, qtbot, notes)
    layer = viewer.layers["nuclei 2D [instances]"]
    assert layer.data.max() > 0
    widget.objects.min_size.value = 10**7  # no object is that large
    assert widget.objects.preview_button.enabled
    widget.objects.preview_button.native.click()
    qtbot.waitUntil(lambda: not widget.running, timeout=TIMEOUT)
    assert notes.errors == [] and layer.data.max() == 0 and viewer.layers["nuclei 2D [instances]"] is layer
    widget.objects.split_depth.value = 0.0
    assert widget.objects.settings().split_depth == 0.0 and tuned.split_depth > 0
    widget.objects.reset_button.native.click()
    assert widget.objects.settings() is None and widget.objects.min_size.value == tuned.min_size
    clean_registry.add(tiny_model, name="scribbles")  # a semantic model: no such settings
    assert widget.model.value == "scribbles" and not widget.sections["objects"].isVisibleTo(widget.native)
    assert widget.objects.settings() is None


def test_test_time_augmentation(widget, viewer, qtbot, notes, sample):
    viewer.add_image(sample["image"][:100, :120], name="crop")
    widget.image_layer.value = viewer.layers["crop"]
    assert not widget.tta.value and "8x" in widget.tta.text
    widget.tta.value = True
    assert widget.output.value == "instances"  # proposed for an instance model
    predict(widget, qtbot, notes)
    assert viewer.layers["crop [instances]"].data.shape == (100, 120)
    assert "test-time augmentation" in widget.status.value
