"""Results keep their input's calibration; --voxel-size and --channel-axis say what a TIFF does not."""

import json

import numpy as np
import pytest
import tifffile
import torch
from unet_helpers import make_net

from napari_tiled_unet import load_model, save_model
from napari_tiled_unet.calibration import Calibration
from napari_tiled_unet.cli.main import main
from napari_tiled_unet.cli.train_cmd import training_voxel_size
from napari_tiled_unet.image_io import read_image, read_image_and_calibration

PROG = "napari-tiled-unet"
STACK = {"Z": 1.5, "Y": 0.25, "X": 0.25}
FAST_TRAIN = ["--epochs", "1", "--steps-per-epoch", "2", "--depth", "2", "--wf", "1", "--patch-size", "44",
              "--val-fraction", "0", "--quiet", "--device", "cpu"]


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("calibrated")
    rng = np.random.default_rng(0)
    save_model(make_net(depth=2, wf=1), folder / "grey.safetensors")
    save_model(make_net(depth=2, wf=1, in_channels=3), folder / "rgb3.safetensors")
    stack = rng.integers(0, 4000, size=(3, 30, 31)).astype(np.uint16)
    tifffile.imwrite(folder / "stack.tif", stack, imagej=True, resolution=(4.0, 4.0),
                     metadata={"axes": "ZYX", "spacing": 1.5, "unit": "micron"})
    tifffile.imwrite(folder / "stack.ome.tif", stack, ome=True,
                     metadata={"axes": "ZYX", "PhysicalSizeX": 250.0, "PhysicalSizeXUnit": "nm", "PhysicalSizeY": 250.0,
                               "PhysicalSizeYUnit": "nm", "PhysicalSizeZ": 1.5})
    tifffile.imwrite(folder / "plain_stack.tif", stack)
    tifffile.imwrite(folder / "plain_2d.tif", stack[0])
    three = rng.integers(0, 4000, size=(3, 30, 31)).astype(np.uint16)  # like bbbc022_3channel.tif, without IJ
    tifffile.imwrite(folder / "three_channels.tif", three, photometric="minisblack")  # else planar RGB
    tifffile.imwrite(folder / "channels_last.tif", np.moveaxis(three, 0, -1).copy(), photometric="minisblack",
                     planarconfig="contig")
    tifffile.imwrite(folder / "ij_channels.tif", three, imagej=True, metadata={"axes": "CYX"})
    return folder


def _run(capsys, *args):
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


def _one_line(code, err, needle):
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"{PROG}: error: ") and needle in lines[0], err


def _imagej(path):
    with tifffile.TiffFile(path) as tif:
        x_num, x_den = tif.pages[0].tags["XResolution"].value
        return tif.is_imagej, tif.series[0].axes, tif.imagej_metadata, x_num / x_den


# ---------------------------------------------------------------------------------------------- calibration kept
@pytest.mark.parametrize(("output", "axes"), [("labels", "ZYX"), ("instances", "ZYX"), ("probabilities", "ZCYX")])
@pytest.mark.parametrize("lazy", [False, True])
def test_imagej_stack_round_trip(files, tmp_path, capsys, output, axes, lazy):
    """The issue: an ImageJ stack with 0.25 um pixels and 1.5 um spacing came back as 1 px/unit, no spacing."""
    out = tmp_path / "result.tif"
    code, err = _run(capsys, "predict", files / "grey.safetensors", files / "stack.tif", "--out", out, "--output",
                     output, "--quiet", "--device", "cpu", *(["--lazy"] if lazy else []))
    assert code == 0, err
    imagej, file_axes, meta, x_per_unit = _imagej(out)
    assert imagej and file_axes == axes
    assert meta["spacing"] == 1.5 and meta["unit"] == "um" and x_per_unit == pytest.approx(4.0)
    _, calibration = read_image_and_calibration(out)
    assert calibration == Calibration(axes, STACK, "um")
    assert "Z 1.5 x Y 0.25 x X 0.25 um" in err


def test_ome_tiff_input(files, tmp_path, capsys):
    out = tmp_path / "labels.tif"
    code, err = _run(capsys, "predict", files / "grey.safetensors", files / "stack.ome.tif", "--out", out,
                     "--quiet", "--device", "cpu")
    assert code == 0, err
    _, calibration = read_image_and_calibration(out)
    assert calibration.axes == "ZYX" and calibration.unit == "nm"
    assert calibration.sizes == {"Z": pytest.approx(1500.0), "Y": 250.0, "X": 250.0}


def test_zarr_output_carries_the_scale(files, tmp_path, capsys):
    out = tmp_path / "labels.zarr"
    code, err = _run(capsys, "predict", files / "grey.safetensors", files / "stack.tif", "--out", out, "--quiet",
                     "--device", "cpu")
    assert code == 0, err
    (image,) = json.loads((out / ".zattrs").read_text())["multiscales"]
    assert [a["name"] for a in image["axes"]] == ["z", "y", "x"]
    assert {a["unit"] for a in image["axes"]} == {"micrometer"}
    assert image["datasets"][0]["coordinateTransformations"][0]["scale"] == [1.5, 0.25, 0.25]


# ---------------------------------------------------------------------------------------------- --voxel-size
@pytest.mark.parametrize(("image", "extra", "expected"), [
    ("plain_stack.tif", ["--axes", "ZYX", "--voxel-size", "2", "0.5", "0.5"], {"Z": 2.0, "Y": 0.5, "X": 0.5}),
    ("stack.tif", ["--voxel-size", "3", "1", "1"], {"Z": 3.0, "Y": 1.0, "X": 1.0}),
    ("stack.tif", ["--voxel-size", "0.1", "0.1"], {"Z": 1.5, "Y": 0.1, "X": 0.1}),
    ("plain_2d.tif", ["--voxel-size", "0.65", "0.65"], {"Y": 0.65, "X": 0.65}),
])
def test_voxel_size_sets_or_overrides_the_calibration(files, tmp_path, capsys, image, extra, expected):
    out = tmp_path / "labels.tif"
    code, err = _run(capsys, "predict", files / "grey.safetensors", files / image, "--out", out, "--quiet",
                     "--device", "cpu", *extra)
    assert code == 0, err
    _, calibration = read_image_and_calibration(out)
    assert calibration.unit == "um" and calibration.sizes == pytest.approx(expected)


@pytest.mark.parametrize(("image", "values", "needle"), [
    ("plain_2d.tif", ["1"], "2 (Y X) or 3 (Z Y X)"),
    ("plain_2d.tif", ["1", "1", "1", "1"], "gives 4 values"),
    ("plain_2d.tif", ["0", "1"], "positive"),
    ("plain_2d.tif", ["1", "-1"], "positive"),
    ("plain_2d.tif", ["nan", "1"], "positive"),
    ("plain_2d.tif", ["1", "1", "1"], "no Z axis"),
    ("plain_stack.tif", ["1", "1", "1"], "--axes"),
])
def test_bad_voxel_size_exits_2(files, tmp_path, capsys, image, values, needle):
    code, err = _run(capsys, "predict", files / "grey.safetensors", files / image, "--out", tmp_path / "o.tif",
                     "--quiet", "--device", "cpu", "--voxel-size", *values)
    _one_line(code, err, needle)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------- --channel-axis
@pytest.mark.parametrize(("image", "axis"), [("three_channels.tif", "0"), ("channels_last.tif", "-1"),
                                             ("channels_last.tif", "2"), ("ij_channels.tif", "0")])
def test_channel_axis(files, tmp_path, capsys, image, axis):
    out = tmp_path / "labels.tif"
    code, err = _run(capsys, "predict", files / "rgb3.safetensors", files / image, "--out", out, "--quiet",
                     "--device", "cpu", "--channel-axis", axis)
    assert code == 0, err
    labels, axes = read_image(out)
    assert axes == "YX" and labels.shape == (30, 31)
    reference = tmp_path / "reference.tif"
    code, err = _run(capsys, "predict", files / "rgb3.safetensors", files / "three_channels.tif", "--out", reference,
                     "--quiet", "--device", "cpu", "--axes", "CYX")
    assert code == 0, err
    np.testing.assert_array_equal(labels, read_image(reference)[0])


def test_plain_three_channel_tiff_needs_the_channel_axis(files, tmp_path, capsys):
    code, err = _run(capsys, "predict", files / "rgb3.safetensors", files / "three_channels.tif", "--out",
                     tmp_path / "o.tif", "--quiet", "--device", "cpu")
    _one_line(code, err, "--channel-axis")


@pytest.mark.parametrize(("image", "extra", "needle"), [
    ("three_channels.tif", ["--channel-axis", "3"], "out of range"),
    ("three_channels.tif", ["--channel-axis", "-4"], "out of range"),
    ("three_channels.tif", ["--channel-axis", "0", "--axes", "ZYX"], "conflicts with --axes"),
    ("ij_channels.tif", ["--channel-axis", "1"], "has its channel axis at 0"),
    ("plain_2d.tif", ["--channel-axis", "0"], "no room for a channel axis"),
])
def test_bad_channel_axis_exits_2(files, tmp_path, capsys, image, extra, needle):
    code, err = _run(capsys, "predict", files / "rgb3.safetensors", files / image, "--out", tmp_path / "o.tif",
                     "--quiet", "--device", "cpu", *extra)
    _one_line(code, err, needle)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------- train
def test_train_with_channel_axis_and_voxel_size(files, tmp_path, capsys):
    labels = np.zeros((30, 31), np.uint8)
    labels[5:15, 5:15] = 1
    labels[20:27, 18:29] = 1
    tifffile.imwrite(tmp_path / "labels.tif", labels)
    out = tmp_path / "m.safetensors"
    code = main([str(a) for a in ("train", "--images", files / "three_channels.tif", "--labels",
                                  tmp_path / "labels.tif", "--out", out, "--channel-axis", "0", "--voxel-size",
                                  "0.5", "0.5", *FAST_TRAIN[:-3], "--device", "cpu")])
    err = capsys.readouterr().err
    assert code == 0, err
    assert load_model(out).config.in_channels == 3
    assert "voxel size of the training images: 0.5 x 0.5 um" in err


def test_train_refuses_a_bad_channel_axis(files, tmp_path, capsys):
    tifffile.imwrite(tmp_path / "labels.tif", np.ones((30, 31), np.uint8))
    code, err = _run(capsys, "train", "--images", files / "three_channels.tif", "--labels", tmp_path / "labels.tif",
                     "--out", tmp_path / "m.safetensors", "--channel-axis", "7", *FAST_TRAIN)
    _one_line(code, err, "out of range")
    assert not (tmp_path / "m.safetensors").exists()


def test_training_voxel_size():
    stack = Calibration("CZYX", {"Z": 2000.0, "Y": 250.0, "X": 250.0}, "nm")
    assert training_voxel_size([stack], 3) == pytest.approx((2.0, 0.25, 0.25))
    assert training_voxel_size([stack, stack.for_axes("ZYX")], 2) == pytest.approx((0.25, 0.25))
    other = Calibration("ZYX", {"Z": 1.0, "Y": 0.25, "X": 0.25}, "um")
    assert training_voxel_size([stack, other], 3) is None  # they disagree
    assert training_voxel_size([Calibration.uncalibrated("YX")], 2) is None
