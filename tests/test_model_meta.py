import numpy as np

from napari_tiled_unet import UNet, UNetConfig
from napari_tiled_unet.model_meta import class_names, class_to_label, classes_in_words, label_values


def test_defaults_without_metadata():
    net = UNet(UNetConfig(n_classes=3))
    assert label_values(net) == [0, 1, 2]
    assert class_names(net) == ["class 0", "class 1", "class 2"]


def test_classes_in_the_users_words():
    net = UNet(UNetConfig(n_classes=2))
    net.metadata = {"task": "semantic", "label_values": [1, 2], "class_names": ["background", "nucleus"]}
    assert classes_in_words(net) == "background (1), nucleus (2)"
    net.metadata = {"task": "instances", "label_values": [0, 1, 1]}
    assert classes_in_words(net) == "objects (one id per object)"


def test_single_class_model_writes_zero_and_one():
    net = UNet(UNetConfig(n_classes=1))
    np.testing.assert_array_equal(class_to_label(net), [0, 1])
