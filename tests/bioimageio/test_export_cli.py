"""``napari-tiled-unet export``: a package on success; bad input ends in exit 2, one line, and no file left."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from unet_helpers import make_net

from napari_tiled_unet import load_model, save_model
from napari_tiled_unet.bioimageio import export as export_module
from napari_tiled_unet.cli.main import main

PROG = "napari-tiled-unet"


def _one_error_line(code, err):
    assert code == 2
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{PROG}: error: ")
    return lines[0]


@pytest.fixture
def out_dir(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def test_export_writes_a_package_that_loads_again(trained_file, out_dir, capsys):
    out = out_dir / "shared.zip"
    code = main(["export", str(trained_file), "--format", "bioimageio", "--out", str(out), "--name", "My nuclei model",
                 "--authors", "Jane Doe; John Roe", "--license", "MIT", "--tags", "nuclei, fluorescence"])
    assert code == 0
    assert "wrote" in capsys.readouterr().err
    assert sorted(p.name for p in out_dir.iterdir()) == ["shared.zip"]  # no temporary file left
    assert load_model(out).metadata == load_model(trained_file).metadata
    again = out_dir / "again.zip"  # a shared package can be exported again
    assert main(["export", str(out), "--out", str(again), "--authors", "Jane Doe"]) == 0
    assert load_model(again).metadata == load_model(trained_file).metadata


def test_untrained_model_is_refused_with_how_to_train(tmp_path, out_dir, capsys):
    untrained = save_model(make_net(depth=2, wf=1), tmp_path / "untrained.safetensors")
    code = main(["export", str(untrained), "--out", str(out_dir / "m.zip")])
    line = _one_error_line(code, capsys.readouterr().err)
    assert "train" in line and "normalisation" in line
    assert list(out_dir.iterdir()) == []


@pytest.mark.parametrize("damage", ["truncated", "missing", "pickle"])
def test_bad_model_files(trained_file, tmp_path, out_dir, capsys, damage):
    path = tmp_path / f"{damage}.safetensors"
    if damage == "truncated":
        raw = trained_file.read_bytes()
        path.write_bytes(raw[: len(raw) // 3])
    elif damage == "pickle":
        path.write_bytes(b"\x80\x04\x95" + bytes(40))
    code = main(["export", str(path), "--out", str(out_dir / "m.zip")])
    assert path.name in _one_error_line(code, capsys.readouterr().err)
    assert list(out_dir.iterdir()) == []


@pytest.mark.parametrize("where", ["missing_folder", "is_folder", "not_zip", "system"])
def test_unwritable_destinations(trained_file, out_dir, capsys, where):
    out = {"missing_folder": out_dir / "no" / "m.zip", "is_folder": out_dir, "not_zip": out_dir / "m.tar",
           "system": Path("/proc/napari_tiled_unet_export.zip")}[where]
    if where == "system" and not Path("/proc").is_dir():
        pytest.skip("needs /proc")
    code = main(["export", str(trained_file), "--out", str(out)])
    _one_error_line(code, capsys.readouterr().err)
    assert list(out_dir.iterdir()) == [] and not out.is_file()


@pytest.mark.parametrize("option", [["--name", "x/y"], ["--license", "not a license"], ["--authors", " ; "],
                                    ["--authors", "a/b"]])
def test_bad_options(trained_file, out_dir, capsys, option):
    code = main(["export", str(trained_file), "--out", str(out_dir / "m.zip"), *option])
    _one_error_line(code, capsys.readouterr().err)
    assert list(out_dir.iterdir()) == []


def test_failure_half_way_leaves_no_partial_zip(trained_file, out_dir, monkeypatch, capsys):
    def fail(*args, **kwargs):
        raise ValueError("disk full (simulated)")

    monkeypatch.setattr(export_module, "cover_png", fail)
    code = main(["export", str(trained_file), "--out", str(out_dir / "m.zip")])
    assert "simulated" in _one_error_line(code, capsys.readouterr().err)
    assert list(out_dir.iterdir()) == []


def test_console_script_exit_code(tmp_path):
    script = Path(sys.executable).parent / PROG
    command = [str(script)] if script.exists() else [shutil.which(PROG) or PROG]
    untrained = save_model(make_net(depth=2, wf=1), tmp_path / "u.safetensors")
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    result = subprocess.run([*command, "export", str(untrained), "--out", str(tmp_path / "u.zip")],
                            capture_output=True, text=True, timeout=120, env=env)
    _one_error_line(result.returncode, result.stderr)
    assert not (tmp_path / "u.zip").exists()
