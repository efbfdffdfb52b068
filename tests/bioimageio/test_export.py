"""The exported package: files, description fields, geometry, preprocessing and test tensors (no bioimageio needed)."""

import hashlib
import io
import subprocess
import sys
import zipfile

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from napari_tiled_unet.bioimageio import export_bioimageio
from napari_tiled_unet.bioimageio.rdf import FILES
from napari_tiled_unet.inference import predict_image, softmax
from napari_tiled_unet.model_file import EXPORT_ATTACHMENT
from napari_tiled_unet.normalization import PercentileNormalization

yaml = pytest.importorskip("yaml")


def _rdf(package):
    with zipfile.ZipFile(package) as archive:
        return yaml.safe_load(archive.read("rdf.yaml"))


def test_package_lists_every_file_with_its_checksum(package):
    rdf = _rdf(package)
    with zipfile.ZipFile(package) as archive:
        names = set(archive.namelist())
        digests = {n: hashlib.sha256(archive.read(n)).hexdigest() for n in names}
    assert names == {"rdf.yaml", EXPORT_ATTACHMENT, *FILES.values()}
    entries = [rdf["attachments"][0], rdf["weights"]["pytorch_state_dict"], rdf["weights"]["torchscript"],
               rdf["weights"]["pytorch_state_dict"]["architecture"], rdf["inputs"][0]["test_tensor"],
               rdf["outputs"][0]["test_tensor"], rdf["inputs"][0]["sample_tensor"], rdf["outputs"][0]["sample_tensor"]]
    for entry in entries:
        assert digests[entry["source"]] == entry["sha256"]
    assert {rdf["documentation"], *rdf["covers"]} <= names


def test_description_fields(package, trained):
    rdf = _rdf(package)
    cfg = trained.config
    assert rdf["type"] == "model" and rdf["format_version"].startswith("0.5.")
    assert rdf["name"] == "Nuclei U-Net (test)" and rdf["license"] == "MIT"
    assert rdf["authors"] == [{"name": "Jane Doe"}, {"name": "John Roe"}]
    assert rdf["cite"][0]["doi"] == "10.1007/978-3-319-24574-4_28" and "1505.04597" in rdf["cite"][0]["url"]
    assert {"nuclei", "2d", "unet", "instance-segmentation"} <= set(rdf["tags"])
    state_dict = rdf["weights"]["pytorch_state_dict"]
    assert state_dict["architecture"]["callable"] == "StandaloneUNet"
    assert state_dict["architecture"]["kwargs"] == {**cfg.to_dict(), "output_crop": 0, "final_activation": "softmax"}
    assert state_dict["pytorch_version"] == torch.__version__.split("+")[0]
    assert rdf["weights"]["torchscript"]["parent"] == "pytorch_state_dict"
    ours = rdf["config"]["napari_tiled_unet"]
    assert ours["training"] == trained.metadata["training"] and ours["model_file"] == EXPORT_ATTACHMENT
    assert rdf["config"]["bioimageio"]["training"]["training_epochs"] == 1.0


def test_geometry_and_preprocessing_describe_the_valid_network(package, trained):
    rdf = _rdf(package)
    cfg = trained.config
    raw, probs = rdf["inputs"][0], rdf["outputs"][0]
    assert [a["type"] for a in raw["axes"]] == ["batch", "channel", "space", "space"]
    for axis, out_axis, name in zip(raw["axes"][2:], probs["axes"][2:], "yx"):
        assert axis == {"type": "space", "id": name, "size": {"min": cfg.min_input_size, "step": 2 ** (cfg.depth - 1)}}
        assert out_axis["size"] == {"tensor_id": "raw", "axis_id": name, "offset": -2 * cfg.margin}
    assert probs["axes"][1]["channel_names"] == trained.metadata["class_names"]
    norm = trained.metadata["normalization"]
    scale = [p for p in raw["preprocessing"] if p["id"] == "scale_range"]
    assert scale == [{"id": "scale_range", "kwargs": {"axes": ["batch", "y", "x"], "min_percentile": norm["low"],
                                                       "max_percentile": norm["high"], "eps": 1e-6}}]
    assert raw["data"]["type"] == "float32" and probs["data"]["range"] == [0.0, 1.0]


def test_test_tensors_are_raw_input_and_our_prediction(package, trained, read_npy):
    cfg = trained.config
    raw, expected = read_npy(package, FILES["test_input"]), read_npy(package, FILES["test_output"])
    size = raw.shape[-1]
    assert raw.dtype == np.float32 and expected.dtype == np.float32
    assert raw.shape == (1, 1, size, size) and cfg.is_valid_size(size) and size >= 256
    assert expected.shape == (1, cfg.n_classes, size - 2 * cfg.margin, size - 2 * cfg.margin)
    assert raw.max() > 100  # raw intensities: the runtime applies the normalisation itself
    assert cfg.margin % cfg.alignment == 0  # depth 3: a crop's own tiles share the pooling grid
    probs, _ = predict_image(trained, raw[0], axes="CYX", output="probabilities")
    m = cfg.margin
    np.testing.assert_allclose(expected[0], probs[:, m:-m, m:-m], rtol=0, atol=1e-6)


@pytest.mark.parametrize("config", [{"depth": 4, "wf": 1}, {"depth": 4, "wf": 1, "up_mode": "upsample"},
                                    {"depth": 2, "wf": 1, "dims": 3}, {"depth": 3, "wf": 1, "padding": "same"},
                                    {"depth": 3, "wf": 1, "n_classes": 1}],
                         ids=["depth4", "upsample", "3d", "same", "sigmoid"])
def test_test_output_equals_one_pass_of_the_net_over_the_normalised_input(config, crafted, read_npy, tmp_path):
    net = crafted(**config)
    cfg = net.config
    package = export_bioimageio(net, tmp_path / "m.zip")
    raw, expected = read_npy(package, FILES["test_input"]), read_npy(package, FILES["test_output"])
    norm = PercentileNormalization.from_dict(net.metadata["normalization"])
    with torch.inference_mode():
        logits = net(torch.from_numpy(norm.apply(raw[0], channel_axis=0))[None])[0].numpy()
    crop = cfg.upsample_halo
    if crop:
        logits = logits[(slice(None),) + (slice(crop, -crop),) * cfg.dims]
    np.testing.assert_allclose(expected[0], softmax(logits), rtol=0, atol=1e-5)
    rdf = _rdf(package)
    offsets = {a["size"]["offset"] for a in rdf["outputs"][0]["axes"][2:]}
    assert offsets == {expected.shape[-1] - raw.shape[-1]} == {-2 * (cfg.margin + crop)}


def test_cover_and_documentation(package):
    with zipfile.ZipFile(package) as archive:
        cover = iio.imread(io.BytesIO(archive.read(FILES["cover"])), extension=".png")
        readme = archive.read(FILES["documentation"]).decode()
    assert cover.ndim == 3 and cover.shape[1] == 2 * cover.shape[0]
    assert "## Validation" in readme and "Ronneberger" in readme and "44 + n x 4" in readme


def test_sample_image_and_github_authors(crafted, tmp_path, rng):
    net = crafted(depth=3, wf=1, in_channels=2)
    image = rng.integers(0, 4000, size=(2, 100, 120)).astype(np.uint16)  # smaller than the test size: mirrored
    package = export_bioimageio(net, tmp_path / "two", authors=["Jane Doe (@jdoe)"], description="Two channels.")
    assert package.suffix == ".zip"
    rdf = _rdf(package)
    assert rdf["authors"] == [{"name": "Jane Doe", "github_user": "jdoe"}]
    assert rdf["description"] == "Two channels."
    export_bioimageio(net, package, sample_image=image)
    with zipfile.ZipFile(package) as archive:
        raw = np.load(io.BytesIO(archive.read(FILES["test_input"])))
    assert raw.shape[:2] == (1, 2) and set(np.unique(raw)) <= set(np.unique(image).astype(np.float32))


def test_export_never_imports_the_bioimageio_libraries():
    code = ("import sys, napari_tiled_unet.bioimageio, napari_tiled_unet.cli.main; "
            "print(sorted(m for m in sys.modules if m == 'bioimageio' or m.startswith('bioimageio.')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "[]"


def test_a_normalisation_bioimageio_cannot_describe_is_refused(crafted, tmp_path):
    net = crafted(depth=2, wf=1)
    net.metadata["normalization"] = {"low": 0.0, "high": 0.5}
    with pytest.raises(ValueError, match="high percentile"):
        export_bioimageio(net, tmp_path / "m.zip")
    assert list(tmp_path.iterdir()) == []
