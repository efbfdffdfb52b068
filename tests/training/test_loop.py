import dataclasses
import threading

import numpy as np
import pytest
import torch

from napari_tiled_unet import UNetConfig, load_model, save_model
from napari_tiled_unet.inference import predict_image
from napari_tiled_unet.postprocess import DEFAULT_SPLIT_DEPTH
from napari_tiled_unet.training.config import TrainingConfig
from napari_tiled_unet.training.events import EpochEvent, FinishedEvent, StepEvent
from napari_tiled_unet.training.loop import TrainingFailed, learning_rate_factor, train

TINY = UNetConfig(depth=2, wf=2, batch_norm=True)


def blobs(shape=(96, 96), seed=0, n=10):
    rng = np.random.default_rng(seed)
    labels = np.zeros(shape, np.int32)
    for i in range(1, n + 1):
        y, x = rng.integers(6, shape[0] - 6), rng.integers(6, shape[1] - 6)
        yy, xx = np.ogrid[: shape[0], : shape[1]]
        labels[(yy - y) ** 2 + (xx - x) ** 2 < 25] = i
    image = ((labels > 0) * 400 + rng.poisson(50, shape)).astype(np.uint16)
    return image, labels


def tiny_config(**changes):
    base = dict(unet=TINY, patch_size=48, batch_size=2, epochs=2, time_limit=None, steps_per_epoch=3, seed=1,
                device="cpu")
    base.update(changes)
    return TrainingConfig(**base)


def test_semantic_training_learns_and_reports_events():
    image, labels = blobs()
    events = []
    config = tiny_config(epochs=6, steps_per_epoch=8, learning_rate=1e-2)
    net = train(image, (labels > 0).astype(np.uint8), config, callback=events.append)
    steps = [e for e in events if isinstance(e, StepEvent)]
    epochs = [e for e in events if isinstance(e, EpochEvent)]
    assert len(steps) == 48 and len(epochs) == 6 and isinstance(events[-1], FinishedEvent)
    assert steps[-1].progress == pytest.approx(1.0) and all(0 < s.learning_rate for s in steps)
    assert "foreground_iou" in epochs[-1].metrics and epochs[-1].val_loss is not None
    assert np.mean([s.loss for s in steps[-8:]]) < np.mean([s.loss for s in steps[:8]])
    meta = net.metadata
    assert meta["task"] == "semantic" and meta["label_values"] == [0, 1] and meta["normalization"]
    kept = [e for e in epochs if e.best][-1]
    assert meta["training"]["best_epoch"] == kept.epoch
    # the kept epoch has the best score averaged over its last 3 epochs (ties within 0.01: the later one)
    smoothed = [np.mean([e.score for e in epochs[max(0, i - 2): i + 1]]) for i in range(len(epochs))]
    assert smoothed[kept.epoch - 1] >= max(smoothed) - 0.01
    assert not net.training
    predicted, axes = predict_image(net, image)
    assert axes == "YX" and predicted.shape == image.shape and predicted.dtype == np.uint8
    assert set(np.unique(predicted)) <= {0, 1}


def test_same_seed_same_weights_on_cpu():
    image, labels = blobs()
    a = train(image, labels, tiny_config(task="instances"))
    b = train(image, labels, tiny_config(task="instances"))
    for (name, ta), tb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(ta, tb), name
    c = train(image, labels, tiny_config(task="instances", seed=2))
    assert not torch.equal(a.last.weight, c.last.weight)


def test_instances_task_predicts_separate_objects():
    image, labels = blobs()
    net = train(image, labels, tiny_config(task="instances"))
    assert net.config.n_classes == 4 and net.metadata["class_names"] == ["background", "interior", "boundary"]
    assert net.metadata["regression"] == ["centre distance"]
    assert set(net.metadata["postprocess"]) == {"seed_threshold", "foreground_threshold", "min_size", "split_depth"}
    linked = net.metadata["postprocess_linked_planes"]
    assert linked["split_depth"] == 0.0, "tuned for the planes of linked Z stacks: seeds never cut"
    instances, _ = predict_image(net, image, output="instances")
    assert instances.dtype.kind == "u"
    classes_only = train(image, labels, tiny_config(task="instances", instance_head="classes"))
    assert classes_only.config.n_classes == 3 and "regression" not in classes_only.metadata
    assert "postprocess_linked_planes" not in classes_only.metadata, "no centre distance: no seeds to cut"
    assert predict_image(classes_only, image, output="instances")[0].dtype.kind == "u"


def test_sparse_labels_predict_the_painted_values():
    image, labels = blobs()
    scribbles = np.zeros_like(labels)
    scribbles[labels > 0] = 2
    scribbles[::7, ::7] = np.where(labels[::7, ::7] == 0, 1, scribbles[::7, ::7])
    scribbles[labels == 0] = np.where(np.random.default_rng(0).random((labels == 0).sum()) < 0.2, 1, 0)
    net = train(image, scribbles, tiny_config(sparse=True))
    assert net.metadata["label_values"] == [1, 2] and net.metadata["sparse"] is True
    predicted, _ = predict_image(net, image)
    assert set(np.unique(predicted)) <= {1, 2}


def test_cancel_stops_within_one_step_and_returns_a_model():
    image, labels = blobs()
    cancel = threading.Event()
    steps = []

    def callback(event):
        if isinstance(event, StepEvent):
            steps.append(event)
            if event.step == 2:
                cancel.set()

    net = train(image, labels, tiny_config(epochs=50), callback=callback, cancel=cancel)
    assert len(steps) == 2
    assert net.metadata["training"]["stopped_by"] == "cancelled"


def test_time_limit_stops_training():
    image, labels = blobs()
    net = train(image, labels, tiny_config(epochs=None, time_limit=1.5, steps_per_epoch=2))
    summary = net.metadata["training"]
    assert summary["stopped_by"] == "time limit" and summary["seconds"] < 6


def test_checkpoint_keeps_the_best_model_and_is_written_atomically(tmp_path):
    image, labels = blobs()
    path = tmp_path / "best.safetensors"
    net = train(image, labels, tiny_config(), checkpoint=path)
    saved = load_model(path)
    assert saved.metadata["training"]["best_epoch"] == net.metadata["training"]["best_epoch"]
    for a, b in zip(saved.state_dict().values(), net.state_dict().values()):
        assert torch.equal(a, b.cpu())
    assert [p.name for p in tmp_path.iterdir()] == ["best.safetensors"]


def test_error_during_training_keeps_best_model(tmp_path):
    image, labels = blobs()
    path = tmp_path / "best.safetensors"

    def explode(event):
        if isinstance(event, StepEvent) and event.step == 5:
            raise RuntimeError("simulated out of memory")

    with pytest.raises(TrainingFailed, match="simulated out of memory") as info:
        train(image, labels, tiny_config(epochs=3), callback=explode, checkpoint=path)
    assert info.value.best_model is not None
    assert load_model(path).metadata["training"]["best_epoch"] == 1


def test_fine_tuning_continues_from_a_model(tmp_path):
    image, labels = blobs()
    first = train(image, labels, tiny_config(task="instances"))
    events = []
    config = tiny_config(task="instances", epochs=1, learning_rate=5e-3, fine_tune_learning_rate=4e-4)
    second = train(image, labels, config, init_model=first, callback=events.append)
    assert second.config == first.config
    # a model to start from trains at the lower fine-tuning rate; a new network at the learning rate
    rates = [e.learning_rate for e in events if isinstance(e, StepEvent)]
    assert 1e-4 < max(rates) <= 4e-4 and second.metadata["training"]["peak_learning_rate"] == 4e-4
    assert first.metadata["training"]["peak_learning_rate"] == tiny_config().learning_rate


def test_fine_tuning_with_few_validation_objects_keeps_the_start_models_settings():
    image, labels = blobs()
    first = train(image, labels, tiny_config(task="instances"))
    start = {"seed_threshold": 0.65, "foreground_threshold": 0.45, "min_size": 7}
    first.metadata["postprocess"] = dict(start)
    first.metadata["postprocess_linked_planes"] = {**start, "split_depth": 0.0}
    second = train(image, labels, tiny_config(task="instances", epochs=2), init_model=first)
    summary = second.metadata["training"]
    assert 0 < summary["validation_objects"] < 20, "blobs' validation block holds a handful of objects"
    assert summary["selection"] == "final" and "too few" in summary["selection_reason"]
    assert summary["best_epoch"] == 2
    assert second.metadata["postprocess"] == {**start, "split_depth": DEFAULT_SPLIT_DEPTH}
    assert second.metadata["postprocess_linked_planes"] == {**start, "split_depth": 0.0}, "kept as well"
    new = train(image, labels, tiny_config(task="instances", epochs=2))
    assert new.metadata["postprocess"] != start, "a new network tunes its own settings"
    with pytest.raises(ValueError, match="task"):
        train(image, (labels > 0).astype(int), tiny_config(task="semantic"), init_model=first)


@pytest.mark.parametrize(
    ("image", "labels", "needle"),
    [
        (np.zeros((40, 40)), np.zeros((40, 40), int), "only the value 0"),
        (np.zeros((40, 40)), np.zeros((41, 40), int), "same pixels"),
        (np.full((40, 40), np.nan), np.eye(40, dtype=int), "NaN"),
        (np.zeros((40, 40)), np.eye(40) * 0.5, "fractions"),
    ],
)
def test_bad_input_fails_before_training(image, labels, needle, tmp_path):
    with pytest.raises(ValueError, match=needle):
        train(image, labels, tiny_config(), checkpoint=tmp_path / "m.safetensors")
    assert list(tmp_path.iterdir()) == []


def test_3d_training_runs():
    rng = np.random.default_rng(0)
    labels = np.zeros((24, 40, 40), np.int32)
    labels[6:14, 8:20, 8:20] = 1
    labels[10:18, 22:34, 20:32] = 2
    image = (labels > 0) * 100.0 + rng.normal(0, 5, labels.shape)
    config = tiny_config(task="instances", unet=UNetConfig(depth=2, wf=1, dims=3), patch_size=36, epochs=1)
    net = train(image, labels, config)
    assert net.config.dims == 3
    instances, axes = predict_image(net, image, output="instances")
    assert axes == "ZYX" and instances.shape == labels.shape


def anisotropic_stack(seed=0):
    rng = np.random.default_rng(seed)
    labels = np.zeros((10, 48, 48), np.int32)
    labels[2:7, 8:22, 8:22] = 1
    labels[3:8, 24:38, 20:34] = 2
    image = (labels > 0) * 100.0 + rng.normal(0, 5, labels.shape)
    return image, labels


def test_anisotropic_voxels_plan_the_3d_net_and_its_patches(tmp_path):
    image, labels = anisotropic_stack()
    config = tiny_config(task="instances", unet=UNetConfig(depth=2, wf=1, dims=3), patch_size=36, epochs=1,
                         voxel_size=(1.5, 0.5, 0.5))
    net = train(image, labels, config)
    assert net.config.pooling == ((1, 2, 2),) and net.config.kernels == ((1, 3, 3), (3, 3, 3))
    summary = net.metadata["training"]
    patch = summary["patch_shape"]
    assert patch[0] < patch[1] and net.config.is_valid_shape(patch)  # fewer planes, more pixels per plane
    assert summary["config"]["anisotropy"] == "auto" and summary["config"]["unet"]["pooling"] == [[1, 2, 2]]
    assert net.metadata["voxel_size"] == [1.5, 0.5, 0.5]
    path = tmp_path / "aniso.safetensors"
    save_model(net, path)
    loaded = load_model(path)
    assert loaded.config == net.config
    instances, axes = predict_image(loaded, image, output="instances")
    assert axes == "ZYX" and instances.shape == labels.shape


@pytest.mark.parametrize("changes", [{"anisotropy": "isotropic"}, {"voxel_size": (0.5, 0.5, 0.5)}, {"voxel_size": None},
                                     {"unet": UNetConfig(depth=2, wf=1, dims=3, pooling=((2, 2, 2),),
                                                         kernels=((1, 3, 3), (3, 3, 3)))}])
def test_no_plan_without_anisotropic_voxels_or_against_the_users_choice(changes):
    image, labels = anisotropic_stack()
    base = dict(task="instances", unet=UNetConfig(depth=2, wf=1, dims=3), patch_size=36, epochs=1, steps_per_epoch=1,
                voxel_size=(1.5, 0.5, 0.5))
    config = tiny_config(**{**base, **changes})
    net = train(image, labels, config)
    expected = dataclasses.replace(config.unet, in_channels=1, n_classes=4)
    assert net.config == expected


def test_a_2d_voxel_size_for_a_3d_model_fails_before_training():
    image, labels = anisotropic_stack()
    config = tiny_config(task="instances", unet=UNetConfig(depth=2, wf=1, dims=3), patch_size=36,
                         voxel_size=(0.5, 0.5))
    with pytest.raises(ValueError, match=r"voxel_size=\(0.5, 0.5\) has 2 sizes but the model is 3D"):
        train(image, labels, config)


def test_learning_rate_schedule():
    assert learning_rate_factor(0.0, "cosine") == pytest.approx(0.1)
    assert learning_rate_factor(0.05, "cosine") == pytest.approx(1.0)
    assert learning_rate_factor(1.0, "cosine") == pytest.approx(0.05)
    assert learning_rate_factor(0.7, "constant") == 1.0


def test_training_config_validation_and_round_trip():
    config = TrainingConfig(task="instances", epochs=3)
    assert TrainingConfig.from_dict(config.to_dict()) == config
    aniso = TrainingConfig(voxel_size=(1.5, 0.5, 0.5), anisotropy="isotropic")
    assert TrainingConfig.from_dict(aniso.to_dict()) == aniso
    assert TrainingConfig().anisotropy == "auto"
    for bad, needle in [(dict(task="x"), "task"), (dict(epochs=None, time_limit=None), "set epochs"),
                        (dict(val_fraction=0.9), "val_fraction"),
                        (dict(task="instances", sparse_background="x"), "sparse_background"),
                        (dict(device="tpu"), "device"), (dict(batch_size=0), "batch_size"),
                        (dict(anisotropy="per-axis"), "anisotropy='per-axis' is unknown: use one of auto, isotropic")]:
        with pytest.raises(ValueError, match=needle):
            TrainingConfig(**bad)
