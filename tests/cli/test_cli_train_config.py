"""``train --config FILE``: a model's training repeated exactly; flags override; defaults from one place."""

import json

import numpy as np
import pytest
import tifffile
from unet_helpers import make_net

from napari_tiled_unet import save_model
from napari_tiled_unet.cli.main import build_parser, main
from napari_tiled_unet.cli.train_config import config_from_args, load_training_config, save_training_config
from napari_tiled_unet.training.config import TrainingConfig

PROG = "napari-tiled-unet"
REQUIRED = ["train", "--images", "a.tif", "--labels", "b.tif", "--out", "m.safetensors"]


def _config(*flags):
    return config_from_args(build_parser().parse_args([*REQUIRED, *map(str, flags)]))


def _one_line(code, err, *needles):
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"{PROG}: error: ") and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize("dims", [2, 3])
def test_defaults_come_from_training_config(dims):
    assert _config("--dims", dims) == TrainingConfig.defaults(dims)


def test_no_flags_is_the_2d_default():
    assert _config() == TrainingConfig.defaults(2)


def test_flags_set_fields():
    config = _config("--task", "instances", "--depth", "3", "--wf", "2", "--patch-size", "124", "--batch-size", "8",
                     "--lr", "0.01", "--fine-tune-lr", "0.0005", "--no-batch-norm", "--seed", "7", "--epochs", "5",
                     "--no-augmentation")
    assert config.task == "instances" and config.unet.depth == 3 and config.unet.wf == 2
    assert config.patch_size == 124 and config.batch_size == 8 and config.learning_rate == 0.01
    assert config.fine_tune_learning_rate == 0.0005
    assert not config.unet.batch_norm and config.seed == 7
    assert config.epochs == 5 and config.time_limit is None  # --epochs alone: no time limit
    assert not (config.augmentation.flips or config.augmentation.elastic or config.augmentation.intensity)


@pytest.mark.parametrize("suffix", [".json", ".txt"])
def test_json_round_trip_gives_the_same_config(tmp_path, suffix):
    original = TrainingConfig.defaults(3, task="instances", epochs=4, time_limit=None, seed=11,
                                       class_names=((1, "nucleus"),))
    path = save_training_config(original, tmp_path / f"settings{suffix}")
    assert load_training_config(path) == original
    assert _config("--config", path) == original


def test_model_file_config_round_trip(tmp_path):
    """What a trained model stores under metadata['training']['config'] repeats its training exactly."""
    original = TrainingConfig.defaults(2, sparse=True, patch_size=140, learning_rate=1e-3, seed=3)
    model = save_model(make_net(depth=2, wf=1), tmp_path / "trained.safetensors",
                       metadata={"training": {"config": original.to_dict(), "epochs": 2}})
    assert load_training_config(model) == original
    assert _config("--config", model) == original


def test_flags_override_the_file(tmp_path):
    original = TrainingConfig.defaults(3, task="instances", epochs=4, time_limit=None, seed=11)
    path = save_training_config(original, tmp_path / "settings.json")
    config = _config("--config", path, "--seed", "12", "--patch-size", "60", "--depth", "2", "--time-limit", "30")
    assert config == original.replace(seed=12, patch_size=60, time_limit=30.0,
                                      unet=original.unet.__class__(**{**original.unet.to_dict(), "depth": 2}))
    assert config.unet.dims == 3  # the file's dims, not the CLI's 2D default
    assert _config("--config", path, "--dims", "2").unet.dims == 2


def test_save_config_writes_what_is_used(tmp_path, capsys):
    rng = np.random.default_rng(0)
    tifffile.imwrite(tmp_path / "a.tif", rng.normal(size=(40, 40)).astype(np.float32))
    labels = np.zeros((40, 40), np.uint8)
    labels[10:20, 10:20] = 1
    tifffile.imwrite(tmp_path / "b.tif", labels)
    saved = tmp_path / "used.json"
    flags = ["--epochs", "1", "--steps-per-epoch", "1", "--depth", "2", "--wf", "1", "--patch-size", "44",
             "--val-fraction", "0", "--quiet", "--device", "cpu"]
    code = main(["train", "--images", str(tmp_path / "a.tif"), "--labels", str(tmp_path / "b.tif"), "--out",
                 str(tmp_path / "m.safetensors"), "--save-config", str(saved), *flags])
    assert code == 0, capsys.readouterr().err
    assert load_training_config(saved) == _config(*flags)
    assert load_training_config(tmp_path / "m.safetensors") == _config(*flags)  # and the model's own copy


@pytest.mark.parametrize(("content", "needles"), [
    ("{not json", ["not valid JSON", "line 1"]),
    ("[1, 2]", ["JSON list", "object"]),
    ('{"patch_size": 220, "learning_rat": 0.1}', ["learning_rat"]),
    ('{"unet": {"depht": 3}}', ["depht"]),
    ('{"augmentation": {"flip": true}}', ["flip"]),
    ('{"patch_size": -4}', ["patch_size"]),
])
def test_bad_config_files_exit_2_naming_the_problem(tmp_path, capsys, content, needles):
    path = tmp_path / "bad.json"
    path.write_text(content)
    code = main([*REQUIRED[:6], str(tmp_path / "m.safetensors"), "--config", str(path)])
    _one_line(code, capsys.readouterr().err, str(path), *needles)
    assert not (tmp_path / "m.safetensors").exists()


def test_model_without_training_config(tmp_path, capsys):
    model = save_model(make_net(depth=2, wf=1), tmp_path / "untrained.safetensors")
    code = main([*REQUIRED[:6], str(tmp_path / "m.safetensors"), "--config", str(model)])
    _one_line(code, capsys.readouterr().err, "without a training configuration")


def test_missing_config_file(tmp_path, capsys):
    code = main([*REQUIRED[:6], str(tmp_path / "m.safetensors"), "--config", str(tmp_path / "nope.json")])
    _one_line(code, capsys.readouterr().err, "does not exist")


def test_saved_config_is_plain_json(tmp_path):
    path = save_training_config(TrainingConfig.defaults(2), tmp_path / "c.json")
    data = json.loads(path.read_text())
    assert data["unet"]["depth"] == TrainingConfig.defaults(2).unet.depth and data["task"] == "semantic"


def test_3d_pooling_flags():
    config = _config("--dims", "3", "--anisotropy", "isotropic")
    assert config.anisotropy == "isotropic"
    config = _config("--dims", "3", "--depth", "3", "--pooling", "1x2x2,2x2x2")
    assert config.unet.pooling == ((1, 2, 2), (2, 2, 2)) and config.unet.depth == 3


@pytest.mark.parametrize("plan", ["1x3x2", "axb", ","])
def test_bad_pooling_plan_exits_2(plan, capsys):
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args([*REQUIRED, "--dims", "3", "--pooling", plan])
    assert stop.value.code == 2 and "is not a pooling plan" in capsys.readouterr().err
