"""Predicting again never overwrites a result layer the user has edited; unedited results are updated in place."""

from __future__ import annotations

import numpy as np
import pytest
from napari.layers import Labels

from napari_tiled_unet._napari.predict_widget import PredictWidget
from napari_tiled_unet._napari.result_layers import ResultTracker, fingerprint, free_name

TIMEOUT = 60_000
LABELS = "nuclei 2D [labels]"


@pytest.fixture
def widget(viewer, qtbot, tiny_model, clean_registry):
    clean_registry.add(tiny_model, name="tiny")
    widget = PredictWidget(viewer)
    yield widget
    qtbot.waitUntil(lambda: not widget.running, timeout=TIMEOUT)


def predict(widget: PredictWidget, qtbot) -> None:
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.running, timeout=TIMEOUT)
    assert widget.last_outcome.error is None, widget.status.value


def paint(layer: Labels) -> None:
    layer.brush_size = 9
    layer.paint((100, 100), 7)


def fill(layer: Labels) -> None:
    layer.paint((300, 300), 5)
    layer.fill((300, 300), 7)


def erase(layer: Labels) -> None:
    layer.brush_size = 9
    layer.paint((100, 100), 0)


def replace_data(layer: Labels) -> None:
    data = np.array(layer.data, copy=True)
    data[95:106, 95:106] = 7
    layer.data = data


def write_into_the_array(layer: Labels) -> None:  # no napari event at all: the fingerprint catches it
    layer.data[95:106, 95:106] = 7
    layer.refresh()


@pytest.mark.parametrize("edit", [paint, fill, erase, replace_data, write_into_the_array])
def test_an_edited_result_is_never_overwritten(widget, viewer, qtbot, notes, edit):
    predict(widget, qtbot)
    first = viewer.layers[LABELS]
    edit(first)
    edited = np.array(first.data, copy=True)
    predict(widget, qtbot)
    assert np.array_equal(first.data, edited)  # the painted pixels survive
    second = viewer.layers[f"{LABELS} (2)"]
    assert widget.result_layer is second and second is not first
    assert not np.array_equal(second.data, edited)
    assert f"The new result is in '{LABELS} (2)': '{LABELS}' has your edits" in widget.status.value
    assert any("has your edits" in message for message in notes.infos) and notes.errors == []
    count = len(viewer.layers)
    predict(widget, qtbot)  # the new, unedited result is updated in place
    assert viewer.layers[f"{LABELS} (2)"] is second and len(viewer.layers) == count
    assert np.array_equal(first.data, edited)


def test_an_unedited_result_is_updated_in_place(widget, viewer, qtbot, notes):
    predict(widget, qtbot)
    layer = viewer.layers[LABELS]
    layer.opacity = 0.3  # changing how it looks is not an edit
    layer.selected_label = 9
    count = len(viewer.layers)
    predict(widget, qtbot)
    assert viewer.layers[LABELS] is layer and len(viewer.layers) == count and "edits" not in widget.status.value


def test_a_layer_the_plugin_did_not_write_is_left_alone(widget, viewer, qtbot):
    mine = viewer.add_labels(np.full((512, 512), 3, dtype=np.uint8), name=LABELS)
    predict(widget, qtbot)
    assert np.all(mine.data == 3) and widget.result_layer.name == f"{LABELS} (2)"


def test_probabilities_are_not_overwritten_once_replaced(widget, viewer, qtbot):
    widget.output.value = "probabilities"
    predict(widget, qtbot)
    objects = viewer.layers["nuclei 2D [p(objects)]"]
    objects.data = np.zeros_like(objects.data)
    predict(widget, qtbot)
    assert not objects.data.any()
    assert widget.result_layer.name == "nuclei 2D [p(objects)] (2)" and widget.result_layer.data.any()


def test_the_current_plane_goes_into_an_unedited_result_only(widget, viewer, qtbot, sample):
    stack = np.stack([sample["image"][:96, :96], sample["image"][96:192, :96], sample["image"][:96, 96:192]])
    viewer.add_image(stack, name="stack")
    widget.image_layer.value = viewer.layers["stack"]
    widget.current_plane.value = True
    viewer.dims.set_current_step(0, 0)
    predict(widget, qtbot)
    layer = viewer.layers["stack [labels]"]
    viewer.dims.set_current_step(0, 1)
    predict(widget, qtbot)
    assert viewer.layers["stack [labels]"] is layer and layer.data[0].any() and layer.data[1].any()
    layer.paint((0, 10, 10), 7)
    viewer.dims.set_current_step(0, 2)
    predict(widget, qtbot)
    assert not layer.data[2].any() and layer.data[0, 10, 10] == 7
    new = viewer.layers["stack [labels] (2)"]
    assert new.data[2].any() and not new.data[0].any()


def test_tracker_and_names_without_a_viewer():
    tracker = ResultTracker()
    layer = Labels(np.zeros((8, 8), dtype=np.uint8))
    assert tracker.is_edited(layer) and not tracker.is_ours(layer)  # not written by the plugin: the user's
    tracker.mark_written(layer)
    assert not tracker.is_edited(layer)
    with tracker.writing():
        layer.data = np.ones((8, 8), dtype=np.uint8)
    tracker.mark_written(layer)
    assert not tracker.is_edited(layer)
    layer.data = np.ones((8, 8), dtype=np.uint8)  # same values: only napari's data event tells
    assert tracker.is_edited(layer)
    tracker.mark_written(layer)
    layer.paint((2, 2), 5)  # the paint event
    assert tracker._records[layer].edited
    assert fingerprint(np.zeros(3)) != fingerprint(np.zeros(4)) and fingerprint([1, 2]) is None

    from napari.components import ViewerModel

    model = ViewerModel()
    for name in ("a", "a (2)"):
        model.add_labels(np.zeros((2, 2), dtype=np.uint8), name=name)
    assert free_name(model, "b") == "b" and free_name(model, "a") == "a (3)"
