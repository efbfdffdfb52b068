"""Tests of the synthetic sample data, its generator and the core loader."""

from __future__ import annotations

import ast
import importlib.util
import itertools
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import tifffile
from scipy import ndimage as ndi

from napari_tiled_unet import samples

GENERATOR = Path(__file__).resolve().parents[1] / "sample_data" / "generate.py"


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    """Import sample_data/generate.py as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("_nuclei_sample_generator", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses need the module registered
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def nuclei_2d() -> dict[str, np.ndarray]:
    return samples.load_nuclei_2d()


@pytest.fixture(scope="module")
def nuclei_3d() -> dict[str, np.ndarray]:
    return samples.load_nuclei_3d()


def touching_fraction(labels: np.ndarray) -> float:
    """Fraction of instances with a different instance among their 8 (2D) / 26 (3D) neighbours."""
    touching: set[int] = set()
    for offset in itertools.product((-1, 0, 1), repeat=labels.ndim):
        if not any(offset):
            continue
        src = tuple(slice(max(-o, 0), n - max(o, 0)) for o, n in zip(offset, labels.shape, strict=True))
        dst = tuple(slice(max(o, 0), n - max(-o, 0)) for o, n in zip(offset, labels.shape, strict=True))
        a, b = labels[src], labels[dst]
        touching.update(np.unique(a[(a != b) & (a > 0) & (b > 0)]).tolist())
    return len(touching) / int(labels.max())


def check_instances(labels: np.ndarray, n_range: tuple[int, int]) -> None:
    assert labels.dtype == np.uint16
    ids = np.unique(labels)
    assert ids[0] == 0
    np.testing.assert_array_equal(ids, np.arange(len(ids)))  # sequential ids
    assert n_range[0] <= len(ids) - 1 <= n_range[1]
    assert touching_fraction(labels) >= 0.3


@pytest.mark.parametrize("name", samples.SAMPLE_NAMES)
def test_every_file_exists(name: str) -> None:
    path = samples.sample_path(name)
    assert path.is_file()
    assert samples.sample_path(f"{name}.tif") == path


def test_unknown_name_lists_available() -> None:
    with pytest.raises(ValueError, match="nuclei_2d_scribbles"):
        samples.sample_path("cells")


def test_nuclei_2d(nuclei_2d: dict[str, np.ndarray]) -> None:
    image, labels = nuclei_2d["image"], nuclei_2d["labels"]
    assert set(nuclei_2d) == {"image", "labels", "scribbles"}
    assert image.shape == labels.shape == nuclei_2d["scribbles"].shape == (512, 512)
    assert image.dtype == np.uint16
    check_instances(labels, (120, 160))
    # nuclei are clearly brighter than the background
    assert np.median(image[labels > 0]) > 3 * np.median(image[labels == 0])


def test_scribbles(nuclei_2d: dict[str, np.ndarray]) -> None:
    scribbles, labels = nuclei_2d["scribbles"], nuclei_2d["labels"]
    assert scribbles.dtype == np.uint8
    assert set(np.unique(scribbles).tolist()) == {0, 1, 2}
    assert np.all(labels[scribbles == samples.SCRIBBLE_NUCLEUS] > 0)
    assert np.all(labels[scribbles == samples.SCRIBBLE_BACKGROUND] == 0)
    assert 0.02 <= np.count_nonzero(scribbles) / scribbles.size <= 0.05
    n_annotated = len(np.unique(labels[scribbles == samples.SCRIBBLE_NUCLEUS]))
    assert 20 <= n_annotated <= 30


def test_nuclei_2d_test() -> None:
    data = samples.load_nuclei_2d_test()
    assert set(data) == {"image", "labels"}
    assert data["image"].shape == data["labels"].shape == (256, 256)
    assert data["image"].dtype == np.uint16
    check_instances(data["labels"], (25, 50))
    assert not np.array_equal(data["image"], samples.load_nuclei_2d()["image"][:256, :256])


def test_nuclei_3d(nuclei_3d: dict[str, np.ndarray]) -> None:
    image, labels = nuclei_3d["image"], nuclei_3d["labels"]
    assert image.shape == labels.shape == (32, 192, 192)
    assert image.dtype == np.uint16
    check_instances(labels, (70, 140))
    assert np.median(image[labels > 0]) > 3 * np.median(image[labels == 0])


def test_nuclei_3d_looks_like_a_confocal_stack(nuclei_3d: dict[str, np.ndarray]) -> None:
    image, labels = nuclei_3d["image"].astype(float), nuclei_3d["labels"]
    whole = [s for s in ndi.find_objects(labels) if s[0].start > 0 and s[0].stop < labels.shape[0]]
    heights = np.array([s[0].stop - s[0].start for s in whole])
    widths = np.array([s[2].stop - s[2].start for s in whole])
    assert 8 <= np.median(heights) <= 12  # nuclei about 10 planes tall
    # the Z step is 2.5x the pixel size: a nucleus spans about 2.5x more pixels across than planes
    assert 2.0 <= np.median(widths / heights) <= 3.2
    # the PSF is wider along Z than in XY (in micrometres): intensity edges are softer along Z
    voxel = np.asarray(samples.VOXEL_SIZE_3D_UM)
    fg = labels > 0
    edge_z = np.abs(np.diff(image, axis=0))[fg[1:] != fg[:-1]].mean() / voxel[0]
    edge_x = np.abs(np.diff(image, axis=2))[fg[:, :, 1:] != fg[:, :, :-1]].mean() / voxel[2]
    assert edge_z < 0.65 * edge_x  # 0.53 here; 0.83 with an isotropic PSF
    # signal falls off with depth
    means = [image[z][labels[z] > 0].mean() for z in (4, labels.shape[0] - 5)]
    assert means[1] < means[0]


@pytest.mark.parametrize("name", ["nuclei_3d", "nuclei_3d_labels"])
def test_voxel_size_matches_files(name: str) -> None:
    with tifffile.TiffFile(samples.sample_path(name)) as tif:
        spacing = tif.imagej_metadata["spacing"]
        unit = tif.imagej_metadata["unit"]
        x_res = tif.pages[0].tags["XResolution"].value
        y_res = tif.pages[0].tags["YResolution"].value
    assert unit == "um"
    assert spacing == pytest.approx(samples.VOXEL_SIZE_3D_UM[0])
    assert x_res[1] / x_res[0] == pytest.approx(samples.VOXEL_SIZE_3D_UM[2])
    assert y_res[1] / y_res[0] == pytest.approx(samples.VOXEL_SIZE_3D_UM[1])
    scale = tuple(v / samples.VOXEL_SIZE_3D_UM[2] for v in samples.VOXEL_SIZE_3D_UM)
    assert scale == pytest.approx(samples.SCALE_3D)


def test_generator_constants_match(generator: ModuleType) -> None:
    assert generator.VOXEL_SIZE_3D_UM == pytest.approx(samples.VOXEL_SIZE_3D_UM)
    assert generator.SPACING_3D == pytest.approx(samples.SCALE_3D)
    assert generator.PIXEL_SIZE_UM == pytest.approx(samples.PIXEL_SIZE_UM)


def test_generator_2d_is_deterministic(generator: ModuleType) -> None:
    first = generator.make_nuclei_2d((64, 64), 6, seed=7)
    second = generator.make_nuclei_2d((64, 64), 6, seed=7)
    other = generator.make_nuclei_2d((64, 64), 6, seed=8)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    assert first[0].dtype == first[1].dtype == np.uint16
    assert first[1].max() > 0
    assert not np.array_equal(first[0], other[0])
    scribbles = generator.make_scribbles(first[1], n_annotated_nuclei=3, seed=1)
    np.testing.assert_array_equal(scribbles, generator.make_scribbles(first[1], n_annotated_nuclei=3, seed=1))


def test_generator_3d_is_deterministic(generator: ModuleType) -> None:
    first = generator.make_nuclei_3d((12, 40, 40), seed=3)
    second = generator.make_nuclei_3d((12, 40, 40), seed=3)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    assert first[0].shape == (12, 40, 40)


def check_layer_tuples(layers: list, names: list[str], types: list[str]) -> None:
    assert [layer[2] for layer in layers] == types
    assert [layer[1]["name"] for layer in layers] == names
    for data, kwargs, _ in layers:
        assert isinstance(data, np.ndarray)
        assert isinstance(kwargs, dict)


def test_nuclei_2d_sample_layers() -> None:
    layers = samples.nuclei_2d_sample()
    check_layer_tuples(
        layers,
        ["nuclei 2D", "nuclei 2D ground truth", "nuclei 2D scribbles"],
        ["image", "labels", "labels"],
    )
    image_kwargs = layers[0][1]
    assert image_kwargs["colormap"] == "gray"
    lo, hi = image_kwargs["contrast_limits"]
    assert layers[0][0].min() <= lo < hi <= layers[0][0].max()
    assert layers[1][1]["visible"] is False
    assert layers[2][0].dtype == np.uint8


def test_nuclei_3d_sample_layers() -> None:
    layers = samples.nuclei_3d_sample()
    check_layer_tuples(layers, ["nuclei 3D", "nuclei 3D ground truth"], ["image", "labels"])
    for data, kwargs, _ in layers:
        assert data.ndim == 3
        assert tuple(kwargs["scale"]) == samples.SCALE_3D
        assert kwargs["metadata"]["voxel_size_um"] == samples.VOXEL_SIZE_3D_UM
    assert layers[1][1]["visible"] is False


def test_samples_module_is_gui_free() -> None:
    tree = ast.parse(Path(samples.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & {"napari", "qtpy", "magicgui", "PyQt5", "PyQt6", "PySide2", "PySide6", "torch"}
