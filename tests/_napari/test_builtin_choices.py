"""Built-in models in the widgets: listed for prediction, proposed to start training from for data like theirs."""

from __future__ import annotations

import pytest

from napari_tiled_unet import builtin_models, save_model
from napari_tiled_unet._napari import builtin_choices
from napari_tiled_unet._napari.predict_widget import PredictWidget
from napari_tiled_unet._napari.train_widget import TrainWidget

TIMEOUT = 60_000


@pytest.fixture
def shipped(tmp_path, monkeypatch, instance_model):
    """A models folder holding one small 2D instance model with a card, as 'builtin:nuclei'."""
    folder = tmp_path / "models"
    folder.mkdir()
    save_model(instance_model, folder / "nuclei.safetensors")
    (folder / "nuclei.md").write_text("# Nuclei\n\nFluorescent nuclei, 2D. A tiny test model.\n")
    monkeypatch.setattr(builtin_models, "models_folder", lambda: folder)
    builtin_choices.forget_loaded()
    yield folder
    builtin_choices.forget_loaded()


def test_nothing_shipped_shows_nothing(viewer, tmp_path, monkeypatch):
    monkeypatch.setattr(builtin_models, "models_folder", lambda: tmp_path / "absent")
    assert not TrainWidget(viewer).fields.has_builtins
    assert not [c for c in PredictWidget(viewer).model.choices if str(c).startswith("builtin:")]


def test_a_builtin_model_predicts(shipped, viewer, qtbot, notes, clean_registry):
    widget = PredictWidget(viewer)
    assert widget.model.choices == ("builtin:nuclei",)
    assert widget.model.value == "builtin:nuclei" and "task: instances" in widget.model_info.value
    widget.output.value = "instances"
    assert widget.run()
    qtbot.waitUntil(lambda: not widget.running, timeout=TIMEOUT)
    assert notes.errors == [] and viewer.layers["nuclei 2D [instances]"].data.max() > 0
    assert len(clean_registry) == 0  # listed, not copied into the session's models


def test_training_starts_from_the_builtin_model_for_nuclei_like_data(shipped, viewer, qtbot, notes, make_tiny,
                                                                     wait_checked, instance_model):
    widget = TrainWidget(viewer)
    make_tiny(widget, new_model=False)
    widget.advanced.depth.value = 3  # the built-in model's own architecture is kept
    assert widget.fields.has_builtins and "builtin:nuclei" in widget.start_from.choices
    assert "Fluorescent nuclei" in widget.start_from.tooltip
    wait_checked(widget)
    assert widget.start_from.value == ""  # scribbles the (tiny) shipped model does not fit: semantic
    widget.labels_layer.value = viewer.layers["nuclei 2D ground truth"]
    wait_checked(widget)
    assert widget.task.value == "instances" and widget.start_from.value == "builtin:nuclei"  # proposed
    assert widget.start()
    assert "from builtin:nuclei" in widget.status.value
    qtbot.waitUntil(lambda: not widget.running, timeout=TIMEOUT)
    assert notes.errors == [], notes.errors
    assert widget.model.config == instance_model.config and widget.model is not instance_model
    widget.start_from.value = ""  # by hand: no longer proposed
    widget.labels_layer.value = viewer.layers["nuclei 2D scribbles"]
    widget.labels_layer.value = viewer.layers["nuclei 2D ground truth"]
    wait_checked(widget)
    assert widget.start_from.value == ""


def test_3d_instance_training_is_proposed_the_3d_builtin_model(shipped, viewer, wait_checked, instance_model):
    from napari_tiled_unet import UNet, UNetConfig
    from napari_tiled_unet.samples import SCALE_3D, load_nuclei_3d

    stack_model = UNet(UNetConfig(dims=3, depth=2, wf=1, n_classes=4, pooling=((1, 2, 2),)))
    save_model(stack_model, shipped / "nuclei3d.safetensors", metadata={"task": "instances"})
    sample = load_nuclei_3d()
    viewer.add_image(sample["image"][:20, :64, :64], name="stack", scale=SCALE_3D)
    viewer.add_labels(sample["labels"][:20, :64, :64], name="stack masks", scale=SCALE_3D)
    widget = TrainWidget(viewer)
    assert "builtin:nuclei3d" in widget.start_from.choices
    widget.image_layer.value = viewer.layers["stack"]
    widget.labels_layer.value = viewer.layers["stack masks"]
    widget.advanced.dims.value = 3
    wait_checked(widget)
    assert widget.task.value == "instances" and widget.start_from.value == "builtin:nuclei3d"
    widget.advanced.dims.value = 2
    wait_checked(widget)
    assert widget.start_from.value == "builtin:nuclei"  # the planes of the stack: the 2D model


def test_test_time_augmentation_is_ticked_where_the_model_recommends_it(shipped, viewer, instance_model,
                                                                        clean_registry):
    import numpy as np

    recommending = instance_model.__class__(instance_model.config)
    recommending.load_state_dict(instance_model.state_dict())
    save_model(recommending, shipped / "nuclei.safetensors", metadata={**instance_model.metadata,
                                                                          "prediction": {"tta": True}})
    builtin_choices.forget_loaded()
    widget = PredictWidget(viewer)
    assert widget.model.value == "builtin:nuclei" and widget.tta.value  # one 2D image: ticked
    viewer.add_image(np.zeros((3, 64, 64), np.float32), name="stack")
    widget.image_layer.value = viewer.layers["stack"]
    assert not widget.tta.value  # a stack would cost 8x per plane: not proposed
    widget.image_layer.value = viewer.layers["nuclei 2D"]
    assert widget.tta.value
    widget.tta.value = False  # the user's choice stays
    widget.image_layer.value = viewer.layers["stack"]
    widget.image_layer.value = viewer.layers["nuclei 2D"]
    assert not widget.tta.value
