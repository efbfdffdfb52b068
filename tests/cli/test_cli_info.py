"""The ``napari-tiled-unet`` command: help, ``info``, the ``export``/``train`` entries and the console script."""

import itertools
import json
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from unet_helpers import ANISO_3D, make_net

from napari_tiled_unet import __version__, save_model
from napari_tiled_unet.cli.main import main
from napari_tiled_unet.normalization import PercentileNormalization

PROG = "napari-tiled-unet"
COMMANDS = ("train", "predict", "info", "export")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    net = make_net(depth=3, wf=1, n_classes=3)
    metadata = {
        "task": "semantic",
        "class_names": ["background", "nucleus", "border"],
        "label_values": [1, 2, 3],
        "normalization": PercentileNormalization(low=2, high=99).to_dict(),
        "training": {"epochs": 3},
    }
    return save_model(net, tmp_path_factory.mktemp("model") / "nuclei.safetensors", metadata=metadata)


def _console_script():
    script = Path(sys.executable).parent / PROG
    if script.exists():
        return str(script)
    found = shutil.which(PROG)
    if found is None:
        pytest.fail(f"console script {PROG} is not installed next to {sys.executable} nor on PATH")
    return found


def _assert_one_error_line(code, err):
    assert code == 2
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{PROG}: error: ")


def _assert_lists_commands(text):
    for command in COMMANDS:
        assert command in text, f"--help does not list {command}"


# ---------------------------------------------------------------------------------------------- help
def test_help_in_process(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: {PROG}")
    _assert_lists_commands(out)


def test_help_with_python_dash_m():
    done = subprocess.run([sys.executable, "-m", "napari_tiled_unet.cli", "--help"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert PROG in done.stdout
    _assert_lists_commands(done.stdout)


def test_help_with_console_script():
    done = subprocess.run([_console_script(), "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: {PROG}")
    _assert_lists_commands(done.stdout)


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"{PROG} {__version__}"


def test_no_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: {PROG} {command}")


# ---------------------------------------------------------------------------------------------- info
def test_info_text(model, capsys):
    code = main(["info", str(model)])
    out = capsys.readouterr().out
    assert code == 0
    net = make_net(depth=3, wf=1, n_classes=3)
    cfg = net.config
    assert str(model) in out
    assert f"margin: {cfg.margin} px" in out
    assert "valid input sizes" in out
    assert f"{cfg.min_input_size}->{cfg.output_size(cfg.min_input_size)}" in out
    second = cfg.min_input_size + cfg.alignment
    assert f"{second}->{cfg.output_size(second)}" in out
    assert "nucleus" in out
    assert "[1, 2, 3]" in out
    assert "epochs=3" in out


def test_info_json(model, capsys):
    code = main(["info", str(model), "--json"])
    out = capsys.readouterr().out
    assert code == 0
    info = json.loads(out)
    assert {"config", "geometry", "metadata"} <= set(info)
    cfg = make_net(depth=3, wf=1, n_classes=3).config
    assert info["config"] == cfg.to_dict()
    geometry = info["geometry"]
    assert geometry["margin"] == cfg.margin
    assert geometry["min_input_size"] == cfg.min_input_size
    assert geometry["alignment"] == cfg.alignment
    sizes = geometry["valid_input_sizes"]
    assert sizes[0] == cfg.min_input_size
    assert all(b - a == cfg.alignment for a, b in itertools.pairwise(sizes))
    assert geometry["output_sizes"] == [cfg.output_size(s) for s in sizes]
    assert all(o == s - 2 * cfg.margin for s, o in zip(sizes, geometry["output_sizes"], strict=True))
    assert info["metadata"]["label_values"] == [1, 2, 3]
    assert info["metadata"]["normalization"] == {"low": 2.0, "high": 99.0, "scope": "image"}
    assert info["parameters"] > 0


def test_info_of_an_untrained_model(tmp_path, capsys):
    path = save_model(make_net(depth=2, wf=1), tmp_path / "bare.safetensors")
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "none (untrained)" in out
    assert "none (raw intensities)" in out


@pytest.mark.parametrize("kind", ["missing", "pickle", "text", "folder"])
def test_info_of_a_bad_model(tmp_path, capsys, kind):
    path = tmp_path / "model.safetensors"
    if kind == "pickle":
        path.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    elif kind == "text":
        path.write_text("hello")
    elif kind == "folder":
        path.mkdir()
    code = main(["info", str(path)])
    captured = capsys.readouterr()
    _assert_one_error_line(code, captured.err)
    assert captured.out == ""


# ---------------------------------------------------------------------------------------------- export, train
def test_train_help_works(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--help"])
    assert info.value.code == 0
    assert "train" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------- anisotropic
@pytest.fixture(scope="module")
def aniso_model(tmp_path_factory):
    net = make_net(wf=1, **ANISO_3D)
    return save_model(net, tmp_path_factory.mktemp("aniso") / "aniso.safetensors")


def test_info_of_an_anisotropic_model_shows_each_axis(aniso_model, capsys):
    assert main(["info", str(aniso_model)]) == 0
    out = capsys.readouterr().out
    assert ("anisotropic geometry per axis (Z, Y, X): pooling per step 1x2x2 2x2x2; "
            "kernels per level 1x3x3 3x3x3 3x3x3") in out
    assert "margin (Z, Y, X): 8 px, 20 px, 20 px per side" in out
    assert "valid input sizes along Z: 18 + k*2 -> e.g. 18->2, 20->4" in out
    assert "valid input sizes along Y: 44 + k*4 -> e.g. 44->4, 48->8" in out


def test_info_json_of_an_anisotropic_model(aniso_model, capsys):
    assert main(["info", str(aniso_model), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    geometry = info["geometry"]
    assert geometry["isotropic"] is False and "margin" not in geometry
    assert info["config"]["pooling"] == [[1, 2, 2], [2, 2, 2]]
    z, y, x = geometry["axes"]
    assert (z["axis"], z["pooling"], z["kernels"], z["margin"], z["alignment"]) == ("Z", [1, 2], [1, 3, 3], 8, 2)
    assert {**y, "axis": "X"} == x and y["margin"] == 20 and y["alignment"] == 4
    for axis in geometry["axes"]:
        sizes = axis["valid_input_sizes"]
        assert all(b - a == axis["alignment"] for a, b in itertools.pairwise(sizes))
        assert axis["output_sizes"] == [s - 2 * axis["margin"] for s in sizes]


def test_info_json_of_an_isotropic_model_has_per_axis_entries_too(model, capsys):
    assert main(["info", str(model), "--json"]) == 0
    geometry = json.loads(capsys.readouterr().out)["geometry"]
    assert geometry["isotropic"] is True and len(geometry["axes"]) == 2
    assert all(a["margin"] == geometry["margin"] and a["pooling"] == [2, 2] for a in geometry["axes"])


def test_info_of_the_shipped_model_shows_its_card_and_tuned_objects(capsys):
    from napari_tiled_unet.builtin_models import builtin_model_names

    if "nuclei" not in builtin_model_names():
        pytest.skip("no builtin:nuclei in this installation")
    assert main(["info", "builtin:nuclei"]) == 0
    out = capsys.readouterr().out
    assert "predicts objects (one id per object)" in out and "objects: seed_threshold=" in out
    assert "model card:" in out and "What it scores on real images" in out
