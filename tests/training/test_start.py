import dataclasses

import pytest

from napari_tiled_unet import builtin_models
from napari_tiled_unet.training.config import TrainingConfig
from napari_tiled_unet.training.start import proposed_start


@pytest.fixture
def shipped(monkeypatch):
    monkeypatch.setattr("napari_tiled_unet.training.start.builtin_model_names", lambda: ["nuclei"])


def test_nuclei_instances_start_from_the_shipped_model(shipped):
    config = TrainingConfig(task="instances")
    assert proposed_start(config, 1) == "builtin:nuclei"
    trained_shape = config.replace(unet=dataclasses.replace(config.unet, in_channels=1, n_classes=4))
    assert proposed_start(trained_shape, 1) == "builtin:nuclei"


@pytest.mark.parametrize("config, channels", [
    (TrainingConfig(task="semantic"), 1),
    (TrainingConfig(task="instances"), 3),
    (TrainingConfig(task="instances", instance_head="classes"), 1),
    (TrainingConfig.defaults(3, task="instances"), 1),
    (TrainingConfig(task="instances").replace(unet=dataclasses.replace(TrainingConfig().unet, wf=5)), 1),
])
def test_other_trainings_start_from_a_new_network(shipped, config, channels):
    assert proposed_start(config, channels) is None


def test_nothing_shipped_nothing_proposed(monkeypatch):
    monkeypatch.setattr(builtin_models, "models_folder", lambda: builtin_models.Path("/nonexistent"))
    monkeypatch.setattr("napari_tiled_unet.training.start.builtin_model_names", builtin_models.builtin_model_names)
    assert proposed_start(TrainingConfig(task="instances"), 1) is None


def test_3d_nuclei_instances_start_from_the_shipped_3d_model(monkeypatch):
    monkeypatch.setattr("napari_tiled_unet.training.start.builtin_model_names", lambda: ["nuclei", "nuclei3d"])
    config = TrainingConfig.defaults(3, task="instances", voxel_size=(2.0, 0.5, 0.5))
    assert proposed_start(config, 1) == "builtin:nuclei3d"
    assert proposed_start(TrainingConfig(task="instances"), 1) == "builtin:nuclei"
    chosen_pooling = config.replace(unet=dataclasses.replace(config.unet, pooling=((1, 2, 2), (1, 2, 2))))
    assert proposed_start(chosen_pooling, 1) is None, "an architecture chosen by hand trains a new network"
