"""Packaging: the napari manifest (npe2), its commands, the sample data outside the repository, the wheel."""

import importlib
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata, resources
from pathlib import Path

import numpy as np
import pytest
import yaml

DIST = "napari-tiled-unet"
PACKAGE = "napari_tiled_unet"
REPO = Path(__file__).resolve().parents[1]


def _entry_point():
    points = [ep for ep in metadata.entry_points(group="napari.manifest") if ep.name == DIST]
    assert len(points) == 1, f"{DIST} registers {len(points)} napari.manifest entry points"
    return points[0]


def _manifest() -> dict:
    """The installed manifest as plain data (read the way npe2 finds it, without npe2's validation)."""
    module, _, resource = _entry_point().value.partition(":")
    text = resources.files(module).joinpath(resource).read_text(encoding="utf-8")
    return yaml.safe_load(text)


def _resolve(python_name: str):
    module, _, attribute = python_name.partition(":")
    assert module and attribute, f"python_name {python_name!r} must be 'module:attribute'"
    target = importlib.import_module(module)
    for part in attribute.split("."):
        target = getattr(target, part)
    return target


def test_entry_point_names_the_packaged_manifest():
    assert _entry_point().value == f"{PACKAGE}:napari.yaml"
    assert resources.files(PACKAGE).joinpath("napari.yaml").is_file()


def test_manifest_name_is_the_distribution_name():
    manifest = _manifest()
    assert manifest["name"] == DIST
    assert metadata.distribution(DIST).metadata["Name"] == manifest["name"]


def test_display_name():
    assert _manifest()["display_name"] == "Tiled U-Net"


def test_npe2_validate():
    done = subprocess.run([sys.executable, "-m", "npe2", "validate", DIST], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_npe2_manifest_from_distribution():
    import npe2

    manifest = npe2.PluginManifest.from_distribution(DIST)
    assert manifest.name == DIST
    assert manifest.display_name == "Tiled U-Net"
    manifest.validate_imports()


def test_every_command_resolves_to_a_callable():
    commands = _manifest()["contributions"]["commands"]
    assert commands
    ids = [command["id"] for command in commands]
    assert len(set(ids)) == len(ids)
    for command in commands:
        assert command["id"].startswith(f"{DIST}.")
        assert command["python_name"].startswith(f"{PACKAGE}.")
        assert callable(_resolve(command["python_name"])), command["python_name"]


def test_contributions_refer_to_declared_commands():
    contributions = _manifest()["contributions"]
    ids = {command["id"] for command in contributions["commands"]}
    for kind, entries in contributions.items():
        if kind == "commands":
            continue
        for entry in entries:
            if "command" in entry:
                assert entry["command"] in ids, f"{kind} entry refers to unknown command {entry['command']}"


def test_sample_data_commands_work_outside_the_repository(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    contributions = _manifest()["contributions"]
    samples = contributions.get("sample_data", [])
    assert {sample["key"] for sample in samples} >= {"nuclei_2d", "nuclei_3d"}
    commands = {command["id"]: command["python_name"] for command in contributions["commands"]}
    for sample in samples:
        result = _resolve(commands[sample["command"]])()
        assert isinstance(result, list) and result, sample["key"]
        for item in result:
            assert isinstance(item, tuple) and len(item) == 3
            data, kwargs, layer_type = item
            assert isinstance(data, np.ndarray) and data.size > 0
            assert isinstance(kwargs, dict) and kwargs.get("name")
            assert layer_type in ("image", "labels")
            if layer_type == "labels":
                assert data.dtype.kind in "iu"
        shapes = {item[0].shape for item in result}
        assert len(shapes) == 1, f"layers of {sample['key']} differ in shape: {shapes}"
    assert list(tmp_path.iterdir()) == [], "loading samples must not write into the current folder"


def test_sample_files_are_inside_the_package():
    folder = resources.files(PACKAGE).joinpath("sample_data")
    names = {entry.name for entry in folder.iterdir()}
    assert {"nuclei_2d.tif", "nuclei_3d.tif", "nuclei_2d_scribbles.tif"} <= names


@pytest.mark.slow
def test_wheel_contains_manifest_and_samples(tmp_path):
    source = tmp_path / "source"
    shutil.copytree(
        REPO, source, symlinks=True,
        ignore=shutil.ignore_patterns(".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache",
                                      "tests", "benchmarks"),
    )
    wheels = tmp_path / "wheels"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels)],
        cwd=source, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = wheels.glob("napari_tiled_unet-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        manifest = yaml.safe_load(archive.read(f"{PACKAGE}/napari.yaml"))
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        entry_text = archive.read(entry_points).decode()
    assert manifest["name"] == DIST
    packaged = {n.removeprefix(f"{PACKAGE}/sample_data/") for n in names if n.startswith(f"{PACKAGE}/sample_data/")}
    expected = {p.name for p in (REPO / "sample_data").glob("*.tif")}
    assert expected and expected <= packaged
    assert f"{PACKAGE}/py.typed" in names
    assert not any(n.startswith("tests/") for n in names)
    assert f"{DIST} = {PACKAGE}:napari.yaml" in entry_text
    assert f"{DIST} = {PACKAGE}.cli.main:run" in entry_text
