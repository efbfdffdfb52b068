"""Voxel size from a layer's scale and units, and the 3D pooling planned from it in the Advanced section."""

from __future__ import annotations

import numpy as np
import pytest

from napari_tiled_unet._napari.train_inputs import training_inputs
from napari_tiled_unet._napari.train_widget import TrainWidget
from napari_tiled_unet._napari.voxel_size import voxel_size_um
from napari_tiled_unet.anisotropy import plan_pooling


@pytest.mark.parametrize(
    ("scale", "units", "spatial", "expected"),
    [
        ((1.0, 1.0), ("pixel", "pixel"), [0, 1], None),  # not calibrated
        ((0.5, 0.5), ("pixel", "pixel"), [0, 1], (0.5, 0.5)),  # a scale without unit: micrometres
        ((2.0, 0.25, 0.25), ("um", "um", "um"), [0, 1, 2], (2.0, 0.25, 0.25)),
        ((500.0, 100.0, 100.0), ("nm", "nm", "nm"), [0, 1, 2], (0.5, 0.1, 0.1)),
        ((5.0, 1.0, 0.2, 0.2), ("s", "um", "um", "um"), [2, 3], (0.2, 0.2)),  # time is not spatial
        ((1.0, 1.0), None, [0, 1], None),
    ],
)
def test_voxel_size_um(scale, units, spatial, expected):
    assert voxel_size_um(scale, units, spatial) == expected


def test_3d_pooling_follows_the_image_layers_voxel_size(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((16, 64, 64), np.float32), name="confocal", scale=(2.0, 0.5, 0.5),
                     units=("um", "um", "um"))
    viewer.add_labels(np.zeros((16, 64, 64), np.uint8), name="masks", scale=(2.0, 0.5, 0.5))
    widget = TrainWidget(viewer)
    advanced = widget.advanced
    assert not advanced.pooling.enabled  # 2D: nothing to plan
    advanced.dims.value = 3
    assert advanced.pooling.enabled and advanced.pooling.value == "auto"
    plan = plan_pooling((2.0, 0.5, 0.5), advanced.depth.value)
    assert plan.pooling[0] == (1, 2, 2)  # Z is 4x coarser: pooled only once Y and X have caught up
    assert advanced.pooling_plan.value.startswith("voxel 2×0.5×0.5 µm (Z×Y×X): pooling 1×2×2, ")
    config = widget.training_config()
    assert config.unet.pool_factors == plan.pooling and config.unet.kernel_sizes == plan.kernels
    assert not config.unet.isotropic
    advanced.pooling.value = "even"
    assert widget.training_config().unet.isotropic and "every axis pooled by 2" in advanced.pooling_plan.value
    inputs = training_inputs(widget.training_pairs(), 3, continuing=False)
    assert inputs.voxel_size == (2.0, 0.5, 0.5)
    assert widget.training_config(inputs).voxel_size == (2.0, 0.5, 0.5)
    viewer.layers["confocal"].scale = (1.0, 1.0, 1.0)
    viewer.layers["confocal"].units = ("pixel", "pixel", "pixel")
    widget._voxel_changed()
    advanced.pooling.value = "auto"
    assert "no Z/Y/X scale" in advanced.pooling_plan.value and widget.training_config().unet.isotropic
