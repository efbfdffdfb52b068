"""The ``napari-tiled-unet`` command: help, ``info``, the ``export``/``train`` entries and the console script."""

import itertools
import json
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from unet_helpers import make_net

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
