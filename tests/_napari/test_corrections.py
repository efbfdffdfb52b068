"""Correct and retrain through both widgets: predict, make the annotation, paint corrections, continue training."""

from __future__ import annotations

import numpy as np
import pytest

from napari_tiled_unet import UNetConfig
from napari_tiled_unet._napari.corrections_layer import corrections_info
from napari_tiled_unet._napari.predict_widget import PredictWidget
from napari_tiled_unet._napari.train_inputs import training_inputs
from napari_tiled_unet._napari.train_widget import TrainWidget
from napari_tiled_unet.inference import predict_image
from napari_tiled_unet.training.config import TrainingConfig
from napari_tiled_unet.training.corrections import annotation_from_prediction
from napari_tiled_unet.training.loop import train

TIMEOUT = 120_000
TINY = dict(unet=UNetConfig(depth=3, wf=3, batch_norm=True), patch_size=92, batch_size=4, time_limit=None,
            steps_per_epoch=10, val_fraction=0.0)


def scene(seed: int = 0, shape: tuple[int, int] = (160, 160)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bright and dim round objects on noise: the image, the bright objects' ids, the dim objects' ids."""
    rng = np.random.default_rng(seed)
    yy, xx = np.ogrid[: shape[0], : shape[1]]
    bright, dim = np.zeros(shape, np.int32), np.zeros(shape, np.int32)
    image = rng.normal(10, 3, shape)
    k = 0
    for y in range(14, shape[0] - 10, 26):
        for x in range(14, shape[1] - 10, 26):
            k += 1
            disk = (yy - y - rng.integers(-3, 4)) ** 2 + (xx - x - rng.integers(-3, 4)) ** 2 <= 64
            target = dim if k % 3 == 0 else bright
            target[disk] = k
            image[disk] += 40 if target is dim else 120
    return image.astype(np.float32), bright, dim


@pytest.fixture(scope="module")
def missed_dim():
    """A model trained on masks that missed the dim objects (the annotator did not see them)."""
    image, bright, dim = scene()
    return image, dim, train(image, bright, TrainingConfig(task="instances", epochs=6, **TINY))


def object_score(net, image: np.ndarray, where: np.ndarray) -> float:
    """Mean probability of 'object' over ``where``."""
    probs, _ = predict_image(net, image, output="probabilities")
    return float((1.0 - probs[0])[where].mean())


def test_predict_correct_and_continue_training(make_napari_viewer, qtbot, notes, clean_registry, missed_dim,
                                               wait_checked):
    image, dim, model = missed_dim
    left = np.zeros(image.shape, bool)
    left[:, :80] = True
    before = object_score(model, image, (dim > 0) & left)
    assert before < 0.5, "the model misses the dim objects"
    viewer = make_napari_viewer()
    viewer.add_image(image, name="cells", scale=(0.5, 0.5), translate=(3.0, 4.0))
    clean_registry.add(model, name="missed dim")
    predict = PredictWidget(viewer)
    trainer = TrainWidget(viewer)  # open before the annotation is made: it picks the annotation up
    predict.output.value = "instances"
    assert predict.run()
    qtbot.waitUntil(lambda: not predict.running, timeout=TIMEOUT)
    instances = viewer.layers["cells [instances]"].data.copy()

    layer = predict.make_corrections()
    assert layer is not None and layer.name == "cells [corrections]" and notes.errors == []
    np.testing.assert_array_equal(layer.data, annotation_from_prediction(model, instances, "instances"))
    np.testing.assert_allclose(layer.scale, (0.5, 0.5))
    np.testing.assert_allclose(layer.translate, (3.0, 4.0))
    assert layer.mode == "paint" and layer.selected_label == int(layer.data.max()) + 1
    assert viewer.layers.selection.active is layer and "Continue training" in predict.status.value

    wait_checked(trainer)
    assert trainer.labels_layer.value is layer and trainer.image_layer.value is viewer.layers["cells"]
    assert trainer.model_name == "missed dim" and trainer.continue_button.enabled
    assert (trainer.task.value, trainer.sparse.value, trainer.background.value) == ("instances", True, "painted")
    new_id = int(layer.data.max()) + 1
    for k in np.unique(dim[left & (dim > 0)]):  # paint the missed dim objects of the left half, each a new id
        layer.data_setitem(np.nonzero(dim == k), new_id)
        new_id += 1
    trainer.epochs.value = 6
    trainer.time_limit.value = 0
    for name, value in (("patch_size", 92), ("batch_size", 4), ("steps_per_epoch", 10), ("val_fraction", 0.0)):
        getattr(trainer.advanced, name).value = value
    assert trainer.start(continue_training=True), trainer.status.value
    qtbot.waitUntil(lambda: not trainer.running, timeout=TIMEOUT)
    assert notes.errors == [], notes.errors
    config = trainer.last_outcome.result.metadata["training"]["config"]
    assert (config["task"], config["sparse"], config["sparse_background"]) == ("instances", True, "painted")
    assert clean_registry.names() == ["missed dim"] and clean_registry.get("missed dim") is trainer.model
    after = object_score(trainer.model, image, (dim > 0) & left)
    assert after > before + 0.25, f"the corrected objects are still missed: {before:.2f} -> {after:.2f}"


def test_only_the_edited_planes_of_a_stack_count(make_napari_viewer, qtbot, notes, instance_model, clean_registry,
                                                 sample):
    viewer = make_napari_viewer()
    crop = sample["image"][:64, :64]
    viewer.add_image(np.stack([crop, crop, crop]), name="stack")
    clean_registry.add(instance_model, name="nuclei")
    predict = PredictWidget(viewer)
    predict.output.value = "instances"
    assert predict.run()
    qtbot.waitUntil(lambda: not predict.running, timeout=TIMEOUT)
    layer = predict.make_corrections()
    info = corrections_info(layer)
    assert info.n_loop == 1 and info.model_name == "nuclei" and info.source_name == "stack"
    trainer = TrainWidget(viewer)
    assert trainer.labels_layer.value is layer
    layer.data_setitem((np.array([1, 1]), np.array([5, 6]), np.array([5, 5])), int(layer.data.max()) + 1)
    pairs = trainer.training_pairs()
    kept = training_inputs(pairs, 2, continuing=True).labels[0]
    assert kept[1].any() and not kept[0].any() and not kept[2].any()
    assert training_inputs(pairs, 2, continuing=False).labels[0][0].any()  # a new model learns from all of it
    assert "only the planes you edit count" in trainer.continue_button.tooltip


def test_corrections_need_a_result_of_the_right_kind(make_napari_viewer, qtbot, notes, tiny_model, clean_registry):
    viewer = make_napari_viewer()
    viewer.open_sample("napari-tiled-unet", "nuclei_2d")
    clean_registry.add(tiny_model, name="scribbles")
    predict = PredictWidget(viewer)
    assert predict.make_corrections() is None and "predict first" in notes.errors[-1]
    predict.output.value = "instances"
    assert predict.run()
    qtbot.waitUntil(lambda: not predict.running, timeout=TIMEOUT)
    assert predict.make_corrections() is None and "predict labels first" in notes.errors[-1]
    predict.output.value = "labels"
    assert predict.run()
    qtbot.waitUntil(lambda: not predict.running, timeout=TIMEOUT)
    layer = predict.make_corrections()
    assert layer is not None and set(np.unique(layer.data)) <= {1, 2}  # the scribble model's own label values
    assert corrections_info(layer).settings == {"task": "semantic", "sparse": True}
