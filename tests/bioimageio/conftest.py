"""Shared fixtures: one briefly trained 2D model and its bioimage.io export (made once per session)."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from unet_helpers import make_net

from napari_tiled_unet import samples, save_model
from napari_tiled_unet.bioimageio import export_bioimageio
from napari_tiled_unet.config import UNetConfig
from napari_tiled_unet.training.config import TrainingConfig
from napari_tiled_unet.training.loop import train

METADATA = {"normalization": {"low": 1.0, "high": 99.8}, "task": "semantic",
            "class_names": ["background", "nucleus"], "label_values": [0, 1]}


def _crafted(**config):
    net = make_net(**config)
    net.metadata = {k: (list(v) if isinstance(v, list) else (dict(v) if isinstance(v, dict) else v))
                    for k, v in METADATA.items()}
    if net.config.n_classes != 2:
        net.metadata["class_names"] = [f"c{i}" for i in range(net.config.n_classes)]
        net.metadata["label_values"] = list(range(net.config.n_classes))
    return net


def _read_npy(package, name: str) -> np.ndarray:
    with zipfile.ZipFile(package) as archive:
        return np.load(io.BytesIO(archive.read(name)), allow_pickle=False)


@pytest.fixture(scope="session")
def crafted():
    """Factory of randomly initialised nets with the metadata training would store (no training: fast)."""
    return _crafted


@pytest.fixture(scope="session")
def read_npy():
    """Read a .npy member of a package."""
    return _read_npy


@pytest.fixture(scope="session")
def trained():
    """A 2D instance-segmentation model trained for three steps on the nuclei sample."""
    data = samples.load_nuclei_2d()
    config = TrainingConfig(task="instances", unet=UNetConfig(depth=3, wf=2), patch_size=124, epochs=1,
                            steps_per_epoch=3, time_limit=None, device="cpu")
    return train(data["image"], data["labels"], config)


@pytest.fixture(scope="session")
def trained_file(trained, tmp_path_factory):
    return save_model(trained, tmp_path_factory.mktemp("trained") / "nuclei.safetensors")


@pytest.fixture(scope="session")
def package(trained_file, tmp_path_factory):
    """The exported package of the trained model."""
    return export_bioimageio(trained_file, tmp_path_factory.mktemp("export") / "nuclei.zip",
                             name="Nuclei U-Net (test)", authors=["Jane Doe", "John Roe"],
                             license="MIT", tags=["nuclei"])
