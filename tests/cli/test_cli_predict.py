"""``napari-tiled-unet predict``: results on disk, and bad input ending in exit code 2 with one clear line."""

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from unet_helpers import make_net

from napari_tiled_unet import predict_tiled, save_model
from napari_tiled_unet.cli import predict_cmd
from napari_tiled_unet.cli.main import main
from napari_tiled_unet.image_io import read_image

PROG = "napari-tiled-unet"


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Tiny nets run far faster on one thread, and do not stall when other processes load the CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A model, a few images and broken files in a read-only-by-convention input folder."""
    folder = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(0)
    net = make_net(depth=2, wf=1)
    model = save_model(net, folder / "model.safetensors")
    raw = model.read_bytes()
    (folder / "truncated.safetensors").write_bytes(raw[: len(raw) // 2])
    (folder / "pickle.safetensors").write_bytes(pickle.dumps({"config": {"depth": 2}, "weights": [1, 2, 3]}))
    torch.save(net.state_dict(), folder / "checkpoint.pt")
    images = {
        "a": rng.normal(size=(40, 53)).astype(np.float32),
        "b": rng.integers(0, 4000, size=(35, 44)).astype(np.uint16),
        "stack": rng.normal(size=(3, 30, 31)).astype(np.float32),
    }
    tifffile.imwrite(folder / "a.tif", images["a"])
    tifffile.imwrite(folder / "b.tif", images["b"])
    tifffile.imwrite(folder / "stack.tif", images["stack"], imagej=True, metadata={"axes": "ZYX"})
    tifffile.imwrite(folder / "rgb.tif", rng.integers(0, 255, size=(30, 31, 3)).astype(np.uint8), photometric="rgb")
    tifffile.imwrite(folder / "two_channels.tif", rng.normal(size=(2, 30, 31)).astype(np.float32), imagej=True,
                     metadata={"axes": "CYX"})
    nan = images["a"].copy()
    nan[10, 12] = np.nan
    tifffile.imwrite(folder / "nan.tif", nan)
    (folder / "picture.tif").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    (folder / "notes.tif").write_text("not an image\n")
    compressed = folder / "compressed.tif"
    tifffile.imwrite(compressed, rng.normal(size=(64, 64)).astype(np.float32), compression="zlib")
    zraw = compressed.read_bytes()
    (folder / "truncated_zlib.tif").write_bytes(zraw[: len(zraw) // 2])
    return {"folder": folder, "model": model, "net": net, "images": images}


def _run(capsys, *args):
    """Run the command in-process; predictions run on the CPU (results are compared with CPU references)."""
    args = [str(a) for a in args]
    if args[0] == "predict" and "--device" not in args:
        args += ["--device", "cpu"]
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _assert_one_error_line(code, err):
    assert code == 2
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{PROG}: error: ")
    assert len(lines[0]) > len(f"{PROG}: error: ") + 20


def _files_in(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


# ---------------------------------------------------------------------------------------------- results
def test_predict_one_image_labels(files, tmp_path, capsys):
    out = tmp_path / "a_labels.tif"
    code, stdout, err = _run(capsys, "predict", files["model"], files["folder"] / "a.tif", "--out", out, "--quiet")
    assert code == 0, err
    assert stdout == ""
    assert "wrote" in err
    labels, axes = read_image(out)
    assert axes == "YX"
    assert labels.shape == files["images"]["a"].shape
    assert labels.dtype.kind == "u"
    expected = np.argmax(predict_tiled(files["net"], files["images"]["a"]), axis=0)
    np.testing.assert_array_equal(labels, expected)
    with tifffile.TiffFile(out) as tif:
        assert tif.is_imagej
        assert tif.pages[0].compression == tifffile.COMPRESSION.ADOBE_DEFLATE
    assert _files_in(tmp_path) == ["a_labels.tif"]


def test_predict_probabilities(files, tmp_path, capsys):
    out = tmp_path / "probs.tiff"
    code, _, err = _run(capsys, "predict", files["model"], files["folder"] / "a.tif", "--out", out,
                        "--output", "probabilities", "--quiet")
    assert code == 0, err
    probs, axes = read_image(out)
    assert probs.dtype == np.float32
    assert axes == "CYX"
    assert probs.shape == (2, *files["images"]["a"].shape)
    np.testing.assert_allclose(probs.sum(axis=0), 1.0, atol=1e-5)


def test_predict_instances(files, tmp_path, capsys):
    out = tmp_path / "inst.tif"
    code, _, err = _run(capsys, "predict", files["model"], files["folder"] / "stack.tif", "--out", out,
                        "--output", "instances", "--quiet")
    assert code == 0, err
    instances, axes = read_image(out)
    assert axes == "ZYX"
    assert instances.shape == (3, 30, 31)
    assert instances.dtype.kind == "u"
    # objects of consecutive planes are linked into 3D objects: an id shared by two planes overlaps itself
    for z in range(2):
        for shared in (set(np.unique(instances[z])) & set(np.unique(instances[z + 1]))) - {0}:
            assert ((instances[z] == shared) & (instances[z + 1] == shared)).any()


def test_predict_with_progress_bar(files, tmp_path, capsys):
    out = tmp_path / "a.tif"
    code, stdout, err = _run(capsys, "predict", files["model"], files["folder"] / "a.tif", "--out", out,
                             "--tile-size", "20", "--device", "auto")
    assert code == 0, err
    assert stdout == "", "the progress bar must not pollute stdout"
    assert "a.tif" in err and "tile" in err
    assert out.is_file()


def test_predict_several_images_to_a_folder(files, tmp_path, capsys):
    out = tmp_path / "results"
    out.mkdir()
    inputs = [files["folder"] / name for name in ("a.tif", "b.tif", "stack.tif")]
    code, _, err = _run(capsys, "predict", files["model"], *inputs, "--out", out, "--quiet")
    assert code == 0, err
    assert _files_in(out) == ["a_labels.tif", "b_labels.tif", "stack_labels.tif"]
    for name, key in (("a", "a"), ("b", "b"), ("stack", "stack")):
        labels, _ = read_image(out / f"{name}_labels.tif")
        assert labels.shape == files["images"][key].shape
        assert labels.dtype.kind == "u"


def test_predict_several_images_creates_the_folder(files, tmp_path, capsys):
    out = tmp_path / "new"
    inputs = [files["folder"] / "a.tif", files["folder"] / "b.tif"]
    code, _, err = _run(capsys, "predict", files["model"], *inputs, "--out", out, "--output", "probabilities",
                        "--quiet")
    assert code == 0, err
    assert _files_in(out) == ["a_probabilities.tif", "b_probabilities.tif"]
    probs, axes = read_image(out / "b_probabilities.tif")
    assert axes == "CYX" and probs.dtype == np.float32


def test_predict_one_image_to_a_folder(files, tmp_path, capsys):
    code, _, err = _run(capsys, "predict", files["model"], files["folder"] / "a.tif", "--out", tmp_path, "--quiet")
    assert code == 0, err
    assert _files_in(tmp_path) == ["a_labels.tif"]


def test_tile_size_is_honoured(files, tmp_path, capsys, monkeypatch):
    seen = []
    real = predict_cmd.predict_image

    def spy(*args, **kwargs):
        seen.append(kwargs.get("tile_shape"))
        return real(*args, **kwargs)

    monkeypatch.setattr(predict_cmd, "predict_image", spy)
    results = []
    for tile in ("20", "64"):
        out = tmp_path / f"probs_{tile}.tif"
        code, _, err = _run(capsys, "predict", files["model"], files["folder"] / "a.tif", "--out", out,
                            "--output", "probabilities", "--tile-size", tile, "--quiet")
        assert code == 0, err
        results.append(read_image(out)[0])
    assert seen == [20, 64]
    np.testing.assert_allclose(results[0], results[1], rtol=1e-4, atol=1e-5)


def test_axes_option(files, tmp_path, capsys):
    out = tmp_path / "t.tif"
    code, _, err = _run(capsys, "predict", files["model"], files["folder"] / "stack.tif", "--out", out,
                        "--axes", "TYX", "--quiet")
    assert code == 0, err
    labels, axes = read_image(out)
    assert axes == "TYX"
    assert labels.shape == (3, 30, 31)


# ---------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("model", "image", "out", "extra"),
    [
        pytest.param("model.safetensors", "missing.tif", "{tmp}/o.tif", [], id="missing-image"),
        pytest.param("model.safetensors", "picture.tif", "{tmp}/o.tif", [], id="png-renamed-tif"),
        pytest.param("model.safetensors", "notes.tif", "{tmp}/o.tif", [], id="text-renamed-tif"),
        pytest.param("missing.safetensors", "a.tif", "{tmp}/o.tif", [], id="missing-model"),
        pytest.param("pickle.safetensors", "a.tif", "{tmp}/o.tif", [], id="pickle-model"),
        pytest.param("checkpoint.pt", "a.tif", "{tmp}/o.tif", [], id="torch-checkpoint"),
        pytest.param("truncated.safetensors", "a.tif", "{tmp}/o.tif", [], id="truncated-model"),
        pytest.param("a.tif", "a.tif", "{tmp}/o.tif", [], id="image-as-model"),
        pytest.param("model.safetensors", "rgb.tif", "{tmp}/o.tif", [], id="rgb-for-grey-model"),
        pytest.param("model.safetensors", "two_channels.tif", "{tmp}/o.tif", [], id="two-channels"),
        pytest.param("model.safetensors", "nan.tif", "{tmp}/o.tif", [], id="nan"),
        pytest.param("model.safetensors", "a.tif", "{tmp}/missing/o.tif", [], id="missing-out-folder"),
        pytest.param("model.safetensors", "a.tif", "/proc/nope.tif", [], id="read-only-place"),
        pytest.param("model.safetensors", "a.tif", "{tmp}/o.png", [], id="png-out"),
        pytest.param("model.safetensors", "a.tif", "{tmp}/o.tif", ["--axes", "ZYX"], id="wrong-axes"),
        pytest.param("model.safetensors", "a.tif", "{tmp}/o.tif", ["--device", "tpu"], id="unknown-device"),
        pytest.param("model.safetensors", "a.tif", "{tmp}/o.tif", ["--tile-size", "0"], id="tile-size-0"),
        pytest.param("model.safetensors", "a.tif", "{tmp}/o.tif", ["--batch-size", "0"], id="batch-size-0"),
    ],
)
def test_bad_input_exits_2_with_one_line(files, tmp_path, capsys, model, image, out, extra):
    folder = files["folder"]
    before = _files_in(folder)
    work = tmp_path / "work"
    work.mkdir()
    code, stdout, err = _run(capsys, "predict", folder / model, folder / image, "--out",
                             out.format(tmp=work), "--quiet", *extra)
    _assert_one_error_line(code, err)
    assert stdout == ""
    assert _files_in(work) == [], "a failed run must leave no (partial) output behind"
    assert _files_in(folder) == before
    assert not os.path.exists("/proc/nope.tif")


def test_nan_error_without_quiet_ends_with_one_error_line(files, tmp_path, capsys):
    code, _, err = _run(capsys, "predict", files["model"], files["folder"] / "nan.tif", "--out", tmp_path / "o.tif")
    assert code == 2
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if f"{PROG}: error" in line]
    assert len(errors) == 1 and "NaN" in errors[0]
    assert err.rstrip().endswith(errors[0].split("\r")[-1])
    assert _files_in(tmp_path) == []


def test_truncated_compressed_image(files, tmp_path, capsys):
    code, _, err = _run(capsys, "predict", files["model"], files["folder"] / "truncated_zlib.tif", "--out",
                        tmp_path / "o.tif", "--quiet")
    _assert_one_error_line(code, err)
    assert _files_in(tmp_path) == []


def test_bad_second_image_writes_nothing(files, tmp_path, capsys):
    out = tmp_path / "results"
    out.mkdir()
    code, _, err = _run(capsys, "predict", files["model"], files["folder"] / "a.tif", files["folder"] / "rgb.tif",
                        "--out", out, "--quiet")
    _assert_one_error_line(code, err)
    assert "rgb.tif" in err
    assert _files_in(out) == []


def test_several_images_into_a_file(files, tmp_path, capsys):
    existing = tmp_path / "o.tif"
    existing.write_bytes(b"keep")
    code, _, err = _run(capsys, "predict", files["model"], files["folder"] / "a.tif", files["folder"] / "b.tif",
                        "--out", existing, "--quiet")
    _assert_one_error_line(code, err)
    assert existing.read_bytes() == b"keep"
    assert _files_in(tmp_path) == ["o.tif"]


def test_several_images_into_a_folder_of_a_missing_parent(files, tmp_path, capsys):
    code, _, err = _run(capsys, "predict", files["model"], files["folder"] / "a.tif", files["folder"] / "b.tif",
                        "--out", tmp_path / "missing" / "results", "--quiet")
    _assert_one_error_line(code, err)
    assert _files_in(tmp_path) == []


def test_same_names_are_refused_before_creating_the_folder(files, tmp_path, capsys):
    other = tmp_path / "other"
    other.mkdir()
    tifffile.imwrite(other / "a.tif", files["images"]["a"])
    code, _, err = _run(capsys, "predict", files["model"], files["folder"] / "a.tif", other / "a.tif",
                        "--out", tmp_path / "results", "--quiet")
    _assert_one_error_line(code, err)
    assert not (tmp_path / "results").exists()


def test_existing_result_is_kept_when_prediction_fails(files, tmp_path, capsys):
    out = tmp_path / "o.tif"
    out.write_bytes(b"previous result")
    code, _, err = _run(capsys, "predict", files["model"], files["folder"] / "nan.tif", "--out", out, "--quiet")
    _assert_one_error_line(code, err)
    assert out.read_bytes() == b"previous result"
    assert _files_in(tmp_path) == ["o.tif"]


def test_usage_errors_exit_2(files, capsys):
    with pytest.raises(SystemExit) as info:
        main(["predict", str(files["model"])])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["predict", str(files["model"]), str(files["folder"] / "a.tif"), "--out", "o.tif", "--output", "x"])
    assert info.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- a real process
def test_error_in_a_real_process(files, tmp_path):
    """The console script exits with 2 and one line, without a traceback, in a process of its own."""
    script = Path(sys.executable).parent / PROG
    command = [str(script)] if script.exists() else [sys.executable, "-m", "napari_tiled_unet.cli"]
    done = subprocess.run(
        [*command, "predict", str(files["folder"] / "pickle.safetensors"), str(files["folder"] / "a.tif"),
         "--out", str(tmp_path / "bad.tif")],
        capture_output=True, text=True, timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    _assert_one_error_line(done.returncode, done.stderr)
    assert "pickle" in done.stderr
    assert done.stdout == ""
    assert _files_in(tmp_path) == []
