import numpy as np
import pytest
import tifffile

from napari_tiled_unet import load_model
from napari_tiled_unet.cli.main import main

FAST = ["--epochs", "1", "--steps-per-epoch", "2", "--depth", "2", "--wf", "1", "--patch-size", "48", "--quiet"]


@pytest.fixture
def pair(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.zeros((80, 90), np.uint16)
    for i, (y, x) in enumerate([(20, 20), (20, 30), (50, 60), (60, 20), (40, 45)], start=1):
        labels[y - 5 : y + 5, x - 5 : x + 5] = i
    image = ((labels > 0) * 300 + rng.poisson(40, labels.shape)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "img.tif", image)
    tifffile.imwrite(tmp_path / "lab.tif", labels)
    return tmp_path / "img.tif", tmp_path / "lab.tif"


def run(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_train_then_predict(pair, tmp_path, capsys):
    image, labels = pair
    out = tmp_path / "model.safetensors"
    code, _, err = run(capsys, "train", "--images", image, "--labels", labels, "--out", out, "--task", "instances",
                       *FAST)
    assert code == 0, err
    assert "saved" in err and ("best epoch" in err or "final epoch" in err)
    net = load_model(out)
    assert net.metadata["task"] == "instances" and net.config.depth == 2
    code, _, err = run(capsys, "predict", out, image, "--out", tmp_path / "inst.tif", "--output", "instances",
                       "--quiet")
    assert code == 0, err
    assert tifffile.imread(tmp_path / "inst.tif").shape == (80, 90)


def test_sparse_training_from_cli(pair, tmp_path, capsys):
    image, labels = pair
    scribbles = np.zeros((80, 90), np.uint8)
    lab = tifffile.imread(labels)
    scribbles[lab > 0] = 2
    scribbles[::3, ::3][lab[::3, ::3] == 0] = 1
    tifffile.imwrite(tmp_path / "scribbles.tif", scribbles)
    out = tmp_path / "sparse.safetensors"
    code, _, err = run(capsys, "train", "--images", image, "--labels", tmp_path / "scribbles.tif", "--out", out,
                       "--sparse", *FAST)
    assert code == 0, err
    assert load_model(out).metadata["label_values"] == [1, 2]


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        ("mismatch", "cover the image pixel for pixel"),
        ("zeros", "only the value 0"),
        ("fraction", "fractions"),
        ("nan", "NaN"),
        ("missing", "does not exist"),
        ("bad_out", "must end in .safetensors"),
        ("no_folder", "does not exist"),
        ("counts", "one label file per image"),
        ("sparse_empty", "no annotated pixel"),
        ("single", "only contain the value 1"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_model(pair, tmp_path, capsys, make, needle):
    image, labels = pair
    out = tmp_path / "m.safetensors"
    args = ["train", "--images", image, "--labels", labels, "--out", out, *FAST]
    if make == "mismatch":
        tifffile.imwrite(tmp_path / "small.tif", np.ones((10, 10), np.uint8))
        args[4] = tmp_path / "small.tif"
    elif make in ("zeros", "fraction", "sparse_empty", "single"):
        value = {"zeros": np.zeros((80, 90), np.uint8), "fraction": np.full((80, 90), 0.5, np.float32),
                 "sparse_empty": np.zeros((80, 90), np.uint8), "single": np.ones((80, 90), np.uint8)}[make]
        tifffile.imwrite(tmp_path / "l2.tif", value)
        args[4] = tmp_path / "l2.tif"
        if make in ("sparse_empty", "single"):
            args.append("--sparse")
    elif make == "nan":
        bad = tifffile.imread(image).astype(np.float32)
        bad[3, 3] = np.nan
        tifffile.imwrite(tmp_path / "nan.tif", bad)
        args[2] = tmp_path / "nan.tif"
    elif make == "missing":
        args[2] = tmp_path / "nope.tif"
    elif make == "bad_out":
        args[6] = tmp_path / "m.pt"
    elif make == "no_folder":
        args[6] = tmp_path / "missing" / "m.safetensors"
    elif make == "counts":
        args[2:3] = [image, image]
    code, _, err = run(capsys, *args)
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in err
    assert not list(tmp_path.glob("*.safetensors")) and not list(tmp_path.glob(".*tmp"))


def test_ctrl_c_stops_cleanly_and_keeps_the_best_model(pair, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    image, labels = pair
    out = tmp_path / "interrupted.safetensors"
    command = [sys.executable, "-m", "napari_tiled_unet.cli", "train", "--images", str(image), "--labels",
               str(labels), "--out", str(out), "--time-limit", "120", "--steps-per-epoch", "2", "--depth", "2",
               "--wf", "1", "--patch-size", "48", "--quiet", "--device", "cpu"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not out.exists() and time.monotonic() < deadline:  # the first epoch's best model is on disk
        time.sleep(0.2)
    assert out.exists(), process.stderr.read() if process.poll() is not None else "no checkpoint within 60 s"
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Traceback" not in err and "stopping after this step" in err
    net = load_model(out)
    assert net.metadata["training"]["stopped_by"] == "cancelled"
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("init, starts", [([], True), (["--init", "none"], False)])
def test_instances_of_a_one_channel_image_start_from_the_shipped_nuclei_model(pair, tmp_path, capsys, init, starts):
    from napari_tiled_unet.builtin_models import builtin_model_names

    if "nuclei" not in builtin_model_names():
        pytest.skip("no builtin:nuclei in this installation")
    image, labels = pair
    code, _, err = run(capsys, "train", "--images", image, "--labels", labels, "--out", tmp_path / "m.safetensors",
                       "--task", "instances", "--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "1",
                       "--patch-size", "92", *init)
    assert code == 0, err
    assert ("starting from builtin:nuclei" in err) is starts
