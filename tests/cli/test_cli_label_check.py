"""The command line says what the labels look like and refuses contradictions with --task/--sparse (exit 2)."""

import numpy as np
import pytest
import tifffile
from unet_helpers import disk

from napari_tiled_unet import load_model
from napari_tiled_unet.cli.main import main
from napari_tiled_unet.training.metrics import match_instances

FAST = ["--epochs", "1", "--steps-per-epoch", "2", "--depth", "2", "--wf", "1", "--patch-size", "48",
        "--val-fraction", "0"]


@pytest.fixture
def scene(tmp_path):
    """60 bright nuclei with dense ids, and the files that habits of annotation make from them."""
    rng = np.random.default_rng(1)
    shape = (200, 200)
    truth = np.zeros(shape, np.uint16)
    k = 0
    while k < 60:
        mask = disk(shape, rng.integers(8, 192, 2), rng.integers(4, 7))
        if not truth[mask].any():
            k += 1
            truth[mask] = k
    image = ((truth > 0) * 400 + rng.poisson(50, shape)).astype(np.uint16)
    painted = np.where(np.isin(truth, [3, 9, 14, 20, 33]), truth, 0).astype(np.uint16)
    scribbles = np.zeros(shape, np.uint8)
    scribbles[5:8, 5:195] = 1
    for k in (3, 9, 14):
        scribbles[disk(shape, np.argwhere(truth == k).mean(axis=0).astype(int), 2)] = 2
    files = {}
    for name, data in (("image", image), ("truth", truth), ("painted", painted), ("scribbles", scribbles)):
        files[name] = tmp_path / f"{name}.tif"
        tifffile.imwrite(files[name], data)
    return files


def run(capsys, *args):
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(("labels", "flags", "needle"), [
    ("truth", ["--task", "semantic"], "these look like instance ids"),
    ("scribbles", ["--task", "semantic"], "use sparse=True (--sparse)"),
    ("painted", ["--task", "instances"], "use sparse=True (--sparse)"),
    ("painted", ["--task", "semantic", "--sparse"], "--task instances --sparse"),
])
def test_contradictions_exit_2_before_training(scene, tmp_path, capsys, labels, flags, needle):
    out = tmp_path / "model.safetensors"
    code, err = run(capsys, "train", "--images", scene["image"], "--labels", scene[labels], "--out", out, *flags,
                    *FAST, "--quiet")
    assert code == 2 and needle in err and "--ignore-label-check" in err
    assert "Traceback" not in err and not out.exists()


def test_the_label_check_can_be_overridden(scene, tmp_path, capsys):
    out = tmp_path / "model.safetensors"
    code, err = run(capsys, "train", "--images", scene["image"], "--labels", scene["truth"], "--out", out,
                    "--task", "semantic", "--ignore-label-check", *FAST, "--quiet")
    assert code == 0, err and out.exists()


def test_sparse_instances_from_the_command_line_say_how_background_is_read(scene, tmp_path, capsys):
    out = tmp_path / "model.safetensors"
    code, err = run(capsys, "train", "--images", scene["image"], "--labels", scene["painted"], "--out", out,
                    "--task", "instances", "--sparse", *FAST)
    assert code == 0, err
    assert "labels: 5 value(s)" in err and "painted objects" in err
    assert "background is inferred" in err
    meta = load_model(out).metadata
    assert meta["task"] == "instances" and meta["sparse"] is True
    assert any("background is inferred" in note for note in meta["training"]["notes"])


def test_post_processing_options_apply_to_instance_models_only(scene, tmp_path, capsys):
    model = tmp_path / "semantic.safetensors"
    code, err = run(capsys, "train", "--images", scene["image"], "--labels", scene["scribbles"], "--out", model,
                    "--sparse", *FAST, "--quiet")
    assert code == 0, err
    code, err = run(capsys, "predict", model, scene["image"], "--out", tmp_path / "x.tif", "--output", "instances",
                    "--seed-threshold", "0.4", "--quiet")
    assert code == 2 and "--seed-threshold only apply to instance models" in err
    assert not (tmp_path / "x.tif").exists()


def test_test_time_augmentation_prints_its_cost(scene, tmp_path, capsys):
    model = tmp_path / "m.safetensors"
    code, err = run(capsys, "train", "--images", scene["image"], "--labels", scene["painted"], "--out", model,
                    "--task", "instances", "--sparse", *FAST, "--quiet")
    assert code == 0, err
    out = tmp_path / "tta.tif"
    code, err = run(capsys, "predict", model, scene["image"], "--out", out, "--output", "instances", "--tta",
                    "--quiet")
    assert code == 0, err and out.exists()
    assert "test-time augmentation: 8 passes per plane took" in err
    from napari_tiled_unet import load_model, save_model

    save_model(load_model(model), model, metadata={"prediction": {"tta": True}})  # as builtin:nuclei recommends
    code, err = run(capsys, "predict", model, scene["image"], "--out", out, "--output", "instances", "--overwrite",
                    "--quiet")
    assert code == 0 and "test-time augmentation (the model recommends it; --no-tta turns it off)" in err
    code, err = run(capsys, "predict", model, scene["image"], "--out", out, "--output", "instances", "--overwrite",
                    "--no-tta", "--quiet")
    assert code == 0 and "test-time augmentation" not in err
    assert main(["info", str(model)]) == 0
    assert "test-time augmentation: recommended by the model" in capsys.readouterr().out


def test_rescale_shrinks_large_nuclei_says_so_and_refuses_bad_values(tmp_path, capsys):
    """builtin:nuclei names 11 px as its best radius: nuclei of radius 24 are predicted on a shrunk image."""
    from unet_helpers import large_nuclei

    image, truth = large_nuclei()
    path, out = tmp_path / "large.tif", tmp_path / "objects.tif"
    tifffile.imwrite(path, image)
    code, err = run(capsys, "predict", "builtin:nuclei", path, "--out", out, "--output", "instances", "--no-tta",
                    "--quiet")
    assert code == 0, err
    assert "objects came out with a median radius of 24 px, larger than the 11 px the model segments best" in err
    assert tifffile.imread(out).shape == image.shape and tifffile.imread(out).max() == 5
    code, err = run(capsys, "predict", "builtin:nuclei", path, "--out", out, "--output", "instances", "--no-tta",
                    "--rescale", "off", "--overwrite", "--quiet")
    assert code == 0 and "scaled" not in err
    code, err = run(capsys, "predict", "builtin:nuclei", path, "--out", out, "--output", "labels", "--no-tta",
                    "--rescale", "0.5", "--overwrite", "--quiet")
    assert code == 0 and "predicted on the image scaled by 0.50 (--rescale 0.5)" in err
    code, err = run(capsys, "predict", "builtin:nuclei", path, "--out", out, "--rescale", "huge", "--overwrite")
    assert code == 2 and "rescale='huge' is invalid: use 'auto', 'off' or a factor" in err and "Traceback" not in err
    code, err = run(capsys, "predict", "builtin:nuclei", path, "--out", tmp_path / "lazy.tif", "--rescale", "0.5",
                    "--lazy")
    assert code == 2 and "--rescale needs the image in memory" in err
    code, err = run(capsys, "predict", "builtin:nuclei", path, "--out", tmp_path / "lazy.tif", "--output",
                    "instances", "--lazy", "--quiet")  # instances of a lazily read image: shrunk too
    assert code == 0 and "larger than the 11 px the model segments best" in err
    assert match_instances(tifffile.imread(tmp_path / "lazy.tif"), truth)["f1"] == 1.0
    assert main(["info", "builtin:nuclei"]) == 0
    assert "object size: segments objects up to a median radius of about 11 px best" in capsys.readouterr().out


def test_a_time_lapse_of_large_nuclei_is_shrunk_by_one_factor_and_linked(tmp_path, capsys):
    from unet_helpers import large_nuclei

    image, _ = large_nuclei()
    path, out = tmp_path / "movie.tif", tmp_path / "objects.tif"
    tifffile.imwrite(path, np.stack([image, image]), metadata={"axes": "TYX"})
    code, err = run(capsys, "predict", "builtin:nuclei", path, "--out", out, "--output", "instances", "--axes",
                    "TYX", "--quiet")
    assert code == 0, err
    assert err.count("larger than the 11 px the model segments best") == 1  # one factor for the whole movie
    objects = tifffile.imread(out)
    assert objects.shape == (2, *image.shape) and objects.max() == 5  # the same 5 nuclei in both frames
    np.testing.assert_array_equal(objects[0], objects[1])


def test_a_steep_background_is_flattened_says_so_also_when_read_lazily(tmp_path, capsys):
    from unet_helpers import nuclei_on, ramp

    image, _ = nuclei_on(ramp((256, 256), 4000.0), contrast=800.0)
    path, out = tmp_path / "steep.tif", tmp_path / "objects.tif"
    tifffile.imwrite(path, image.astype(np.uint16))
    code, err = run(capsys, "predict", "builtin:nuclei", path, "--out", out, "--output", "instances", "--no-tta",
                    "--quiet")
    assert code == 0, err
    assert "background flattened: it varies by" in err and "more than the 30% the model was trained on" in err
    in_memory = tifffile.imread(out)
    assert in_memory.max() == 16
    code, err = run(capsys, "predict", "builtin:nuclei", path, "--out", out, "--output", "instances", "--no-tta",
                    "--flatten", "off", "--overwrite", "--quiet")
    assert code == 0 and "flattened" not in err
    with pytest.raises(SystemExit) as stopped:  # argparse's own one-line error for a choice
        main(["predict", "builtin:nuclei", str(path), "--out", str(out), "--flatten", "sometimes"])
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and "--flatten: invalid choice: 'sometimes'" in err and "Traceback" not in err
    code, err = run(capsys, "predict", "builtin:nuclei", path, "--out", tmp_path / "lazy.tif", "--output",
                    "instances", "--lazy", "--quiet")
    assert code == 0, err
    assert "background flattened: it varies by" in err  # measured and flattened region by region
    lazy = tifffile.imread(tmp_path / "lazy.tif")
    assert lazy.max() == 16 and np.mean((lazy > 0) != (in_memory > 0)) < 1e-4  # as in memory (float sums aside)
    assert main(["info", "builtin:nuclei"]) == 0
    assert "background: flattened first where it varies by more than 30%" in capsys.readouterr().out


@pytest.mark.parametrize(("labels", "task"), [("painted", "instances"), ("scribbles", "semantic")])
def test_without_task_flags_clearly_sparse_labels_train_as_they_suggest(scene, tmp_path, capsys, labels, task):
    out = tmp_path / "model.safetensors"
    code, err = run(capsys, "train", "--images", scene["image"], "--labels", scene[labels], "--out", out, *FAST,
                    "--init", "none")
    assert code == 0, err
    assert f"training task {task}, sparse as the labels suggest" in err
    meta = load_model(out).metadata
    assert meta["task"] == task and meta["sparse"] is True


def test_an_explicit_task_is_never_replaced_by_the_suggestion(scene, tmp_path, capsys):
    out = tmp_path / "model.safetensors"
    code, err = run(capsys, "train", "--images", scene["image"], "--labels", scene["painted"], "--out", out, *FAST,
                    "--task", "instances", "--no-sparse", "--ignore-label-check", "--init", "none")
    assert code == 0, err
    assert "as the labels suggest" not in err
    assert load_model(out).metadata["sparse"] is False


def test_scribbles_through_nuclei_train_an_instance_model_from_builtin_nuclei(tmp_path, capsys):
    """No flags, no --init: the sample's scribbles train an instance model started from builtin:nuclei."""
    from napari_tiled_unet.builtin_models import resolve_model
    from napari_tiled_unet.instance_output import instance_settings_of
    from napari_tiled_unet.samples import load_nuclei_2d

    data = load_nuclei_2d()
    image, scribbles = tmp_path / "image.tif", tmp_path / "scribbles.tif"
    tifffile.imwrite(image, data["image"][:256, :256])
    tifffile.imwrite(scribbles, data["scribbles"][:256, :256])
    out = tmp_path / "model.safetensors"
    code, err = run(capsys, "train", "--images", image, "--labels", scribbles, "--out", out, "--epochs", "1",
                    "--steps-per-epoch", "2", "--batch-size", "1")
    assert code == 0, err
    assert "labels: builtin:nuclei finds objects under 100% of the object strokes" in err
    assert "training task instances, sparse as the labels suggest" in err and "starting from builtin:nuclei" in err
    assert "note: object strokes: the model to start from finds objects under" in err
    assert "the validation holds no object outlined by hand" in err
    net = load_model(out)
    assert net.metadata["task"] == "instances" and net.metadata["sparse"] is True
    builtin = load_model(resolve_model("builtin:nuclei"))
    assert instance_settings_of(net) == instance_settings_of(builtin), "the start model's post-processing is kept"
    code, err = run(capsys, "train", "--images", image, "--labels", scribbles, "--out", tmp_path / "new.safetensors",
                    "--epochs", "1", "--steps-per-epoch", "2", "--task", "instances", "--sparse", "--init", "none")
    assert code == 2 and "start from builtin:nuclei or your own instance model (--init)" in err
