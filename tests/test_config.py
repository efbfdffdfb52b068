import json

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


# ---------------------------------------------------------------------------------------------- per axis
ANISO = dict(dims=3, depth=3, pooling=((1, 2, 2), (2, 2, 2)), kernels=((1, 3, 3), (3, 3, 3), (3, 3, 3)))


def test_per_axis_fields_round_trip_through_json_and_stay_hashable():
    cfg = UNetConfig(**ANISO)
    data = json.loads(json.dumps(cfg.to_dict()))
    assert data["pooling"] == [[1, 2, 2], [2, 2, 2]] and data["kernels"][0] == [1, 3, 3]
    back = UNetConfig.from_dict(data)
    assert back == cfg and hash(back) == hash(cfg) and back.pooling == ((1, 2, 2), (2, 2, 2))
    assert {cfg: 1}[back] == 1


def test_model_files_without_the_per_axis_keys_are_isotropic():
    old = {"in_channels": 1, "n_classes": 2, "depth": 4, "wf": 4, "padding": "valid", "batch_norm": False,
           "up_mode": "upconv", "dims": 3, "dropout": 0.0}
    cfg = UNetConfig.from_dict(old)
    assert cfg.pooling is None and cfg.kernels is None and cfg.isotropic
    assert cfg.to_dict() == old  # an isotropic net writes exactly what older versions wrote and read


def test_explicit_isotropic_tables_equal_the_default():
    explicit = UNetConfig(dims=3, depth=3, pooling=[[2, 2, 2], [2, 2, 2]], kernels=((3, 3, 3),) * 3)
    assert explicit == UNetConfig(dims=3, depth=3) and explicit.pooling is None
    assert explicit.pool_factors == ((2, 2, 2), (2, 2, 2)) and explicit.kernel_sizes == ((3, 3, 3),) * 3


def test_uniform_non_default_tables_are_isotropic():
    cfg = UNetConfig(depth=3, pooling=((1, 1), (2, 2)))
    assert cfg.isotropic and cfg.alignment == 2 and cfg.margin == cfg.margins[0]


@pytest.mark.parametrize(("values", "needle"), [
    (dict(pooling=((1, 2, 2),)), "(1 entries) is invalid for depth 3: give 2 pooling steps of 3 values (Z, Y, X)"),
    (dict(pooling=((1, 2), (2, 2))), "at pooling step 0 ((1, 2)) for a 3D net"),
    (dict(pooling=((3, 2, 2), (2, 2, 2))), "each 1 or 2"),
    (dict(pooling=((True, 2, 2), (2, 2, 2))), "pooling step 0"),
    (dict(pooling="122"), "UNetConfig.pooling='122' is invalid"),
    (dict(kernels=((1, 3, 3), (5, 3, 3), (3, 3, 3))), "at level 1 ((5, 3, 3))"),
    (dict(kernels=((1, 3, 3),)), "give 3 levels of 3 values"),
    (dict(kernels=5), "or None for 3 on every axis"),
])
def test_bad_per_axis_tables_name_the_value_and_the_fix(values, needle):
    with pytest.raises(ValueError) as info:
        UNetConfig(dims=3, depth=3, **values)
    message = str(info.value)
    assert needle in message and "\n" not in message


def test_per_axis_geometry():
    cfg = UNetConfig(**ANISO)
    assert not cfg.isotropic
    assert cfg.axis_pooling(0) == (1, 2) and cfg.axis_kernels(0) == (1, 3, 3)
    assert cfg.margins == (8, 20, 20) and cfg.alignments == (2, 4, 4) and cfg.min_input_sizes == (18, 44, 44)
    assert cfg.output_shape((20, 48, 44)) == (4, 8, 4)
    assert cfg.output_size(20, axis=0) == 4 and cfg.output_size(48, axis=1) == 8
    assert cfg.nearest_valid_sizes(21, axis=0) == (20, 22) and cfg.nearest_valid_sizes(46, axis=2) == (44, 48)
    assert cfg.is_valid_size(19, axis=0) is False and cfg.is_valid_shape((22, 52, 44))
    assert cfg.nearest_valid_shape((19, 45, 45)) == (20, 48, 48)
    assert cfg.nearest_valid_shape((19, 45, 45), direction="down") == (18, 44, 44)
    assert UNetConfig(**ANISO, up_mode="upsample").upsample_halos == (2, 4, 4)
    assert UNetConfig(**ANISO, padding="same").min_input_sizes == (2, 4, 4)
    assert UNetConfig(**ANISO, padding="same").margins == (0, 0, 0)


@pytest.mark.parametrize(("call", "pointer"), [
    (lambda c: c.margin, "use UNetConfig.margins"), (lambda c: c.alignment, "use UNetConfig.alignments"),
    (lambda c: c.min_input_size, "use UNetConfig.min_input_sizes"),
    (lambda c: c.upsample_halo, "use UNetConfig.upsample_halos"),
    (lambda c: c.output_size(20), "pass axis=0..2 (Z, Y, X)"),
    (lambda c: c.nearest_valid_sizes(20), "pass axis=0..2"), (lambda c: c.is_valid_size(20), "pass axis=0..2"),
])
def test_scalar_geometry_of_an_anisotropic_net_raises_and_points_to_the_per_axis_form(call, pointer):
    with pytest.raises(ValueError, match="differs per axis for this anisotropic net") as info:
        call(UNetConfig(**ANISO))
    assert pointer in str(info.value)


def test_invalid_size_on_an_axis_names_the_axis_and_its_grid():
    cfg = UNetConfig(**ANISO)
    with pytest.raises(ValueError, match=r"input size 19 on axis Z .* use 18 or 20 .*at least 18, in steps of 2"):
        cfg.output_shape((19, 44, 44))
    with pytest.raises(ValueError, match="axis=3 is invalid for a 3D net: use 0 to 2"):
        cfg.output_size(20, axis=3)
