"""A 3D model trained and applied through both widgets, and the demo launcher."""

from __future__ import annotations

import numpy as np

from napari_tiled_unet._napari.launch import open_demo
from napari_tiled_unet._napari.predict_widget import PredictWidget
from napari_tiled_unet._napari.train_widget import TrainWidget
from napari_tiled_unet.samples import SCALE_3D, load_nuclei_3d

TIMEOUT = 60_000


def test_3d_instances_through_both_widgets(make_napari_viewer, qtbot, notes, make_tiny):
    viewer = make_napari_viewer()
    sample = load_nuclei_3d()
    crop = (slice(0, 24), slice(0, 96), slice(0, 96))
    viewer.add_image(sample["image"][crop], name="stack", scale=SCALE_3D, translate=(4.0, 0.0, 8.0))
    viewer.add_labels(sample["labels"][crop], name="masks", scale=SCALE_3D, translate=(4.0, 0.0, 8.0))
    train = TrainWidget(viewer)
    assert not train.sparse.value
    train.task.value = "instances"
    train.advanced.dims.value = 3
    make_tiny(train)
    train.advanced.batch_size.value = 1
    assert train.start()
    qtbot.waitUntil(lambda: not train.running, timeout=TIMEOUT)
    assert notes.errors == [] and train.model.config.dims == 3
    predict = PredictWidget(viewer)
    assert predict.model.value == train.model_name
    predict.output.value = "instances"
    assert predict.run()
    qtbot.waitUntil(lambda: not predict.running, timeout=TIMEOUT)
    layer = viewer.layers["stack [instances]"]
    assert layer.data.shape == (24, 96, 96) and layer.data.dtype.kind == "u" and notes.errors == []
    np.testing.assert_allclose(layer.scale, SCALE_3D)
    np.testing.assert_allclose(layer.translate, (4.0, 0.0, 8.0))


def test_open_demo_docks_both_widgets(make_napari_viewer):
    viewer = make_napari_viewer()
    train, predict = open_demo(viewer)
    assert isinstance(train, TrainWidget) and isinstance(predict, PredictWidget)
    assert [layer.name for layer in viewer.layers] == ["nuclei 2D", "nuclei 2D ground truth", "nuclei 2D scribbles"]
