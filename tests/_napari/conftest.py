"""Fixtures of the napari widget tests: a clean model registry, captured notifications, a tiny trained model."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from napari_tiled_unet import UNetConfig
from napari_tiled_unet.samples import load_nuclei_2d
from napari_tiled_unet.training.config import TrainingConfig
from napari_tiled_unet.training.loop import train

TINY_UNET = UNetConfig(depth=2, wf=2, batch_norm=True)
HERE = Path(__file__).parent


def pytest_collection_modifyitems(config, items):
    """Skip the GUI tests, not crash, where there is no display (pytest-xvfb sets DISPLAY when Xvfb exists)."""
    if not sys.platform.startswith("linux") or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return
    skip = pytest.mark.skip(reason="no display: install Xvfb and Mesa (make system-deps) to run the napari GUI tests")
    for item in items:
        if HERE in Path(str(item.fspath)).parents and {"qtbot", "make_napari_viewer"} & set(item.fixturenames):
            item.add_marker(skip)


@dataclass
class Notes:
    errors: list[str] = field(default_factory=list)
    infos: list[str] = field(default_factory=list)


@pytest.fixture
def notes(monkeypatch) -> Notes:
    """Messages the widgets show as napari notifications."""
    from napari.utils import notifications

    captured = Notes()
    monkeypatch.setattr(notifications, "show_error", captured.errors.append)
    monkeypatch.setattr(notifications, "show_info", captured.infos.append)
    return captured


@pytest.fixture(autouse=True)
def clean_registry():
    from napari_tiled_unet._napari.model_registry import registry

    registry.clear()
    yield registry
    registry.clear()


@pytest.fixture(scope="session")
def sample() -> dict[str, np.ndarray]:
    return load_nuclei_2d()


@pytest.fixture(scope="session")
def tiny_model(sample):
    """A 2D model trained for a few steps on the sample's scribbles (label values 1 = background, 2 = nucleus)."""
    config = TrainingConfig(sparse=True, unet=TINY_UNET, patch_size=44, batch_size=2, epochs=1, time_limit=None,
                            steps_per_epoch=2, val_fraction=0.0)
    return train(sample["image"][:128, :128], sample["scribbles"][:128, :128], config)


@pytest.fixture(scope="session")
def instance_model(sample):
    """A 2D instance model trained for a few steps on the sample's ground truth (one id per nucleus)."""
    config = TrainingConfig(task="instances", unet=TINY_UNET, patch_size=92, batch_size=2, epochs=2, time_limit=None,
                            steps_per_epoch=10, val_fraction=0.0)
    return train(sample["image"][:160, :160], sample["labels"][:160, :160], config)


def _make_tiny(widget, new_model: bool = True) -> None:
    """Settings of the Train widget for a training run of about a second: a new tiny network, by default chosen
    by hand (so that the sample's scribbles train classes rather than an instance model from builtin:nuclei)."""
    from napari_tiled_unet._napari.train_form import NEW_MODEL

    if new_model:
        widget.start_from.value = "builtin:nuclei"  # the user picks a new model by hand (it was already the value)
        widget.start_from.value = NEW_MODEL
    widget.time_limit.value = 0
    widget.epochs.value = 1
    advanced = widget.advanced
    advanced.depth.value = 2
    advanced.wf.value = 2
    advanced.patch_size.value = 44
    advanced.batch_size.value = 2
    advanced.steps_per_epoch.value = 2
    advanced.val_fraction.value = 0.05


def checked(widget, qtbot, timeout: int = 30_000) -> None:
    """Wait until the Train widget's label check has shown its result (it runs in a background thread)."""
    qtbot.waitUntil(lambda: not widget.label_check.pending, timeout=timeout)


@pytest.fixture
def wait_checked(qtbot):
    """A function that waits for a Train widget's label check."""
    return lambda widget: checked(widget, qtbot)


@pytest.fixture
def make_tiny():
    """A function that sets a Train widget up for a training run of about a second."""
    return _make_tiny


@pytest.fixture
def viewer(make_napari_viewer):
    """A viewer with the 2D sample (image, ground truth, scribbles) opened through the plugin."""
    viewer = make_napari_viewer()
    viewer.open_sample("napari-tiled-unet", "nuclei_2d")
    return viewer
