import pytest

from napari_tiled_unet import UNetConfig


def test_defaults_are_valid_and_round_trip():
    cfg = UNetConfig()
    assert UNetConfig.from_dict(cfg.to_dict()) == cfg


def test_config_is_frozen():
    cfg = UNetConfig()
    with pytest.raises(AttributeError):
        cfg.depth = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("depth", 0, "depth=0"),
        ("depth", 9, "from 1 to 8"),
        ("wf", -1, "wf=-1"),
        ("in_channels", 0, "in_channels=0"),
        ("n_classes", 1.5, "n_classes=1.5"),
        ("padding", "full", "'valid' or 'same'"),
        ("up_mode", "nearest", "'upconv' or 'upsample'"),
        ("dims", 4, "dims=4"),
        ("batch_norm", "yes", "True or False"),
        ("dropout", 1.0, "[0, 1)"),
        ("depth", True, "depth=True"),
    ],
)
def test_invalid_values_name_the_value_and_range(field, value, needle):
    with pytest.raises(ValueError, match=r".*") as info:
        UNetConfig(**{field: value})
    assert needle in str(info.value)


def test_unknown_keys_are_rejected():
    with pytest.raises(ValueError, match="unknown U-Net configuration keys"):
        UNetConfig.from_dict({"depth": 3, "kernel": 5})


def test_geometry_properties():
    cfg = UNetConfig(depth=5, wf=6)
    assert cfg.margin == 92
    assert cfg.min_input_size == 188
    assert cfg.output_shape((572, 572)) == (388, 388)
    assert cfg.nearest_valid_sizes(570) == (556, 572)
    assert cfg.nearest_valid_shape((570, 100)) == (572, 188)
    assert cfg.nearest_valid_shape((570, 600), direction="down") == (556, 588)
    assert UNetConfig(padding="same").margin == 0


def test_invalid_size_names_nearest_valid_sizes():
    cfg = UNetConfig(depth=4)
    with pytest.raises(ValueError, match="use 204 or 212"):
        cfg.output_size(206)
    with pytest.raises(ValueError, match="has 3 axes but the model is 2D"):
        cfg.output_shape((10, 10, 10))


def test_same_padding_geometry():
    cfg = UNetConfig(depth=4, padding="same")
    assert cfg.output_size(64) == 64
    with pytest.raises(ValueError, match="use 64 or 72"):
        cfg.output_size(70)
