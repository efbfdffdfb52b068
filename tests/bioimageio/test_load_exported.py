"""``load_model`` opens packages exported by napari-tiled-unet, and still refuses every other zip unopened."""

import pickle
import zipfile

import numpy as np
import pytest
import tifffile
import torch

from napari_tiled_unet import ModelFileError, load_model
from napari_tiled_unet.cli.main import main
from napari_tiled_unet.model_file import EXPORT_ATTACHMENT, read_model_metadata


@pytest.fixture
def no_torch_load(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("torch.load must never be called on a model file")

    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)


def test_round_trip_same_weights_and_metadata(package, trained, no_torch_load):
    loaded = load_model(package)
    original = trained.state_dict()
    assert loaded.config == trained.config and not loaded.training
    assert loaded.metadata == trained.metadata
    for name, tensor in loaded.state_dict().items():
        assert torch.equal(tensor, original[name].cpu()), name
    assert read_model_metadata(package)["training"] == trained.metadata["training"]


def test_exported_package_predicts_from_the_command_line(package, tmp_path, rng):
    image = tmp_path / "image.tif"
    tifffile.imwrite(image, rng.integers(0, 3000, size=(70, 90)).astype(np.uint16))
    out = tmp_path / "labels.tif"
    assert main(["predict", str(package), str(image), "--out", str(out), "--quiet"]) == 0
    assert tifffile.imread(out).shape == (70, 90)


def _zip(path, members):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_pytorch_checkpoint_is_still_refused_unopened(tmp_path, trained, no_torch_load):
    checkpoint = tmp_path / "model.pt"
    with open(checkpoint, "wb") as handle:
        torch.save(trained.state_dict(), handle)  # the real torch.save, before torch.load is blocked
    with pytest.raises(ModelFileError, match=r"zip archive.*loading pickles runs code"):
        load_model(checkpoint)


def test_foreign_bioimageio_package_is_refused(tmp_path, no_torch_load):
    foreign = _zip(tmp_path / "foreign.zip", {"rdf.yaml": "type: model\n", "weights.pt": b"PK\x03\x04pickle"})
    with pytest.raises(ModelFileError, match=r"not exported by napari-tiled-unet.*pickles"):
        load_model(foreign)


def test_damaged_packages_get_a_clear_error(tmp_path, package, no_torch_load):
    raw = package.read_bytes()
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ModelFileError, match=r"truncated\.zip.*cannot be read"):
        load_model(truncated)
    garbage = _zip(tmp_path / "garbage.zip", {"rdf.yaml": "type: model\n", EXPORT_ATTACHMENT: b"\x00" * 64})
    with pytest.raises(ModelFileError, match=r"garbage\.zip"):
        load_model(garbage)
    with zipfile.ZipFile(package) as archive:
        inner = archive.read(EXPORT_ATTACHMENT)
    corrupt = _zip(tmp_path / "corrupt.zip", {"rdf.yaml": "type: model\n", EXPORT_ATTACHMENT: inner[: len(inner) // 2]})
    with pytest.raises(ModelFileError, match=r"corrupt\.zip.*(corrupt|truncated)"):
        load_model(corrupt)
