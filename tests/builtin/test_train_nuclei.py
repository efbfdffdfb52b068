import numpy as np
import pytest

from napari_tiled_unet.builtin import train_nuclei
from napari_tiled_unet.model_file import load_model, read_model_metadata
from napari_tiled_unet.synthetic import StyleRanges


def test_training_set_is_deterministic_and_sized_by_the_nuclei():
    seeds = train_nuclei.image_seeds(5, seed=3)
    assert seeds == train_nuclei.image_seeds(5, seed=3) and seeds != train_nuclei.image_seeds(5, seed=4)
    assert len(set(seeds)) == 5
    images, labels = train_nuclei.training_set(3, seed=1)
    again, _ = train_nuclei.training_set(3, seed=1)
    for a, b in zip(images, again, strict=True):
        np.testing.assert_array_equal(a, b)
    for image, masks in zip(images, labels, strict=True):
        assert image.shape == masks.shape and masks.dtype == np.uint16
        assert 256 <= image.shape[0] <= 512 and image.shape[0] % 32 == 0
    assert train_nuclei.image_side(4.0) == 256 and train_nuclei.image_side(40.0) == 512
    assert train_nuclei.image_side(15.0) == 352


def test_command_line_rejects_bad_values_with_one_line(tmp_path, capsys):
    assert train_nuclei.main(["--out", str(tmp_path / "missing" / "m.safetensors"), "--minutes", "1"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert train_nuclei.main(["--out", str(tmp_path / "m.safetensors"), "--minutes", "-1"]) == 2
    assert "--minutes" in capsys.readouterr().err
    assert train_nuclei.main(["--out", str(tmp_path / "m.safetensors"), "--images", "0", "--epochs", "1"]) == 2


@pytest.mark.slow
def test_trains_and_writes_a_model_with_a_card(tmp_path, monkeypatch):
    monkeypatch.setattr(train_nuclei, "STEPS_PER_EPOCH", 2)
    out = tmp_path / "nuclei.safetensors"
    assert train_nuclei.main(["--out", str(out), "--epochs", "1", "--images", "2", "--seed", "5", "--device",
                              "cpu"]) == 0
    net = load_model(out)
    assert net.metadata["task"] == "instances" and net.metadata["training"]["steps"] == 2
    card = read_model_metadata(out)["description"]
    assert "synthetic" in card and "--seed 5 --images 2" in card and "2 steps" in card
    assert str(StyleRanges().to_dict()["radius"]).replace(" ", "") in card.replace(" ", "")
