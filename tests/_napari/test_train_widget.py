"""The Train U-Net widget in a real viewer: training, cancel, errors, continue, save and load."""

from __future__ import annotations

import numpy as np
import pytest

from napari_tiled_unet._napari.train_widget import TrainWidget
from napari_tiled_unet.model import UNet

TIMEOUT = 60_000


@pytest.fixture
def widget(viewer, qtbot, make_tiny, wait_checked):
    widget = TrainWidget(viewer)
    make_tiny(widget)
    wait_checked(widget)
    yield widget
    qtbot.waitUntil(lambda: not widget.running, timeout=TIMEOUT)


def is_idle(widget: TrainWidget) -> bool:
    return (not widget.running and widget.start_button.enabled and not widget.cancel_button.enabled)


def test_defaults_come_from_the_training_config(viewer, wait_checked):
    widget = TrainWidget(viewer)
    assert widget.image_layer.value is viewer.layers["nuclei 2D"]
    assert widget.labels_layer.value is viewer.layers["nuclei 2D scribbles"]  # top labels layer
    wait_checked(widget)
    # the label check finds scribbles through nuclei that builtin:nuclei finds: an instance model from it
    assert widget.sparse.value and widget.task.value == "instances" and widget.start_from.value == "builtin:nuclei"
    assert "builtin:nuclei finds objects under 100% of the object strokes" in widget.label_check.text.value
    assert widget.time_limit.value == 120 and widget.epochs.value == 0
    config = widget.training_config()
    assert config.unet.depth == 4 and config.patch_size == 220 and config.sparse and config.task == "instances"
    widget.start_from.value = ""  # a new model, by hand: the scribbles train classes
    wait_checked(widget)
    assert widget.task.value == "semantic" and widget.sparse.value
    widget.start_from.value = "builtin:nuclei"  # by hand too: an instance model from it again
    wait_checked(widget)
    assert widget.task.value == "instances" and widget.training_config().task == "instances"
    widget.advanced.dims.value = 3
    assert widget.advanced.depth.value == 3 and widget.advanced.patch_size.value == 92
    widget.advanced.dims.value = 2
    assert widget.advanced.depth.value == 4 and widget.advanced.patch_size.value == 220
    widget.task.value = "instances"
    assert widget.sparse.enabled and widget.background.enabled  # sparse instances: a few objects painted
    widget.sparse.value = False
    assert not widget.background.enabled


def test_train_registers_a_model_and_plots_the_losses(widget, qtbot, notes, clean_registry):
    assert widget.start()
    assert widget.running and not widget.start_button.enabled and widget.cancel_button.enabled
    qtbot.waitUntil(lambda: is_idle(widget), timeout=TIMEOUT)
    assert notes.errors == []
    assert isinstance(widget.model, UNet) and clean_registry.names() == [widget.model_name]
    assert widget.model.metadata["label_values"] == [1, 2]
    assert len(widget.plot.steps) == 2 and len(widget.plot.epochs) == 1
    assert widget.progress.value == 1000 and widget.status.value.startswith("done")
    assert widget.continue_button.enabled and widget.save_button.enabled


def test_painting_during_training_does_not_reach_the_snapshot(widget, viewer, qtbot):
    scribbles = viewer.layers["nuclei 2D scribbles"]
    before = scribbles.data.copy()
    assert widget.start()
    scribbles.data[:] = 0  # the user keeps painting (here: erases everything)
    qtbot.waitUntil(lambda: is_idle(widget), timeout=TIMEOUT)
    assert widget.last_outcome.error is None
    scribbles.data[:] = before


def test_cancel_keeps_a_model_and_returns_to_idle(widget, qtbot, notes, clean_registry):
    widget.epochs.value = 0
    widget.time_limit.value = 600  # would run for minutes
    assert widget.start()
    widget.cancel_button.native.click()
    qtbot.waitUntil(lambda: is_idle(widget), timeout=TIMEOUT)
    assert widget.last_outcome.cancelled and widget.last_outcome.error is None
    assert isinstance(widget.model, UNet) and len(clean_registry) == 1
    assert any("cancelled" in message for message in notes.infos)
    assert notes.errors == []


def test_empty_labels_show_an_error_and_the_widget_stays_usable(widget, viewer, qtbot, notes):
    viewer.add_labels(np.zeros((512, 512), dtype=np.uint8), name="empty")
    widget.labels_layer.value = viewer.layers["empty"]
    assert widget.start()
    qtbot.waitUntil(lambda: is_idle(widget), timeout=TIMEOUT)
    assert len(notes.errors) == 1 and "no annotated pixel" in notes.errors[0]
    assert widget.model is None and not widget.continue_button.enabled
    widget.labels_layer.value = viewer.layers["nuclei 2D scribbles"]
    assert widget.start()
    qtbot.waitUntil(lambda: is_idle(widget), timeout=TIMEOUT)
    assert widget.model is not None and len(notes.errors) == 1


def test_labels_of_another_shape_and_no_stopping_rule_are_refused(widget, viewer, qtbot, notes):
    viewer.add_labels(np.ones((100, 100), dtype=np.uint8), name="small")
    widget.labels_layer.value = viewer.layers["small"]
    assert widget.start()
    qtbot.waitUntil(lambda: is_idle(widget), timeout=TIMEOUT)
    assert "shape" in notes.errors[-1] and "same pixels" in notes.errors[-1]
    widget.epochs.value = 0
    assert not widget.start()  # nothing to stop training: refused at once
    assert "time limit or a number of epochs" in notes.errors[-1] and is_idle(widget)


def test_training_failure_keeps_the_best_model(widget, qtbot, notes, clean_registry, monkeypatch, tiny_model):
    from napari_tiled_unet._napari import jobs
    from napari_tiled_unet.training.loop import TrainingFailed

    def failing_train(*args, **kwargs):
        raise TrainingFailed("training stopped at step 7: the loss became NaN", best_model=tiny_model)

    monkeypatch.setattr(jobs, "train", failing_train)
    assert widget.start()
    qtbot.waitUntil(lambda: is_idle(widget), timeout=TIMEOUT)
    assert len(notes.errors) == 1 and "NaN" in notes.errors[0] and "best model so far was kept" in notes.errors[0]
    assert widget.model is tiny_model and len(clean_registry) == 1


def test_several_pairs_continue_training_save_and_load(widget, viewer, qtbot, notes, clean_registry, tmp_path):
    image = viewer.layers["nuclei 2D"]
    viewer.add_image(np.asarray(image.data)[:256, :256], name="crop")
    viewer.add_labels(np.asarray(viewer.layers["nuclei 2D scribbles"].data)[:256, :256], name="crop scribbles")
    widget.image_layer.value = viewer.layers["crop"]
    widget.labels_layer.value = viewer.layers["crop scribbles"]
    widget.add_pair()
    widget.image_layer.value = image
    widget.labels_layer.value = viewer.layers["nuclei 2D scribbles"]
    assert len(widget.training_pairs()) == 2 and "crop" in widget.pairs_label.value
    assert widget.start()
    qtbot.waitUntil(lambda: is_idle(widget), timeout=TIMEOUT)
    first = widget.model
    assert first.metadata["training"]["images"] == 2
    name, steps_before = widget.model_name, list(widget.plot.steps)
    assert widget.start(continue_training=True)
    qtbot.waitUntil(lambda: is_idle(widget), timeout=TIMEOUT)
    # the continued model keeps its name; its loss curve goes on where it was, steps counting on
    assert widget.model is not first and clean_registry.names() == [name] and widget.model_name == name
    assert clean_registry.get(name) is widget.model
    assert widget.plot.steps[: len(steps_before)] == steps_before
    assert [s for s, _ in widget.plot.steps[len(steps_before):]] == [steps_before[-1][0] + 1, steps_before[-1][0] + 2]
    assert widget.plot.history.runs == [steps_before[-1][0]] and clean_registry.history(name) is widget.plot.history
    path = widget.save_model_to(tmp_path / "net.safetensors")
    assert path is not None and path.is_file()
    assert widget.load_model_from(path) is not None and clean_registry.names()[0] == "net.safetensors"
    assert widget.load_model_from(tmp_path / "missing.safetensors") is None
    assert "does not exist" in notes.errors[-1]
    viewer.layers.remove("crop")
    assert widget.pairs == []


def test_the_plugin_widget_is_docked_from_the_manifest(viewer):
    _dock, widget = viewer.window.add_plugin_dock_widget("napari-tiled-unet", "Train U-Net")
    assert isinstance(widget, TrainWidget)
    assert widget.image_layer.value is viewer.layers["nuclei 2D"]


def test_class_names_and_held_out_scores_in_the_users_words(widget, viewer, qtbot, notes, clean_registry):
    widget.class_names.value = "2: nucleus"
    assert widget.training_config().class_names == ((2, "nucleus"),)
    assert widget.start()
    qtbot.waitUntil(lambda: is_idle(widget), timeout=TIMEOUT)
    assert notes.errors == [] and widget.model.metadata["class_names"] == ["background", "nucleus"]
    text = widget.model_label.value
    assert "classes: background (1), nucleus (2)" in text
    assert "held-out scribbles: foreground IoU" in text and "foreground_iou" not in text
    assert "held-out scribbles" in widget.status.value
    widget.task.value = "instances"
    assert not widget.class_names.enabled and widget.training_config().class_names == ()


def test_an_instance_model_describes_objects(widget, viewer, qtbot, notes, wait_checked):
    widget.labels_layer.value = viewer.layers["nuclei 2D ground truth"]
    wait_checked(widget)
    assert widget.task.value == "instances" and not widget.sparse.value  # as the label check suggests
    assert widget.start()
    qtbot.waitUntil(lambda: is_idle(widget), timeout=TIMEOUT)
    assert notes.errors == []
    text = widget.model_label.value
    assert "classes: objects (one id per object)" in text and "interior" not in text
    assert "held-out region: instance F1" in text


def test_scribbles_through_nuclei_train_an_instance_model_from_builtin_nuclei(viewer, qtbot, wait_checked, notes,
                                                                             clean_registry):
    widget = TrainWidget(viewer)
    wait_checked(widget)
    assert widget.task.value == "instances" and widget.start_from.value == "builtin:nuclei"
    widget.time_limit.value = 0
    widget.epochs.value = 1
    widget.advanced.steps_per_epoch.value = 2
    widget.advanced.batch_size.value = 1
    assert widget.start()
    qtbot.waitUntil(lambda: is_idle(widget), timeout=TIMEOUT)
    assert notes.errors == []
    meta = widget.model.metadata
    assert meta["task"] == "instances" and any(n.startswith("object strokes") for n in meta["training"]["notes"])
    assert "classes: objects (one id per object)" in widget.model_label.value
