"""OME-Zarr (NGFF 0.4) metadata: axis order, types, units and the scale transformation."""

import pytest

from napari_tiled_unet.calibration import Calibration
from napari_tiled_unet.ome_zarr import ngff_multiscales, ngff_order


@pytest.mark.parametrize(("axes", "order"), [("YX", [0, 1]), ("ZYX", [0, 1, 2]), ("CYX", [0, 1, 2]),
                                             ("ZCYX", [1, 0, 2, 3]), ("TZCYX", [0, 2, 1, 3, 4]),
                                             ("QYX", [0, 1, 2]), ("TZYX", [0, 1, 2, 3])])
def test_order_is_time_channel_space(axes, order):
    assert ngff_order(axes) == order


@pytest.mark.parametrize("axes", ["X", "QTZCYX", "CQYX", "TTYX", "ZZYX", "AYX", "ZYXW"])
def test_axes_ngff_cannot_hold_are_refused(axes):
    with pytest.raises(ValueError, match="OME-Zarr"):
        ngff_order(axes)


def test_multiscales_names_types_units_and_scale():
    calibration = Calibration("TCZYX", {"T": 2.0, "Z": 1.5, "Y": 0.25, "X": 0.25}, "um", "s")
    (image,) = ngff_multiscales(calibration, name="result")
    assert image["version"] == "0.4" and image["name"] == "result"
    assert image["axes"] == [{"name": "t", "type": "time", "unit": "second"}, {"name": "c", "type": "channel"},
                             {"name": "z", "type": "space", "unit": "micrometer"},
                             {"name": "y", "type": "space", "unit": "micrometer"},
                             {"name": "x", "type": "space", "unit": "micrometer"}]
    (dataset,) = image["datasets"]
    assert dataset == {"path": "0", "coordinateTransformations": [{"type": "scale",
                                                                   "scale": [2.0, 1.0, 1.5, 0.25, 0.25]}]}


def test_uncalibrated_axes_have_no_unit_and_scale_one():
    (image,) = ngff_multiscales(Calibration.uncalibrated("QYX"), name="r")
    assert image["axes"] == [{"name": "q"}, {"name": "y", "type": "space"}, {"name": "x", "type": "space"}]
    assert image["datasets"][0]["coordinateTransformations"][0]["scale"] == [1.0, 1.0, 1.0]
