"""The labels writer, the session model registry and the manifest's contributions."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from napari_tiled_unet._napari.model_registry import ModelRegistry, describe_model
from napari_tiled_unet._napari.writer import layer_calibration, write_labels
from napari_tiled_unet.calibration import Calibration
from napari_tiled_unet.image_io import read_image_and_calibration


def test_write_labels_is_a_compressed_imagej_tiff_with_the_pixel_size(tmp_path):
    labels = np.zeros((3, 40, 50), dtype=np.int32)
    labels[1, 10:20, 5:15] = 300
    (written,) = write_labels(str(tmp_path / "labels.tif"), labels, {"scale": (2.0, 0.25, 0.5), "name": "x"})
    with tifffile.TiffFile(written) as tif:
        assert tif.is_imagej
        assert tif.imagej_metadata["unit"] == "um" and tif.imagej_metadata["spacing"] == 2.0
        page = tif.pages[0]
        assert page.compression == tifffile.COMPRESSION.ADOBE_DEFLATE
        x_res, y_res = page.tags["XResolution"].value, page.tags["YResolution"].value
        assert x_res[0] / x_res[1] == pytest.approx(2.0) and y_res[0] / y_res[1] == pytest.approx(4.0)
        data = tif.asarray()
    assert data.dtype == np.uint16  # compacted so ImageJ reads it
    np.testing.assert_array_equal(data, labels)


@pytest.mark.parametrize("units", [None, ("pixel",) * 3, ("micrometer",) * 3])
def test_write_labels_keeps_every_spatial_scale(tmp_path, units):
    """The issue: the labels writer stored only the Y/X scale; Z goes into the ImageJ spacing."""
    labels = np.zeros((3, 20, 30), dtype=np.uint8)
    labels[1, 5:10, 5:10] = 2
    meta = {"scale": (2.0, 0.5, 0.5)} if units is None else {"scale": (2.0, 0.5, 0.5), "units": units}
    (written,) = write_labels(str(tmp_path / "labels.tif"), labels, meta)
    image, calibration = read_image_and_calibration(written)
    assert calibration == Calibration("ZYX", {"Z": 2.0, "Y": 0.5, "X": 0.5}, "um")
    with tifffile.TiffFile(written) as tif:
        assert tif.imagej_metadata["spacing"] == 2.0 and tif.imagej_metadata["unit"] == "um"
    np.testing.assert_array_equal(image, labels)


def test_write_labels_uses_the_layer_units_and_axis_labels(tmp_path):
    pint = pytest.importorskip("pint")
    registry = pint.get_application_registry()
    meta = {"scale": (30.0, 1.5, 250.0, 250.0), "axis_labels": ("t", "z", "y", "x"),
            "units": (registry.second, registry.micrometer, registry.nanometer, registry.nanometer)}
    (written,) = write_labels(str(tmp_path / "labels.tif"), np.zeros((2, 3, 8, 9), np.uint16), meta)
    _, calibration = read_image_and_calibration(written)
    assert calibration.axes == "TZYX" and calibration.unit == "nm" and calibration.time_unit == "s"
    assert calibration.sizes == {"T": 30.0, "Z": pytest.approx(1500.0), "Y": 250.0, "X": 250.0}


def test_layer_calibration_without_scale_is_uncalibrated():
    calibration = layer_calibration(3, {"scale": (1.0, 1.0, 1.0), "units": ("pixel",) * 3})
    assert calibration == Calibration.uncalibrated("ZYX")


def test_write_labels_refuses_other_suffixes(tmp_path):
    with pytest.raises(ValueError, match="tif"):
        write_labels(str(tmp_path / "labels.png"), np.zeros((4, 4), np.uint8), {"scale": (1, 1)})


def test_registry_names_are_unique_and_newest_first(tiny_model):
    registry = ModelRegistry()
    seen = []
    registry.changed.connect(lambda: seen.append(len(registry)))
    first = registry.add(tiny_model)
    second = registry.add(tiny_model, name=first)
    third = registry.add_file("/some/where/net.safetensors", tiny_model)
    assert second == f"{first} (2)" and third == "net.safetensors"
    assert registry.names() == [third, second, first]
    assert registry.get(first) is tiny_model and first in registry
    registry.remove(first)
    assert first not in registry and seen == [1, 2, 3, 2]
    with pytest.raises(TypeError):
        registry.add("not a model")


def test_describe_model(tiny_model):
    text = describe_model(tiny_model)
    assert "task: semantic (scribbles)" in text
    assert "1=background" in text and "margin 8 px" in text and "input channels: 1" in text


def test_manifest_contributions():
    import npe2

    manifest = npe2.PluginManifest.from_distribution("napari-tiled-unet")
    contributions = manifest.contributions
    assert {w.display_name for w in contributions.widgets} == {"Train U-Net", "Predict with U-Net"}
    (writer,) = contributions.writers
    assert writer.layer_types == ["labels"] and set(writer.filename_extensions) == {".tif", ".tiff"}
    assert {s.key for s in contributions.sample_data} == {"nuclei_2d", "nuclei_3d"}
    segment = contributions.menus["napari/layers/segment"]
    assert {item.command for item in segment} == {"napari-tiled-unet.train_widget", "napari-tiled-unet.predict_widget"}
    manifest.validate_imports()


def test_napari_saves_labels_through_the_plugin_writer(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()  # napari discovers its plugins
    layer = viewer.add_labels(np.arange(12, dtype=np.int32).reshape(3, 4), scale=(0.5, 0.25))
    viewer.layers.selection = {layer}
    (written,) = viewer.layers.save(str(tmp_path / "labels.tif"), selected=True, plugin="napari-tiled-unet")
    with tifffile.TiffFile(written) as tif:
        assert tif.is_imagej and tif.pages[0].tags["XResolution"].value == (4, 1)
        np.testing.assert_array_equal(tif.asarray(), layer.data)


def test_napari_saves_a_calibrated_stack_with_its_units(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    layer = viewer.add_labels(np.arange(60, dtype=np.int32).reshape(3, 4, 5), scale=(2.0, 0.5, 0.5),
                              units=("nm", "nm", "nm"))
    viewer.layers.selection = {layer}
    (written,) = viewer.layers.save(str(tmp_path / "stack.tif"), selected=True, plugin="napari-tiled-unet")
    image, calibration = read_image_and_calibration(written)
    assert calibration == Calibration("ZYX", {"Z": 2.0, "Y": 0.5, "X": 0.5}, "nm")
    np.testing.assert_array_equal(image, layer.data)
