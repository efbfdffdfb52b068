"""Models and training events described in the user's words; the class names field."""

from __future__ import annotations

import pytest

from napari_tiled_unet._napari.model_text import held_out_words, metric_name, metrics_in_words
from napari_tiled_unet._napari.train_form import parse_class_names
from napari_tiled_unet._napari.training_text import epoch_text, finished_text, step_text
from napari_tiled_unet.training.events import EpochEvent, StepEvent


def test_metrics_are_named_for_what_they_measure():
    assert metric_name("instance_f1") == "instance F1" and metric_name("foreground_iou") == "foreground IoU"
    assert metrics_in_words({"foreground_iou": 1.0}, sparse=True) == "held-out scribbles: foreground IoU 1.000"
    assert (metrics_in_words({"foreground_iou": 0.88, "instance_f1": 0.912}, sparse=False)
            == "held-out region: instance F1 0.912, foreground IoU 0.880")
    assert metrics_in_words({}, sparse=False) == "" and held_out_words(False) == "held-out region"
    assert (metrics_in_words({"instance_f1": 0.5}, sparse=True, task="instances")
            == "held-out painted objects: instance F1 0.500")
    assert (metrics_in_words({"foreground_iou": 0.9}, sparse=True, task="instances", strokes=True)
            == "held-out scribbles: foreground IoU 0.900")  # an instance model learnt from scribbles


def test_an_instance_model_from_scribbles_says_so(instance_model):
    import copy

    from napari_tiled_unet._napari.model_text import describe_model

    net = copy.deepcopy(instance_model)
    net.metadata = {**net.metadata, "sparse": True,
                    "training": {**net.metadata["training"], "objects_from_strokes": True,
                                 "best_metrics": {"foreground_iou": 0.93}}}
    text = describe_model(net)
    assert "task: instances, from scribbles (its start model's objects the strokes pass through)" in text
    assert "held-out scribbles: foreground IoU 0.930" in text


def test_training_events_in_words():
    step = StepEvent(step=3, epoch=1, loss=0.5, learning_rate=1e-3, elapsed=2.2, progress=0.1)
    assert step_text(step, step_offset=40) == "epoch 1, step 43: loss 0.5000, 2 s"
    epoch = EpochEvent(epoch=2, step=40, train_loss=0.3, val_loss=0.4, metrics={"instance_f1": 0.9}, score=0.9,
                       best=True, elapsed=10.0, progress=0.5)
    assert epoch_text(epoch, sparse=False) == ("epoch 2: train loss 0.3000, held-out loss 0.4000; held-out region: "
                                               "instance F1 0.900 (best so far)")
    summary = {"steps": 40, "epochs": 2, "seconds": 10.0, "best_epoch": 2, "best_metrics": {"foreground_iou": 1.0}}
    assert finished_text(summary, cancelled=True, sparse=True).startswith(
        "cancelled: 40 steps, 10.0 s; best epoch 2 of 2")
    assert finished_text(summary, cancelled=False, sparse=True).endswith("held-out scribbles: foreground IoU 1.000")


def test_class_names_field():
    assert parse_class_names("") == ()
    assert parse_class_names("2: nucleus, 3 = membrane; 4:  outer wall ") == ((2, "nucleus"), (3, "membrane"),
                                                                               (4, "outer wall"))
    for bad in ("nucleus", "2 nucleus", "x: nucleus", "2:"):
        with pytest.raises(ValueError, match=r"class names: .* is not 'label value: name'"):
            parse_class_names(bad)


def test_anisotropic_models_show_margins_pooling_and_kernels_per_axis():
    from napari_tiled_unet import UNet, UNetConfig
    from napari_tiled_unet._napari.model_text import describe_model

    net = UNet(UNetConfig(dims=3, depth=3, wf=1, pooling=((1, 2, 2), (2, 2, 2)), kernels=((1, 3, 3), (3, 3, 3),
                                                                                            (3, 3, 3))))
    net.metadata.update({"task": "instances", "voxel_size": [2.0, 0.5, 0.5],
                         "channels": {"names": ["DAPI"]}})
    text = describe_model(net)
    margins = "/".join(map(str, net.config.margins))
    assert f"margins {margins} px (Z/Y/X)" in text and "pooling 1×2×2, 2×2×2" in text
    assert "kernels 1×3×3, 3×3×3, 3×3×3" in text
    assert "1 input channel (DAPI)" in text and "trained on 2×0.5×0.5 µm voxels" in text
    flat = UNet(UNetConfig(depth=3, wf=1))
    assert f"margin {flat.config.margin} px" in describe_model(flat)
