import numpy as np
import pytest
from unet_helpers import make_net

from napari_tiled_unet.postprocess import InstanceSettings
from napari_tiled_unet.training.config import TrainingConfig
from napari_tiled_unet.training.data import prepare_training_data
from napari_tiled_unet.training.validation import score_of, validate, validation_items


def squares(shape=(120, 96), seed=0, n=14):
    rng = np.random.default_rng(seed)
    labels = np.zeros(shape, np.int32)
    for i in range(1, n + 1):
        y, x = rng.integers(6, shape[0] - 6), rng.integers(6, shape[1] - 6)
        labels[y - 4: y + 4, x - 4: x + 4] = i
    image = (labels > 0) * 200.0 + rng.normal(10, 5, shape)
    return image.astype(np.float32), labels


def test_score_of_uses_the_score_that_can_tell_models_apart():
    metrics = {"instance_f1": 0.8, "foreground_iou": 0.9}
    assert score_of("instances", False, 0.3, metrics, 0.5) == pytest.approx(0.8 + 0.9e-3)
    assert score_of("semantic", True, 0.3, {"foreground_iou": 1.0}, 0.5) == -0.3  # scribbles: held-out loss
    assert score_of("semantic", False, 0.3, {"foreground_iou": 0.7}, 0.5) == pytest.approx(0.7 - 0.3e-3)
    assert score_of("instances", False, None, {}, 0.5) == -0.5  # no validation: the training loss


@pytest.mark.parametrize("task", ["instances", "semantic"])
def test_validate_scores_the_held_back_blocks(task):
    image, labels = squares()
    config = TrainingConfig(task=task, val_fraction=0.3, epochs=1, time_limit=None)
    data = prepare_training_data(image, labels if task == "instances" else (labels > 0).astype(int), config)
    assert data.has_validation and len(validation_items(data, None)) == 1
    n_outputs = data.encoding.n_outputs
    net = make_net(depth=2, wf=2, n_classes=n_outputs).train()
    result = validate(net, data, task)
    assert not net.training, "validation runs the net in eval mode"
    assert np.isfinite(result.loss) and 0.0 <= result.metrics["foreground_iou"] <= 1.0
    if task == "instances":
        assert 0 < data.validation_objects < 14
        assert 0.0 <= result.metrics["instance_f1"] <= 1.0 and isinstance(result.settings, InstanceSettings)
    else:
        assert data.validation_objects == 0
        assert "instance_f1" not in result.metrics and result.settings is None


def test_every_epoch_scores_at_most_a_budget_of_held_back_pixels():
    images = [np.random.default_rng(i).random((60, 60)).astype(np.float32) for i in range(10)]
    labels = [(img > 0.5).astype(int) for img in images]
    data = prepare_training_data(images, labels, TrainingConfig(val_fraction=0.2))
    every = validation_items(data, None)
    assert len(every) == 10
    budget = sum(item.val_targets.size for item in every) // 3
    subset = validation_items(data, budget)
    assert 1 <= len(subset) <= 4 and subset[0] is every[0] and subset[-1] is every[-1]
