"""Error messages: what went wrong and what to do, in the words of the controls and layers the user sees."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from napari_tiled_unet._napari.messages import (
    PREDICTION,
    explain,
    in_user_words,
    is_out_of_memory,
    report_error,
    training_vocabulary,
)
from napari_tiled_unet._napari.train_widget import TrainWidget
from napari_tiled_unet.normalization import PercentileNormalization
from napari_tiled_unet.training.config import TrainingConfig
from napari_tiled_unet.training.data import pairs_for_model
from napari_tiled_unet.training.labels import label_encoding
from napari_tiled_unet.training.loop import TrainingFailed

NORM = PercentileNormalization()

TIMEOUT = 60_000
PROGRAMMER_TERMS = ("sparse=True", "task='", "val_fraction", "patch_size", "time_limit", "image 0", "labels 0",
                    "class_names", "see the notification")


def core_message(call) -> str:
    with pytest.raises(ValueError) as info:
        call()
    return str(info.value)


def test_out_of_memory_says_what_to_lower():
    err = TrainingFailed("training stopped at step 3: CUDA out of memory", best_model=None)
    err.__cause__ = torch.OutOfMemoryError("CUDA out of memory")
    assert is_out_of_memory(err) and is_out_of_memory(MemoryError())
    message = explain("train", err)
    assert "batch size (Advanced)" in message and "patch size (Advanced)" in message and "no model was kept" in message
    assert "(Advanced) (Advanced)" not in message
    assert "tile size" in explain("predict", MemoryError("out of memory"))


def test_training_failed_and_value_errors():
    assert "best model so far was kept" in explain("train", TrainingFailed("boom", best_model=object()))
    assert explain("predict", ValueError("pick a 2D model")) == "Could not predict: pick a 2D model"
    assert "report it" in explain("predict", KeyError("x"))


def test_report_error_logs_and_notifies(notes, caplog):
    with caplog.at_level(logging.ERROR):
        message = report_error("train", RuntimeError("kaput"))
    assert notes.errors == [message] and "kaput" in caplog.text


def test_the_core_terms_become_control_and_layer_names():
    """Real messages of the core, translated with the table (the core keeps its own words for the Python API)."""
    words = training_vocabulary([("nuclei", "nuclei masks"), ("crop", "crop scribbles")])
    dense_zero = core_message(lambda: label_encoding([np.zeros((4, 4), int)], "semantic", False))
    assert "sparse=True" in dense_zero
    assert in_user_words(dense_zero, words).endswith("for scribbles tick 'sparse: 0 = not annotated'")
    many = core_message(lambda: label_encoding([np.arange(400).reshape(20, 20)], "semantic", False))
    assert "choose task: instances" in in_user_words(many, words)
    fraction = core_message(lambda: TrainingConfig(val_fraction=0.7))
    assert in_user_words(fraction, words).startswith("validation fraction (Advanced) 0.7 is invalid")
    patch = core_message(lambda: TrainingConfig(patch_size=2))
    assert in_user_words(patch, words).startswith("patch size (Advanced) 2 is invalid")
    names = core_message(lambda: TrainingConfig(class_names=((2, ""),)))
    assert "class name" in in_user_words(names, words) and "class_names" not in in_user_words(names, words)
    shape = core_message(lambda: pairs_for_model([np.zeros((4, 4)), np.zeros((5, 5))],
                                                 [np.zeros((4, 4), int), np.zeros((6, 6), int)], 2, NORM))
    translated = in_user_words(shape, words)
    assert translated.startswith("image 'crop' has shape (5, 5) but its labels 'crop scribbles' have shape (6, 6)")
    axes = core_message(lambda: pairs_for_model([np.zeros((4, 4))], [np.zeros(4, int)], 2, NORM))
    assert in_user_words(axes, words).startswith("labels 'nuclei masks' have 1 axes")
    stop = core_message(lambda: TrainingConfig(epochs=None, time_limit=None))
    assert in_user_words(stop, words).startswith("set a time limit or a number of epochs")
    for message in (dense_zero, many, fraction, patch, names, shape, axes, stop):
        assert not any(term in in_user_words(message, words) for term in PROGRAMMER_TERMS), message
    assert "tile size" in in_user_words("tile_shape (0,) must be positive: give sizes like 508 or None for "
                                        "automatic", PREDICTION)


@pytest.fixture
def widget(viewer, qtbot, make_tiny, wait_checked):
    widget = TrainWidget(viewer)
    make_tiny(widget)
    wait_checked(widget)
    yield widget
    qtbot.waitUntil(lambda: not widget.running, timeout=TIMEOUT)


def train_and_fail(widget, qtbot, notes) -> str:
    errors = len(notes.errors)
    if widget.start():
        qtbot.waitUntil(lambda: not widget.running, timeout=TIMEOUT)
    assert len(notes.errors) == errors + 1
    message = notes.errors[-1]
    assert widget.status.value == message  # the full message in the widget, not "see the notification"
    assert "color" in widget.status.native.styleSheet()  # shown as an error
    assert not any(term in message for term in PROGRAMMER_TERMS), message
    return message


def test_errors_of_real_training_runs_name_the_controls_and_layers(widget, viewer, qtbot, notes):
    viewer.add_labels(np.zeros((512, 512), dtype=np.uint8), name="empty")
    widget.labels_layer.value = viewer.layers["empty"]
    widget.sparse.value = False
    message = train_and_fail(widget, qtbot, notes)
    assert message.startswith("Could not train on 'nuclei 2D' with labels 'empty': labels contain only the value 0")
    assert message.endswith("for scribbles tick 'sparse: 0 = not annotated'")

    widget.task.value = "instances"
    message = train_and_fail(widget, qtbot, notes)
    assert "instance labels have no object: paint at least one object" in message

    widget.task.value = "semantic"
    widget.sparse.value = True
    viewer.layers["empty"].data[:5, :5] = 1
    message = train_and_fail(widget, qtbot, notes)
    assert "sparse labels only contain the value 1: paint objects with 2 as well" in message

    viewer.add_labels(np.ones((100, 100), dtype=np.uint8), name="small")
    widget.labels_layer.value = viewer.layers["small"]
    message = train_and_fail(widget, qtbot, notes)
    assert "image 'nuclei 2D' has shape (512, 512) but its labels 'small' have shape (100, 100)" in message

    few = np.zeros((512, 512), dtype=np.uint8)
    few[:3, :3], few[:3, 3:6] = 1, 2
    viewer.add_labels(few, name="few strokes")
    widget.labels_layer.value = viewer.layers["few strokes"]
    widget.advanced.val_fraction.value = 0.5
    message = train_and_fail(widget, qtbot, notes)
    assert "too few annotated pixels" in message and "validation fraction (Advanced)" in message
    assert "'nuclei 2D'" in message

    widget.class_names.value = "2 nucleus"
    message = train_and_fail(widget, qtbot, notes)
    assert "class names: '2 nucleus' is not 'label value: name'" in message
