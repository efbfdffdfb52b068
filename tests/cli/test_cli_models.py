"""``napari-tiled-unet models`` and ``builtin:NAME`` wherever a model file is accepted."""

import numpy as np
import pytest
import tifffile
from unet_helpers import make_net

from napari_tiled_unet import builtin_models, load_model, save_model
from napari_tiled_unet.cli.main import main

PROG = "napari-tiled-unet"


@pytest.fixture
def shipped(tmp_path, monkeypatch):
    folder = tmp_path / "models"
    folder.mkdir()
    save_model(make_net(depth=2, wf=1), folder / "nuclei.safetensors",
               metadata={"task": "semantic", "class_names": ["background", "nucleus"], "label_values": [0, 1],
                         "normalization": {"low": 1.0, "high": 99.8}})
    (folder / "nuclei.md").write_text("# Nuclei 2D\n\nA tiny test model. Nothing more.\n")
    monkeypatch.setattr(builtin_models, "models_folder", lambda: folder)
    return folder


def _run(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_models_lists_one_line_each(shipped, capsys):
    code, out, _ = _run(capsys, "models")
    assert code == 0
    assert out.splitlines() == ["builtin:nuclei  2D, semantic, 1 channel(s), classes background/nucleus; "
                                "A tiny test model."]


def test_models_name_prints_the_card(shipped, capsys):
    code, out, _ = _run(capsys, "models", "nuclei")
    assert code == 0 and "# Nuclei 2D" in out and "Nothing more." in out
    code, out, _ = _run(capsys, "models", "builtin:nuclei")
    assert code == 0 and "A tiny test model." in out


def test_models_says_when_none_is_shipped(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(builtin_models, "models_folder", lambda: tmp_path / "none")
    code, out, _ = _run(capsys, "models")
    assert code == 0 and "ships no built-in models" in out


def test_unknown_builtin_exits_2_listing_names(shipped, tmp_path, capsys):
    tifffile.imwrite(tmp_path / "a.tif", np.zeros((20, 20), np.float32))
    for args in (["predict", "builtin:nucleus", tmp_path / "a.tif", "--out", tmp_path / "o.tif"],
                 ["info", "builtin:nucleus"], ["models", "nucleus"]):
        code, _, err = _run(capsys, *args)
        assert code == 2 and "builtin:nuclei" in err and "Traceback" not in err
        assert len([line for line in err.splitlines() if line.strip()]) == 1


def test_predict_info_train_and_export_accept_builtin(shipped, tmp_path, capsys):
    rng = np.random.default_rng(0)
    tifffile.imwrite(tmp_path / "a.tif", rng.normal(size=(30, 31)).astype(np.float32))
    code, _, err = _run(capsys, "predict", "builtin:nuclei", tmp_path / "a.tif", "--out", tmp_path / "o.tif",
                        "--quiet", "--device", "cpu")
    assert code == 0, err
    assert tifffile.imread(tmp_path / "o.tif").shape == (30, 31)
    code, out, err = _run(capsys, "info", "builtin:nuclei")
    assert code == 0, err
    assert "margin" in out
    labels = np.zeros((30, 31), np.uint8)
    labels[5:15, 5:15] = 1
    tifffile.imwrite(tmp_path / "lab.tif", labels)
    code, _, err = _run(capsys, "train", "--images", tmp_path / "a.tif", "--labels", tmp_path / "lab.tif", "--out",
                        tmp_path / "tuned.safetensors", "--init", "builtin:nuclei", "--epochs", "1",
                        "--steps-per-epoch", "1", "--patch-size", "44", "--val-fraction", "0", "--quiet",
                        "--device", "cpu")
    assert code == 0, err
    assert load_model(tmp_path / "tuned.safetensors").config == load_model(shipped / "nuclei.safetensors").config
    code, _, err = _run(capsys, "export", "builtin:nuclei", "--out", tmp_path / "nuclei.zip")
    assert code == 0, err
    assert load_model(tmp_path / "nuclei.zip").config == load_model(shipped / "nuclei.safetensors").config
