import numpy as np
import pytest

from napari_tiled_unet.builtin import train_nuclei3d
from napari_tiled_unet.model_file import load_model, read_model_metadata


def test_training_stacks_are_deterministic_confocal_like_stacks():
    stacks, labels = train_nuclei3d.training_stacks(2, seed=1)
    again, _ = train_nuclei3d.training_stacks(2, seed=1)
    for a, b in zip(stacks, again, strict=True):
        np.testing.assert_array_equal(a, b)
    for stack, masks in zip(stacks, labels, strict=True):
        assert stack.shape == masks.shape and stack.shape[0] == train_nuclei3d.PLANES and masks.max() > 10
        assert train_nuclei3d.MIN_SIDE <= stack.shape[1] == stack.shape[2] <= train_nuclei3d.MAX_SIDE
    assert train_nuclei3d.stack_shape(7.0) == (40, 128, 128) and train_nuclei3d.stack_shape(16.0) == (40, 192, 192)


def test_the_configuration_is_the_3d_default_at_width_3_planned_for_a_coarse_z_step():
    config = train_nuclei3d.builtin_config_3d()
    assert config.unet.dims == 3 and config.unet.wf == train_nuclei3d.WF and config.task == "instances"
    assert config.voxel_size == train_nuclei3d.PLANNED_SPACING and config.anisotropy == "auto"


def test_command_line_rejects_bad_values_with_one_line(tmp_path, capsys):
    assert train_nuclei3d.main(["--out", str(tmp_path / "missing" / "m.safetensors")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert train_nuclei3d.main(["--out", str(tmp_path / "m.safetensors"), "--minutes", "0"]) == 2
    assert "--minutes" in capsys.readouterr().err
    assert train_nuclei3d.main(["--out", str(tmp_path / "m.safetensors"), "--stacks", "0"]) == 2


@pytest.mark.slow
def test_trains_and_writes_a_3d_model_with_a_card(tmp_path):
    out = tmp_path / "nuclei3d.safetensors"
    assert train_nuclei3d.main(["--out", str(out), "--minutes", "0.03", "--stacks", "1", "--seed", "5",
                                "--device", "cpu"]) == 0
    net = load_model(out)
    assert net.config.dims == 3 and net.config.pool_factors[0] == (1, 2, 2), "Z is not pooled at first"
    assert net.metadata["task"] == "instances" and net.metadata["voxel_size"] == [2.5, 1.0, 1.0]
    card = read_model_metadata(out)["description"]
    assert "synthetic stacks" in card and "--seed 5 --stacks 1" in card and "wf 3" in card
