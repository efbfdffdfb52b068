"""Reading images and writing results: axes, clear errors, compressed ImageJ TIFFs, atomic writes."""

import os
import stat

import numpy as np
import pytest
import tifffile
from hypothesis import given, settings
from hypothesis import strategies as st

from napari_tiled_unet.calibration import Calibration
from napari_tiled_unet.errors import ImageFileError
from napari_tiled_unet.image_io import read_image, read_image_and_calibration, tiff_calibration, write_tiff, write_zarr


def _data(shape, dtype=np.uint16, seed=0):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        return rng.normal(size=shape).astype(dtype)
    return rng.integers(0, min(np.iinfo(dtype).max, 60000), size=shape, endpoint=True).astype(dtype)


def _leftovers(folder, keep):
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


# ---------------------------------------------------------------------------------------------- reading
@pytest.mark.parametrize("imagej", [False, True])
def test_read_2d(tmp_path, imagej):
    data = _data((17, 23))
    tifffile.imwrite(tmp_path / "a.tif", data, imagej=imagej)
    image, axes = read_image(tmp_path / "a.tif")
    assert axes == "YX"
    assert image.dtype == np.uint16
    np.testing.assert_array_equal(image, data)


def test_read_accepts_str_path(tmp_path):
    data = _data((8, 9), np.uint8)
    tifffile.imwrite(tmp_path / "a.tiff", data)
    image, axes = read_image(str(tmp_path / "a.tiff"))
    assert axes == "YX"
    np.testing.assert_array_equal(image, data)


def test_read_3d_imagej_is_zyx(tmp_path):
    data = _data((5, 17, 23), np.float32)
    tifffile.imwrite(tmp_path / "a.tif", data, imagej=True, metadata={"axes": "ZYX"})
    image, axes = read_image(tmp_path / "a.tif")
    assert axes == "ZYX"
    np.testing.assert_array_equal(image, data)


def test_read_3d_plain_has_one_leading_axis(tmp_path):
    data = _data((6, 17, 23))  # tifffile takes 3 or 4 leading planes for planar RGB(A) samples
    tifffile.imwrite(tmp_path / "a.tif", data)
    image, axes = read_image(tmp_path / "a.tif")
    assert image.shape == data.shape
    assert len(axes) == 3 and axes.endswith("YX") and axes[0] not in "CS"
    np.testing.assert_array_equal(image, data)


@pytest.mark.parametrize("imagej", [False, True])
def test_read_multichannel_cyx(tmp_path, imagej):
    data = _data((2, 17, 23))
    tifffile.imwrite(tmp_path / "a.tif", data, imagej=imagej, metadata={"axes": "CYX"})
    image, axes = read_image(tmp_path / "a.tif")
    assert axes == "CYX"
    np.testing.assert_array_equal(image, data)


def test_read_imagej_hyperstack_zcyx(tmp_path):
    data = _data((3, 2, 17, 23))
    tifffile.imwrite(tmp_path / "a.tif", data, imagej=True, metadata={"axes": "ZCYX"})
    image, axes = read_image(tmp_path / "a.tif")
    assert axes == "ZCYX"
    np.testing.assert_array_equal(image, data)


@pytest.mark.parametrize("imagej", [False, True])
def test_read_rgb_is_yxs(tmp_path, imagej):
    data = _data((17, 23, 3), np.uint8)
    tifffile.imwrite(tmp_path / "rgb.tif", data, photometric="rgb", imagej=imagej)
    image, axes = read_image(tmp_path / "rgb.tif")
    assert axes == "YXS"
    assert image.shape == (17, 23, 3)
    np.testing.assert_array_equal(image, data)


def test_missing_file(tmp_path):
    with pytest.raises(ImageFileError, match="does not exist"):
        read_image(tmp_path / "nope.tif")


def test_folder(tmp_path):
    folder = tmp_path / "stack.tif"
    folder.mkdir()
    with pytest.raises(ImageFileError, match="folder"):
        read_image(folder)


def test_image_file_error_is_a_value_error():
    assert issubclass(ImageFileError, ValueError)


@pytest.mark.parametrize(
    "payload",
    [
        b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(200),
        b"hello, this is a text file and not an image\n" * 5,
        b"",
        b"II*\x00",
    ],
    ids=["png", "text", "empty", "header-only"],
)
def test_not_a_tiff(tmp_path, payload):
    path = tmp_path / "fake.tif"
    path.write_bytes(payload)
    with pytest.raises(ImageFileError, match=r"fake\.tif"):
        read_image(path)


@pytest.mark.parametrize("fraction", [0.5, 0.05])
def test_truncated_uncompressed_tiff(tmp_path, fraction):
    full = tmp_path / "full.tif"
    tifffile.imwrite(full, _data((64, 64), np.float32))
    raw = full.read_bytes()
    cut = tmp_path / "cut.tif"
    cut.write_bytes(raw[: int(len(raw) * fraction)])
    with pytest.raises(ImageFileError, match=r"cut\.tif"):
        read_image(cut)


def test_truncated_compressed_tiff(tmp_path):
    full = tmp_path / "full.tif"
    tifffile.imwrite(full, _data((64, 64), np.float32), compression="zlib")
    raw = full.read_bytes()
    cut = tmp_path / "cut.tif"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ImageFileError, match=r"cut\.tif"):
        read_image(cut)


def test_non_numeric_pixels(tmp_path):
    path = tmp_path / "complex.tif"
    tifffile.imwrite(path, np.ones((8, 8), np.complex64))
    with pytest.raises(ImageFileError, match="not numeric"):
        read_image(path)


# ---------------------------------------------------------------------------------------------- writing
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_write_compressed_imagej(tmp_path, dtype):
    data = _data((3, 17, 23), dtype)
    path = write_tiff(tmp_path / "out.tif", data, "ZYX")
    assert path == tmp_path / "out.tif"
    with tifffile.TiffFile(path) as tif:
        assert tif.is_imagej
        assert tif.pages[0].compression == tifffile.COMPRESSION.ADOBE_DEFLATE
        assert tif.series[0].axes == "ZYX"
        assert tif.imagej_metadata["slices"] == 3
        back = tif.asarray()
    assert back.dtype == dtype
    np.testing.assert_array_equal(back, data)
    assert list(tmp_path.iterdir()) == [path]


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_write_reorders_axes_to_imagej_order(tmp_path, dtype):
    data = _data((2, 3, 17, 23), dtype)
    path = write_tiff(tmp_path / "out.tif", data, "CZYX")
    with tifffile.TiffFile(path) as tif:
        assert tif.is_imagej
        assert tif.imagej_metadata["channels"] == 2
        assert tif.imagej_metadata["slices"] == 3
    image, axes = read_image(path)
    assert axes == "ZCYX"
    np.testing.assert_array_equal(image, np.transpose(data, (1, 0, 2, 3)))


@pytest.mark.parametrize(
    ("axes", "shape", "expected_axes", "order"),
    [
        ("YX", (17, 23), "YX", (0, 1)),
        ("CYX", (2, 17, 23), "CYX", (0, 1, 2)),
        ("YXC", (17, 23, 2), "CYX", (2, 0, 1)),
        ("TYX", (4, 17, 23), "TYX", (0, 1, 2)),
        ("QYX", (4, 17, 23), "TYX", (0, 1, 2)),
        ("ZTYX", (3, 2, 17, 23), "TZYX", (1, 0, 2, 3)),
        ("TCZYX", (2, 2, 3, 9, 11), "TZCYX", (0, 2, 1, 3, 4)),
    ],
)
def test_write_axes_round_trip(tmp_path, axes, shape, expected_axes, order):
    data = _data(shape, np.uint16)
    path = write_tiff(tmp_path / "out.tif", data, axes)
    with tifffile.TiffFile(path) as tif:
        assert tif.is_imagej
    image, back_axes = read_image(path)
    assert back_axes == expected_axes
    np.testing.assert_array_equal(image, np.transpose(data, order))


def test_write_rgb(tmp_path):
    data = _data((17, 23, 3), np.uint8)
    path = write_tiff(tmp_path / "rgb.tif", data, "YXS")
    image, axes = read_image(path)
    assert axes == "YXS"
    np.testing.assert_array_equal(image, data)


def test_write_resolution(tmp_path):
    data = _data((17, 23), np.uint8)
    path = write_tiff(tmp_path / "out.tif", data, "YX", resolution=(0.5, 0.25))
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        x_num, x_den = page.tags["XResolution"].value
        y_num, y_den = page.tags["YResolution"].value
        assert x_num / x_den == pytest.approx(4.0)  # pixels per micrometre along X (0.25 um pixels)
        assert y_num / y_den == pytest.approx(2.0)  # along Y (0.5 um pixels)
        assert tif.imagej_metadata.get("unit") in ("um", "µm", "micron")


def test_write_without_resolution_has_no_unit(tmp_path):
    path = write_tiff(tmp_path / "out.tif", _data((8, 9), np.uint8), "YX")
    with tifffile.TiffFile(path) as tif:
        assert "unit" not in tif.imagej_metadata


def test_write_uint32_labels_not_imagej(tmp_path):
    data = _data((3, 17, 23), np.uint16).astype(np.uint32) * 100_000
    data[0, 0, 0] = np.iinfo(np.uint32).max
    path = write_tiff(tmp_path / "labels.tif", data, "ZYX")
    with tifffile.TiffFile(path) as tif:
        assert not tif.is_imagej
        assert tif.pages[0].compression == tifffile.COMPRESSION.ADOBE_DEFLATE
    image, axes = read_image(path)
    assert image.dtype == np.uint32
    assert axes == "ZYX"
    np.testing.assert_array_equal(image, data)


def test_write_tiff_suffix_case_insensitive(tmp_path):
    data = _data((8, 9), np.uint8)
    path = write_tiff(tmp_path / "OUT.TIFF", data, "YX")
    np.testing.assert_array_equal(read_image(path)[0], data)


@pytest.mark.parametrize("name", ["out.png", "out", "out.tif.gz", "out.npy"])
def test_write_rejects_other_suffixes(tmp_path, name):
    with pytest.raises(ValueError, match=r"\.tif"):
        write_tiff(tmp_path / name, _data((8, 9), np.uint8), "YX")
    assert list(tmp_path.iterdir()) == []


def test_write_rejects_wrong_axes(tmp_path):
    with pytest.raises(ValueError, match="axes"):
        write_tiff(tmp_path / "out.tif", _data((2, 8, 9), np.uint8), "YX")
    assert list(tmp_path.iterdir()) == []


def test_write_into_missing_folder(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        write_tiff(tmp_path / "missing" / "out.tif", _data((8, 9), np.uint8), "YX")
    assert list(tmp_path.iterdir()) == []


def test_write_over_folder_is_refused(tmp_path):
    (tmp_path / "out.tif").mkdir()
    with pytest.raises(ValueError, match="folder"):
        write_tiff(tmp_path / "out.tif", _data((8, 9), np.uint8), "YX")
    assert (tmp_path / "out.tif").is_dir()
    assert _leftovers(tmp_path, {"out.tif"}) == []


def test_write_overwrites_existing_file(tmp_path):
    path = tmp_path / "out.tif"
    write_tiff(path, _data((8, 9), np.uint8, seed=1), "YX")
    data = _data((5, 6), np.uint16, seed=2)
    write_tiff(path, data, "YX")
    np.testing.assert_array_equal(read_image(path)[0], data)
    assert _leftovers(tmp_path, {"out.tif"}) == []


@pytest.mark.parametrize("error", [RuntimeError("disk on fire"), OSError(28, "No space left on device")])
def test_failed_write_is_atomic(tmp_path, monkeypatch, error):
    path = tmp_path / "out.tif"
    original = _data((8, 9), np.uint8, seed=1)
    write_tiff(path, original, "YX")
    before = path.read_bytes()

    def half_write(file, data, **kwargs):
        with open(file, "wb") as handle:
            handle.write(b"II*\x00partial")
        raise error

    monkeypatch.setattr(tifffile, "imwrite", half_write)
    with pytest.raises((RuntimeError, ValueError)) as info:
        write_tiff(path, _data((8, 9), np.uint8, seed=2), "YX")
    if isinstance(error, OSError):
        assert info.type is ValueError
        assert "out.tif" in str(info.value)
    assert path.read_bytes() == before
    assert _leftovers(tmp_path, {"out.tif"}) == []


def test_failed_first_write_leaves_nothing(tmp_path, monkeypatch):
    def boom(file, data, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(tifffile, "imwrite", boom)
    with pytest.raises(RuntimeError, match="boom"):
        write_tiff(tmp_path / "out.tif", _data((8, 9), np.uint8), "YX")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_written_file_follows_umask(tmp_path, umask):
    """mkstemp creates 0600 files; a result must get the usual permissions (shared folders, clusters)."""
    old = os.umask(umask)
    try:
        path = write_tiff(tmp_path / "out.tif", _data((8, 9), np.uint8), "YX")
        write_tiff(path, _data((8, 9), np.uint8), "YX")  # and again over an existing file
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


# ---------------------------------------------------------------------------------------------- calibration
def _imagej_stack(path, shape=(4, 17, 23), axes="ZYX", dtype=np.uint16):
    tifffile.imwrite(path, _data(shape, dtype), imagej=True, resolution=(4.0, 4.0),
                     metadata={"axes": axes, "spacing": 1.5, "unit": "um"})
    return path


def test_read_image_and_calibration(tmp_path):
    path = _imagej_stack(tmp_path / "a.tif")
    image, calibration = read_image_and_calibration(path)
    assert image.shape == (4, 17, 23)
    assert calibration == Calibration("ZYX", {"Z": 1.5, "Y": 0.25, "X": 0.25}, "um")
    assert tiff_calibration(path) == calibration
    assert read_image(path)[1] == "ZYX"


@pytest.mark.parametrize(("axes", "shape", "dtype"), [("ZYX", (4, 17, 23), np.uint16),
                                                      ("ZCYX", (4, 2, 17, 23), np.float32),
                                                      ("CZYX", (2, 4, 17, 23), np.float32),
                                                      ("ZYX", (4, 17, 23), np.uint32)])
def test_write_keeps_the_calibration(tmp_path, axes, shape, dtype):
    """Labels, probabilities (a class axis, in any position) and uint32 instances (not ImageJ) alike."""
    calibration = Calibration("ZYX", {"Z": 1.5, "Y": 0.25, "X": 0.25}, "um")
    path = write_tiff(tmp_path / "out.tif", _data(shape, dtype), axes, calibration=calibration)
    _, back = read_image_and_calibration(path)
    assert back.sizes == {"Z": 1.5, "Y": 0.25, "X": 0.25} and back.unit == "um"
    assert set(back.axes) == set(axes)
    with tifffile.TiffFile(path) as tif:
        if dtype != np.uint32:
            assert tif.is_imagej and tif.imagej_metadata["spacing"] == 1.5 and tif.imagej_metadata["unit"] == "um"
        x_num, x_den = tif.pages[0].tags["XResolution"].value
        per_unit = 4.0 if dtype != np.uint32 else 40000.0  # per um in ImageJ files, per cm in plain TIFFs
        assert x_num / x_den == pytest.approx(per_unit)


def test_write_keeps_the_time_interval(tmp_path):
    calibration = Calibration("TYX", {"T": 30.0, "Y": 0.5, "X": 0.5}, "um", "s")
    path = write_tiff(tmp_path / "movie.tif", _data((3, 8, 9), np.uint8), "TYX", calibration=calibration)
    assert tiff_calibration(path) == calibration


def test_resolution_and_calibration_are_exclusive(tmp_path):
    with pytest.raises(ValueError, match="not both"):
        write_tiff(tmp_path / "o.tif", _data((8, 9), np.uint8), "YX", resolution=(1, 1),
                   calibration=Calibration("YX", {"Y": 1.0, "X": 1.0}, "um"))


# ---------------------------------------------------------------------------------------------- OME-Zarr
def test_write_zarr_is_ome_zarr_with_the_scale(tmp_path):
    import json

    import zarr

    data = _data((4, 3, 17, 23), np.float32)
    calibration = Calibration("ZYX", {"Z": 1.5, "Y": 0.25, "X": 0.25}, "um")
    path = write_zarr(tmp_path / "probs.zarr", data, "ZCYX", calibration)
    attrs = json.loads((path / ".zattrs").read_text())
    assert json.loads((path / ".zgroup").read_text())["zarr_format"] == 2
    assert json.loads((path / "0" / ".zarray").read_text())["dimension_separator"] == "/"
    (image,) = attrs["multiscales"]
    assert image["version"] == "0.4"
    assert [a["name"] for a in image["axes"]] == ["c", "z", "y", "x"] and attrs["axes"] == "CZYX"
    assert [a.get("unit") for a in image["axes"]] == [None, "micrometer", "micrometer", "micrometer"]
    assert image["datasets"][0]["coordinateTransformations"] == [{"type": "scale", "scale": [1.0, 1.5, 0.25, 0.25]}]
    stored = zarr.open_group(str(path), mode="r")["0"]
    np.testing.assert_array_equal(np.asarray(stored), np.transpose(data, (1, 0, 2, 3)))
    assert _leftovers(tmp_path, {"probs.zarr"}) == []


def test_write_zarr_refuses_axes_ngff_cannot_hold_before_writing(tmp_path):
    with pytest.raises(ValueError, match="OME-Zarr"):
        write_zarr(tmp_path / "r.zarr", _data((2, 2, 2, 2, 8, 9), np.uint8), "QTZCYX")
    assert list(tmp_path.iterdir()) == []


@settings(max_examples=40, deadline=None)
@given(z=st.floats(1e-3, 1e3), yx=st.floats(1e-4, 1e3), dtype=st.sampled_from([np.uint8, np.float32, np.uint32]),
       unit=st.sampled_from(["nm", "um", "mm"]))
def test_calibration_round_trip(tmp_path_factory, z, yx, dtype, unit):
    calibration = Calibration("ZYX", {"Z": z, "Y": yx, "X": yx}, unit)
    path = write_tiff(tmp_path_factory.mktemp("rt") / "out.tif", _data((2, 5, 6), dtype), "ZYX",
                      calibration=calibration)
    back = tiff_calibration(path)
    assert back.axes == "ZYX" and back.unit == unit
    assert back.sizes == pytest.approx(calibration.sizes, rel=1e-9)
