"""Calibration: pixel sizes per axis letter and units, read from ImageJ, OME and plain TIFFs."""

import numpy as np
import pytest
import tifffile
from hypothesis import given
from hypothesis import strategies as st

from napari_tiled_unet.calibration import Calibration, canonical_unit, convert_length, read_calibration


def _read(path):
    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        return read_calibration(tif, series.axes)


# ---------------------------------------------------------------------------------------------- the dataclass
@pytest.mark.parametrize(("given_unit", "expected"), [("micron", "um"), ("µm", "um"), ("\\u00B5m", "um"),
                                                      ("um", "um"), ("nanometer", "nm"), ("pixel", None),
                                                      ("sec", "s"), ("ms", "ms"), (None, None)])
def test_canonical_units(given_unit, expected):
    assert canonical_unit(given_unit) == expected


def test_unknown_unit_is_named():
    with pytest.raises(ValueError, match="furlong"):
        canonical_unit("furlong")


def test_scale_follows_the_axes_and_drops_other_letters():
    calibration = Calibration("zyx", {"X": 0.25, "Y": 0.5, "Z": 2, "T": 3.0}, "micron")
    assert calibration.axes == "ZYX" and calibration.unit == "um"
    assert calibration.scale == (("Z", 2.0), ("Y", 0.5), ("X", 0.25))
    assert calibration.size("y") == 0.5 and calibration.size("T") is None
    assert calibration.layer_scale() == (2.0, 0.5, 0.25)
    assert calibration.is_calibrated and calibration.describe() == "Z 2 x Y 0.5 x X 0.25 um"
    hash(calibration)  # frozen and hashable


def test_for_axes_keeps_sizes_by_letter():
    calibration = Calibration("ZYX", {"Z": 1.5, "Y": 0.25, "X": 0.25}, "um")
    probabilities = calibration.for_axes("ZCYX")
    assert probabilities.layer_scale() == (1.5, 1.0, 0.25, 0.25)
    assert calibration.for_axes("TYX").sizes == {"Y": 0.25, "X": 0.25}


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), "1", True])
def test_non_positive_sizes_are_refused(bad):
    with pytest.raises(ValueError, match="pixel size"):
        Calibration("YX", {"X": bad})


def test_time_unit_must_be_a_time():
    with pytest.raises(ValueError, match="time unit"):
        Calibration("TYX", {"T": 2.0}, "um", "um")
    with pytest.raises(ValueError, match="length unit"):
        Calibration("YX", {"X": 2.0}, "s")


def test_with_voxel_size():
    calibration = Calibration("ZYX", {"Z": 2000.0, "Y": 200.0, "X": 200.0}, "nm")
    assert calibration.with_voxel_size((1.5, 0.25, 0.25)).sizes == {"Z": 1.5, "Y": 0.25, "X": 0.25}
    yx_only = calibration.with_voxel_size((0.1, 0.1))
    assert yx_only.unit == "um" and yx_only.sizes == {"Z": pytest.approx(2.0), "Y": 0.1, "X": 0.1}
    with pytest.raises(ValueError, match="no Z axis"):
        Calibration("YX").with_voxel_size((1.0, 0.5, 0.5))
    with pytest.raises(ValueError, match=r"2 \(Y X\) or 3"):
        calibration.with_voxel_size((1.0,))
    with pytest.raises(ValueError, match="pixel size"):
        calibration.with_voxel_size((1.0, -0.5, 0.5))


@given(st.floats(1e-3, 1e3), st.sampled_from(["pm", "nm", "um", "mm", "cm", "m"]),
       st.sampled_from(["pm", "nm", "um", "mm", "cm", "m"]))
def test_length_conversion_round_trips(value, first, second):
    assert convert_length(convert_length(value, first, second), second, first) == pytest.approx(value, rel=1e-12)


# ---------------------------------------------------------------------------------------------- reading files
def test_imagej_stack(tmp_path):
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, np.zeros((4, 2, 8, 9), np.uint16), imagej=True, resolution=(4.0, 2.0),
                     metadata={"axes": "ZCYX", "spacing": 1.5, "unit": "micron"})
    calibration = _read(path)
    assert calibration == Calibration("ZCYX", {"Z": 1.5, "Y": 0.5, "X": 0.25}, "um")


def test_imagej_time_lapse(tmp_path):
    path = tmp_path / "movie.tif"
    tifffile.imwrite(path, np.zeros((3, 8, 9), np.uint8), imagej=True, resolution=(2.0, 2.0),
                     metadata={"axes": "TYX", "finterval": 30.0, "unit": "um"})
    calibration = _read(path)
    assert calibration.sizes == {"T": 30.0, "Y": 0.5, "X": 0.5} and calibration.time_unit == "s"


@pytest.mark.parametrize("unit", [None, "pixel", "inch"])
def test_imagej_without_a_length_unit_is_uncalibrated(tmp_path, unit):
    """An inch 'unit' is a print resolution (Photoshop's 26 dpi in a BBBC007 file), not a pixel size."""
    path = tmp_path / "a.tif"
    metadata = {"axes": "YX"} if unit is None else {"axes": "YX", "unit": unit}
    tifffile.imwrite(path, np.zeros((8, 9), np.uint8), imagej=True, resolution=(26.0, 26.0), metadata=metadata)
    assert _read(path) == Calibration.uncalibrated("YX")


def test_ome_tiff_units_are_converted_to_one(tmp_path):
    path = tmp_path / "a.ome.tif"
    tifffile.imwrite(path, np.zeros((3, 5, 8, 9), np.uint16), ome=True,
                     metadata={"axes": "TZYX", "PhysicalSizeX": 0.2, "PhysicalSizeY": 0.3, "PhysicalSizeZ": 1500.0,
                               "PhysicalSizeZUnit": "nm", "TimeIncrement": 5.0, "TimeIncrementUnit": "ms"})
    calibration = _read(path)
    assert calibration.axes == "TZYX" and calibration.unit == "um" and calibration.time_unit == "ms"
    assert calibration.sizes == {"T": 5.0, "Z": pytest.approx(1.5), "Y": 0.3, "X": 0.2}


def test_plain_tiff_in_centimetres(tmp_path):
    path = tmp_path / "a.tif"
    tifffile.imwrite(path, np.zeros((8, 9), np.uint8), resolution=(40000.0, 20000.0), resolutionunit="CENTIMETER")
    assert _read(path).sizes == {"Y": pytest.approx(0.5), "X": pytest.approx(0.25)}


@pytest.mark.parametrize("kwargs", [{}, {"resolution": (300.0, 300.0), "resolutionunit": "INCH"}])
def test_plain_tiff_without_calibration(tmp_path, kwargs):
    path = tmp_path / "a.tif"
    tifffile.imwrite(path, np.zeros((8, 9), np.uint8), **kwargs)
    assert not _read(path).is_calibrated


def test_broken_metadata_reads_as_uncalibrated(tmp_path):
    path = tmp_path / "a.tif"
    tifffile.imwrite(path, np.zeros((8, 9), np.uint8), imagej=True, metadata={"axes": "YX", "unit": "um",
                                                                               "spacing": "lots"})
    calibration = _read(path)
    assert calibration.unit == "um" and "Z" not in calibration.sizes

