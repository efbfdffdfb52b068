"""Channel axes and channel layers: proposed from the layer, stored in the model, proposed again for prediction."""

from __future__ import annotations

import numpy as np
import pytest

from napari_tiled_unet._napari.channels import (
    AXIS,
    LAYERS,
    NONE,
    RGB,
    ChannelChoice,
    channel_axis_choices,
    channel_names,
    layers_named,
    propose_channels,
    stacked_channels,
)
from napari_tiled_unet._napari.predict_widget import PredictWidget
from napari_tiled_unet._napari.train_widget import TrainWidget

TIMEOUT = 60_000


@pytest.mark.parametrize(
    ("shape", "rgb", "labels", "in_channels", "expected"),
    [
        ((3, 395, 695), False, None, None, ChannelChoice(AXIS, 0)),  # bbbc022_3channel.tif opens like this
        ((3, 395, 695), False, None, 1, ChannelChoice(NONE)),  # a one-channel model reads it as 3 Z planes
        ((3, 395, 695), False, None, 3, ChannelChoice(AXIS, 0)),
        ((30, 395, 695), False, None, None, ChannelChoice(NONE)),  # a Z stack
        ((10, 2, 64, 64), False, ("z", "c", "y", "x"), None, ChannelChoice(AXIS, 1)),
        ((10, 2, 64, 64), False, None, 2, ChannelChoice(AXIS, 1)),
        ((64, 64, 3), True, None, None, ChannelChoice(RGB)),
        ((64, 64), False, None, None, ChannelChoice(NONE)),
    ],
)
def test_proposals(shape, rgb, labels, in_channels, expected):
    assert propose_channels(shape, rgb, labels, in_channels) == expected


def test_choices_names_and_stacking():
    assert channel_axis_choices((3, 64, 64), False) == [("none (one channel)", NONE), ("axis 0 (size 3)", 0),
                                                        ("several layers (pick below)", LAYERS)]
    assert [v for _t, v in channel_axis_choices((64, 64, 3), True)] == [NONE, RGB, LAYERS]
    assert channel_names(ChannelChoice(AXIS, 0), (3, 8, 8)) == ("channel 0", "channel 1", "channel 2")
    assert channel_names(ChannelChoice(RGB), (8, 8, 3)) == ("red", "green", "blue")

    class Layer:
        def __init__(self, name):
            self.name = name

    a, b = Layer("DAPI"), Layer("actin")
    assert channel_names(ChannelChoice(LAYERS, layers=(b, a)), (8, 8)) == ("actin", "DAPI")
    assert layers_named(["actin", "DAPI"], [a, b]) == (b, a) and layers_named(["x", "DAPI"], [a, b]) is None
    assert stacked_channels([np.zeros((4, 5)), np.ones((4, 5))]).shape == (2, 4, 5)
    with pytest.raises(ValueError, match="different shapes"):
        stacked_channels([np.zeros((4, 5)), np.ones((4, 6))])


def three_channels(sample) -> np.ndarray:
    """A (3, H, W) stain image: nuclei in channel 1, a dim copy in channel 0, noise in channel 2."""
    image = sample["image"][:128, :128].astype(np.float32)
    noise = np.random.default_rng(0).normal(100, 10, image.shape).astype(np.float32)
    return np.stack([0.3 * image + noise, image, noise])


def run_training(train: TrainWidget, qtbot, notes) -> None:
    assert train.start(), train.status.value
    qtbot.waitUntil(lambda: not train.running, timeout=TIMEOUT)
    assert notes.errors == [], notes.errors


def run_prediction(predict: PredictWidget, qtbot, notes) -> None:
    assert predict.run(), predict.status.value
    qtbot.waitUntil(lambda: not predict.running, timeout=TIMEOUT)
    assert notes.errors == [], notes.errors


def test_a_three_channel_layer_trains_and_predicts_from_the_widgets(make_napari_viewer, qtbot, notes, sample,
                                                                    make_tiny, wait_checked):
    viewer = make_napari_viewer()
    viewer.add_image(three_channels(sample), name="cell painting", scale=(1.0, 0.65, 0.65))
    viewer.add_labels(sample["scribbles"][:128, :128], name="strokes", scale=(0.65, 0.65))
    train = TrainWidget(viewer)
    make_tiny(train)
    train.advanced.val_fraction.value = 0.0
    assert train.channels.value() == ChannelChoice(AXIS, 0)  # proposed: a leading axis of 3
    wait_checked(train)
    assert train.sparse.value and "contradiction" not in train.label_check.text.value
    run_training(train, qtbot, notes)
    net = train.model
    assert net.config.in_channels == 3
    assert "3 input channels (channel 0, channel 1, channel 2)" in train.model_label.value
    assert net.metadata["channels"]["names"] == ["channel 0", "channel 1", "channel 2"]
    assert net.metadata["voxel_size"] == [0.65, 0.65]
    predict = PredictWidget(viewer)
    assert predict.image_layer.value is viewer.layers["cell painting"]
    assert predict.channels.value() == ChannelChoice(AXIS, 0)  # proposed again from the model
    run_prediction(predict, qtbot, notes)
    layer = viewer.layers["cell painting [labels]"]
    assert layer.data.shape == (128, 128)
    np.testing.assert_allclose(layer.scale, (0.65, 0.65))
    predict.channels.set_value(ChannelChoice(NONE), by_hand=True)
    assert "no channel axis" in predict.tile_info.value and "channels" in predict.tile_info.value
    assert not predict.run() and "choose the axis of size 3 under 'channels'" in notes.errors[-1]


def test_single_channel_layers_as_the_channels_of_one_input(make_napari_viewer, qtbot, notes, sample, make_tiny,
                                                            wait_checked):
    viewer = make_napari_viewer()
    stains = three_channels(sample)
    for name, plane in zip(("dim", "nuclei", "noise"), stains):
        viewer.add_image(plane, name=name, translate=(10.0, 20.0))
    viewer.add_labels(sample["scribbles"][:128, :128], name="strokes", translate=(10.0, 20.0))
    train = TrainWidget(viewer)
    make_tiny(train)
    train.advanced.val_fraction.value = 0.0
    train.channels.mode.value = LAYERS
    assert train.channels.layers.native.isVisibleTo(train.native)
    for picked in (["nuclei"], ["nuclei", "dim"]):  # ticked one after the other: nuclei first
        train.channels.layers.value = [viewer.layers[name] for name in picked]
    assert [layer.name for layer in train.channels.value().layers] == ["nuclei", "dim"]
    wait_checked(train)
    run_training(train, qtbot, notes)
    assert train.model.metadata["channels"]["names"] == ["nuclei", "dim"]
    predict = PredictWidget(viewer)
    choice = predict.channels.value()
    assert choice.mode == LAYERS and [layer.name for layer in choice.layers] == ["nuclei", "dim"]
    run_prediction(predict, qtbot, notes)
    layer = viewer.layers["nuclei [labels]"]  # placed over the first channel layer
    assert layer.data.shape == (128, 128)
    np.testing.assert_allclose(layer.translate, (10.0, 20.0))


def test_a_docked_widget_keeps_the_proposed_channel_axis(make_napari_viewer, sample):
    """napari resets the choices of a docked widget on every layer change: the layer's axes stay offered."""
    viewer = make_napari_viewer()
    viewer.add_image(three_channels(sample), name="stains")
    viewer.add_labels(np.zeros((128, 128), np.uint8), name="cells")
    _dock, train = viewer.window.add_plugin_dock_widget("napari-tiled-unet", "Train U-Net")
    _dock, predict = viewer.window.add_plugin_dock_widget("napari-tiled-unet", "Predict with U-Net")
    viewer.add_labels(np.zeros((128, 128), np.uint8), name="more cells")  # a layer change: choices are reset
    for widget in (train, predict):
        widget.reset_choices()
        assert 0 in widget.channels.mode.choices and not widget.channels.set_by_hand
    assert train.channels.value() == ChannelChoice(AXIS, 0)
