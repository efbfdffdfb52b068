"""The label check of the Train widget: what the labels look like, the suggestion, contradictions before training."""

from __future__ import annotations

import numpy as np
import pytest

from napari_tiled_unet._napari.label_check import check_labels, report_in_words
from napari_tiled_unet._napari.train_widget import TrainWidget

TIMEOUT = 60_000
PROGRAMMER_TERMS = ("sparse=True", "task='", "--", "sparse_background")


def painted_objects(ground_truth: np.ndarray, count: int = 8) -> np.ndarray:
    """A few whole objects numbered 1..count, everything else 0: how most people annotate (BBBC007, blobs)."""
    ids = [v for v in np.unique(ground_truth) if v][5: 5 + count]
    painted = np.zeros(ground_truth.shape, np.uint16)
    for k, value in enumerate(ids, start=1):
        painted[ground_truth == value] = k
    return painted


@pytest.fixture
def widget(viewer, qtbot, make_tiny, wait_checked):
    widget = TrainWidget(viewer)
    make_tiny(widget)
    widget.advanced.val_fraction.value = 0.0
    wait_checked(widget)
    yield widget
    qtbot.waitUntil(lambda: not widget.running, timeout=TIMEOUT)


def test_the_check_speaks_the_widgets_words(sample):
    checked = check_labels([sample["labels"]], [sample["image"]], "semantic", False, suggest=False)
    text = report_in_words(checked.report, "masks")
    assert text.startswith("'masks': 150 values (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, ...), 0 on 81% of the pixels")
    assert "looks like instance ids. Suggested: task instances, 'sparse' unticked." in text
    assert "contradiction: " in text and "choose task: instances" in text and "train anyway" in text
    assert not any(term in text for term in PROGRAMMER_TERMS), text
    suggested = check_labels([sample["labels"]], [sample["image"]], "semantic", False, suggest=True)
    assert (suggested.task, suggested.sparse) == ("instances", False) and not suggested.report.errors


def test_a_few_painted_nuclei_train_as_sparse_instances(widget, viewer, qtbot, notes, sample, wait_checked):
    """The most common habit: a few nuclei painted completely, numbered 1, 2, 3..., no background painted."""
    viewer.add_labels(painted_objects(sample["labels"]), name="my nuclei")
    widget.labels_layer.value = viewer.layers["my nuclei"]
    wait_checked(widget)
    assert widget.task.value == "instances" and widget.sparse.value  # as the labels suggest
    assert widget.background.enabled and widget.background.value == "auto"
    text = widget.label_check.text.value
    assert "looks like painted objects" in text and "background is inferred" in text
    assert not widget.label_check.use_button.enabled  # the settings are the suggestion already
    config = widget.training_config()
    assert (config.task, config.sparse, config.sparse_background) == ("instances", True, "auto")
    assert widget.start()
    qtbot.waitUntil(lambda: not widget.running, timeout=TIMEOUT)
    assert notes.errors == [] and widget.model.metadata["task"] == "instances"
    assert widget.model.metadata["training"]["notes"]
    assert "note: label 1 is painted like the other objects" in widget.status.value  # how the labels were read
    assert "task: instances, from painted objects (sparse)" in widget.model_label.value
    widget.background.value = "painted"
    assert widget.training_config().sparse_background == "painted"


def test_a_contradiction_is_shown_before_training_and_start_does_not_train(widget, viewer, qtbot, notes,
                                                                           wait_checked, clean_registry):
    """Scribbles with 'sparse' unticked by hand would learn 0 as background: refused, naming the controls."""
    widget.sparse.value = False  # by hand: no suggestion overrides it
    wait_checked(widget)
    assert not widget.sparse.value
    text = widget.label_check.text.value
    assert "contradiction" in text and "tick 'sparse: 0 = not annotated'" in text
    assert widget.label_check.use_button.enabled and widget.label_check.ignore.native.isVisibleTo(widget.native)
    assert widget.start()
    qtbot.waitUntil(lambda: not widget.running, timeout=TIMEOUT)
    assert widget.model is None and len(clean_registry) == 0 and widget.plot.steps == []  # nothing trained
    assert len(notes.errors) == 1 and notes.errors[0] == widget.status.value
    assert "tick 'sparse: 0 = not annotated'" in notes.errors[0] and "tick 'train anyway'" in notes.errors[0]
    assert not any(term in notes.errors[0] for term in PROGRAMMER_TERMS), notes.errors[0]
    widget.label_check.ignore.value = True  # train anyway: 0 is learnt as a class of its own
    assert widget.start()
    qtbot.waitUntil(lambda: not widget.running, timeout=TIMEOUT)
    assert len(notes.errors) == 1 and widget.model is not None
    assert widget.model.metadata["label_values"] == [0, 1, 2]


def test_use_suggestion_sets_the_task_and_the_sparse_box(widget, viewer, sample, wait_checked):
    viewer.add_labels(sample["labels"], name="masks")
    widget.sparse.value = False  # chosen by hand before the layer is picked
    widget.labels_layer.value = viewer.layers["masks"]
    wait_checked(widget)
    assert widget.task.value == "semantic" and "look like instance ids, not classes" in widget.label_check.text.value
    widget.label_check.use_button.native.click()
    wait_checked(widget)
    assert widget.task.value == "instances" and not widget.sparse.value
    assert "contradiction" not in widget.label_check.text.value
    assert not widget.label_check.ignore.native.isVisibleTo(widget.native)


def test_no_layer_name_decides_anything(widget, viewer, sample, wait_checked):
    """A dense mask called 'scribbles' is read by what it holds, not by its name."""
    dense = np.where(sample["labels"] > 0, 2, 1).astype(np.uint8)  # 1 = background, 2 = nuclei, everywhere
    viewer.add_labels(dense, name="my scribbles")
    widget.labels_layer.value = viewer.layers["my scribbles"]
    wait_checked(widget)
    assert not widget.sparse.value and widget.task.value == "semantic"


def test_closing_waits_for_a_check_still_running_and_shows_nothing_after(viewer, qtbot, monkeypatch):
    """Closing the widget right after picking labels must not leave a check running into the teardown."""
    import threading
    import time

    from napari_tiled_unet._napari import label_check

    started, real = threading.Event(), label_check.check_labels

    def slow(*args, **kwargs):
        started.set()
        time.sleep(0.5)
        return real(*args, **kwargs)

    monkeypatch.setattr(label_check, "check_labels", slow)
    widget = TrainWidget(viewer)
    widget.labels_layer.value = viewer.layers["nuclei 2D scribbles"]
    assert started.wait(10) and widget.label_check.pending
    shown = widget.label_check.text.value
    widget.runner.close("test")
    assert widget.label_check.closed and not any(t.is_alive() for t in widget.label_check._threads)
    qtbot.wait(50)  # the result is delivered to the GUI thread, which ignores it
    assert widget.label_check.text.value == shown and widget.label_check.last is None


def test_a_check_that_fails_says_so_in_the_widget(viewer, qtbot, monkeypatch, wait_checked):
    from napari_tiled_unet._napari import label_check

    def broken(*args, **kwargs):
        raise MemoryError("too large")

    monkeypatch.setattr(label_check, "check_labels", broken)
    widget = TrainWidget(viewer)
    widget.labels_layer.value = viewer.layers["nuclei 2D scribbles"]
    wait_checked(widget)
    assert "the labels could not be checked (MemoryError: too large)" in widget.label_check.text.value
