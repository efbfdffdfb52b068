"""Nothing lost: an output that is an input (by name, relative path, symbolic or hard link) is refused, and
existing results in an --out folder are kept unless --overwrite."""

import os

import numpy as np
import pytest
import tifffile
import torch
from unet_helpers import make_net

from napari_tiled_unet import save_model
from napari_tiled_unet.cli.main import main
from napari_tiled_unet.cli.output_guard import same_file

PROG = "napari-tiled-unet"


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    save_model(make_net(depth=2, wf=1), tmp_path / "m.safetensors")
    for name in ("img", "other", "third"):
        tifffile.imwrite(tmp_path / f"{name}.tif", rng.normal(size=(30, 33)).astype(np.float32))
    labels = np.zeros((30, 33), np.uint8)
    labels[5:15, 5:15] = 1
    tifffile.imwrite(tmp_path / "lab.tif", labels)
    return tmp_path


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file() and not p.is_symlink()}


def _run(capsys, *args):
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


def _one_line(code, err, *needles):
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"{PROG}: error: ") and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_same_file():
    assert same_file(__file__, os.path.relpath(__file__))
    assert not same_file(__file__, __file__ + ".missing")


# ---------------------------------------------------------------------------------------------- predict
@pytest.mark.parametrize("how", ["same", "relative", "symlink", "hardlink", "dot-dot"])
def test_predict_refuses_to_overwrite_its_input(folder, capsys, monkeypatch, how):
    """The issue: `predict m.safetensors img.tif --out img.tif` replaced the input image with the labels."""
    image = folder / "img.tif"
    out = image
    if how == "relative":
        monkeypatch.chdir(folder)
        out = "img.tif"
    elif how == "symlink":
        out = folder / "link.tif"
        out.symlink_to(image)
    elif how == "hardlink":
        out = folder / "alias.tif"
        os.link(image, out)
    elif how == "dot-dot":
        (folder / "sub").mkdir()
        out = folder / "sub" / ".." / "img.tif"
    before = _snapshot(folder)
    code, err = _run(capsys, "predict", folder / "m.safetensors", image, "--out", out, "--quiet", "--device", "cpu")
    line = _one_line(code, err, "input image", "choose another --out")
    assert str(out) in line
    assert _snapshot(folder) == before


def test_predict_refuses_to_overwrite_the_model_through_a_hard_link(folder, capsys):
    os.link(folder / "m.safetensors", folder / "m.tif")
    before = _snapshot(folder)
    code, err = _run(capsys, "predict", folder / "m.safetensors", folder / "img.tif", "--out", folder / "m.tif",
                     "--quiet", "--device", "cpu")
    _one_line(code, err, "model")
    assert _snapshot(folder) == before


def test_folder_mode_refuses_a_result_name_that_is_an_input(folder, capsys):
    tifffile.imwrite(folder / "img_labels.tif", np.ones((30, 33), np.float32))
    before = _snapshot(folder)
    code, err = _run(capsys, "predict", folder / "m.safetensors", folder / "img.tif", folder / "img_labels.tif",
                     "--out", folder, "--quiet", "--device", "cpu", "--overwrite")
    _one_line(code, err, "the result of img.tif", "img_labels.tif", "input image")
    assert _snapshot(folder) == before  # not even img_labels_labels.tif was written


def test_folder_mode_keeps_existing_results_unless_overwrite(folder, capsys):
    results = folder / "results"
    results.mkdir()
    (results / "other_labels.tif").write_bytes(b"an earlier result")
    before = _snapshot(folder)
    images = [folder / "img.tif", folder / "other.tif", folder / "third.tif"]
    code, err = _run(capsys, "predict", folder / "m.safetensors", *images, "--out", results, "--quiet",
                     "--device", "cpu")
    _one_line(code, err, str(results / "other_labels.tif"), "--overwrite")
    assert sorted(p.name for p in results.iterdir()) == ["other_labels.tif"], "refused before any work"
    assert (results / "other_labels.tif").read_bytes() == b"an earlier result"
    assert _snapshot(folder) == before
    code, err = _run(capsys, "predict", folder / "m.safetensors", *images, "--out", results, "--quiet",
                     "--device", "cpu", "--overwrite")
    assert code == 0, err
    assert sorted(p.name for p in results.iterdir()) == ["img_labels.tif", "other_labels.tif", "third_labels.tif"]
    assert tifffile.imread(results / "other_labels.tif").shape == (30, 33)
    assert _snapshot(folder) == before  # the inputs


def test_an_explicitly_named_output_file_is_replaced(folder, capsys):
    out = folder / "result.tif"
    out.write_bytes(b"old")
    code, err = _run(capsys, "predict", folder / "m.safetensors", folder / "img.tif", "--out", out, "--quiet",
                     "--device", "cpu")
    assert code == 0, err
    assert tifffile.imread(out).shape == (30, 33)


# ---------------------------------------------------------------------------------------------- train
@pytest.mark.parametrize("how", ["init", "init-symlink", "config", "image-hardlink", "labels-hardlink"])
def test_train_refuses_to_overwrite_its_inputs(folder, capsys, how):
    model = folder / "m.safetensors"
    args = ["train", "--images", folder / "img.tif", "--labels", folder / "lab.tif", "--epochs", "1", "--quiet"]
    if how == "init":
        out, role = model, "initial model"
        args += ["--init", model]
    elif how == "init-symlink":
        out, role = folder / "link.safetensors", "initial model"
        out.symlink_to(model)
        args += ["--init", model]
    elif how == "config":
        out, role = model, "--config file"
        args += ["--config", model]
    else:
        source = folder / ("img.tif" if how == "image-hardlink" else "lab.tif")
        out, role = folder / "x.safetensors", "training image" if how == "image-hardlink" else "label image"
        os.link(source, out)
    before = _snapshot(folder)
    code, err = _run(capsys, *args, "--out", out)
    _one_line(code, err, str(out), role)
    assert _snapshot(folder) == before


def test_save_config_cannot_replace_an_input(folder, capsys):
    before = _snapshot(folder)
    code, err = _run(capsys, "train", "--images", folder / "img.tif", "--labels", folder / "lab.tif", "--out",
                     folder / "new.safetensors", "--save-config", folder / "lab.tif", "--epochs", "1", "--quiet")
    _one_line(code, err, "--save-config", "label image")
    assert _snapshot(folder) == before


# ---------------------------------------------------------------------------------------------- export
@pytest.mark.parametrize("how", ["symlink", "hardlink"])
def test_export_refuses_to_overwrite_the_model(folder, capsys, how):
    model = folder / "m.safetensors"
    out = folder / "package.zip"
    if how == "symlink":
        out.symlink_to(model)
    else:
        os.link(model, out)
    before = _snapshot(folder)
    code, err = _run(capsys, "export", model, "--out", out)
    _one_line(code, err, "model", str(out))
    assert _snapshot(folder) == before
