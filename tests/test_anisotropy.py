import pytest
from hypothesis import given
from hypothesis import strategies as st

from napari_tiled_unet import UNet, UNetConfig
from napari_tiled_unet.anisotropy import (
    anisotropic_spacing,
    check_voxel_size,
    config_for_voxel_size,
    is_anisotropic,
    plan_pooling,
    planned_config,
    relative_spacing,
    spatial_voxel_size,
)


@pytest.mark.parametrize("voxel", [(1.0, 1.0, 1.0), (0.3, 0.3, 0.3), (1.9, 1.0, 1.0), (1, 1)])
def test_isotropic_voxels_give_the_classic_net(voxel):
    plan = plan_pooling(voxel, depth=4)
    assert plan.isotropic
    dims = len(voxel)
    assert plan.pooling == ((2,) * dims,) * 3 and plan.kernels == ((3,) * dims,) * 4
    assert UNetConfig(dims=dims, depth=4, **plan.config_kwargs()) == UNetConfig(dims=dims, depth=4)


@pytest.mark.parametrize(("voxel", "pooling", "kernels"), [
    # Z twice the pixel: XY pooled first, then everything (the spacing is then isotropic)
    ((2.0, 1.0, 1.0), ((1, 2, 2), (2, 2, 2), (2, 2, 2)), ((1, 3, 3), (3, 3, 3), (3, 3, 3), (3, 3, 3))),
    # 3x: after one XY pooling Z is 1.5x the pixel, close enough to pool together
    ((3.0, 1.0, 1.0), ((1, 2, 2), (2, 2, 2), (2, 2, 2)), ((1, 3, 3), (3, 3, 3), (3, 3, 3), (3, 3, 3))),
    # 5x: two XY poolings before Z joins; in-plane kernels while Z is still coarse
    ((5.0, 1.0, 1.0), ((1, 2, 2), (1, 2, 2), (2, 2, 2)), ((1, 3, 3), (1, 3, 3), (3, 3, 3), (3, 3, 3))),
    # float spacings whose ratio is 2 up to rounding count as 2
    ((0.6, 0.3, 0.3), ((1, 2, 2), (2, 2, 2), (2, 2, 2)), ((1, 3, 3), (3, 3, 3), (3, 3, 3), (3, 3, 3))),
    # a thin pixel in X only (2D)
    ((1.0, 4.0), ((2, 1), (2, 1), (2, 2)), ((3, 1), (3, 1), (3, 3), (3, 3))),
])
def test_anisotropic_voxels_give_the_nnunet_plan(voxel, pooling, kernels):
    plan = plan_pooling(voxel, depth=4)
    assert (plan.pooling, plan.kernels) == (pooling, kernels)
    assert not plan.isotropic
    net = UNet(UNetConfig(dims=len(voxel), depth=4, wf=0, **plan.config_kwargs()))
    assert net.config.pooling == pooling


def test_the_plan_evens_out_the_spacing_and_widens_the_z_receptive_field_physically():
    plan = plan_pooling((2.0, 1.0, 1.0), depth=4)
    assert plan.spacings == ((2.0, 1.0, 1.0), (2.0, 2.0, 2.0), (4.0, 4.0, 4.0), (8.0, 8.0, 8.0))
    iso = UNetConfig(dims=3, depth=4)
    planned = UNetConfig(dims=3, depth=4, **plan.config_kwargs())
    # in physical units the planned net's context is about as deep in Z as in XY; the isotropic one's is twice
    assert planned.margins == (20, 44, 44) and iso.margins == (44, 44, 44)
    assert 2.0 * planned.margins[0] == pytest.approx(planned.margins[1], rel=0.1)


@given(voxel=st.lists(st.floats(0.05, 20.0), min_size=2, max_size=3), depth=st.integers(1, 8))
def test_plans_are_valid_configs_and_always_pool_the_finest_axis(voxel, depth):
    plan = plan_pooling(voxel, depth)
    assert len(plan.pooling) == depth - 1 and len(plan.kernels) == depth
    assert plan.kernels[-1] == (3,) * len(voxel)
    for step, spacing in zip(plan.pooling, plan.spacings):
        finest = min(range(len(voxel)), key=lambda a: spacing[a])
        assert step[finest] == 2
        assert all(f == 2 or s >= 1.99999 * spacing[finest] for f, s in zip(step, spacing))
    for level, spacing in zip(plan.kernels[:-1], plan.spacings):
        assert all(k == 3 or s >= 1.99999 * min(spacing) for k, s in zip(level, spacing))
    UNetConfig(dims=len(voxel), depth=depth, **plan.config_kwargs())


def test_ratio_is_adjustable():
    assert plan_pooling((2.5, 1.0, 1.0), depth=3, ratio=3.0).isotropic
    assert not plan_pooling((2.5, 1.0, 1.0), depth=3).isotropic


def test_config_for_voxel_size_keeps_the_rest_of_the_config():
    base = UNetConfig(dims=3, depth=3, wf=2, batch_norm=True)
    cfg = config_for_voxel_size(base, (1.0, 0.5, 0.5))
    assert cfg.pooling == ((1, 2, 2), (2, 2, 2)) and cfg.wf == 2 and cfg.batch_norm
    with pytest.raises(ValueError, match=r"give 3 positive sizes, one per spatial axis \(Z, Y, X\)"):
        config_for_voxel_size(base, (1.0, 1.0))


@pytest.mark.parametrize("voxel", [(0, 1, 1), (-1.0, 1.0, 1.0), (float("nan"), 1, 1), (1.0,), (1, 1, 1, 1),
                                   "1,1,1", None, (True, 1, 1), (float("inf"), 1, 1)])
def test_bad_voxel_sizes_are_refused_in_one_line(voxel):
    with pytest.raises(ValueError, match=r"voxel_size=.* is invalid: give 2 or 3 positive sizes") as info:
        plan_pooling(voxel, depth=4)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("kwargs", "needle"), [({"depth": 0}, "depth=0 is invalid"),
                                                ({"depth": 4, "ratio": 1.0}, "ratio=1.0 is invalid")])
def test_bad_depth_or_ratio(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        plan_pooling((2, 1, 1), **kwargs)


def test_check_voxel_size_returns_floats():
    assert check_voxel_size([2, 1, 1]) == (2.0, 1.0, 1.0)


def test_relative_spacing_and_isotropy_tolerance():
    assert relative_spacing((1.0, 0.5, 0.5)) == (2.0, 1.0, 1.0)
    assert relative_spacing((0.5, 1.5)) == (1.0, 3.0)
    assert not is_anisotropic(None) and not is_anisotropic((0.5, 0.5, 0.5))
    assert not is_anisotropic((0.504, 0.5, 0.5))  # calibration rounding is not anisotropy
    assert is_anisotropic((0.52, 0.5, 0.5)) and is_anisotropic((2.0, 1.0, 1.0))


def test_a_model_takes_the_trailing_sizes_of_the_voxel_size():
    assert spatial_voxel_size((2.0, 0.5, 0.5), 2) == (0.5, 0.5)
    assert spatial_voxel_size((2.0, 0.5, 0.5), 3) == (2.0, 0.5, 0.5)
    assert spatial_voxel_size(None, 3) is None
    with pytest.raises(ValueError, match=r"has 2 sizes but the model is 3D: give 3 sizes \(Z, Y, X\)"):
        spatial_voxel_size((0.5, 0.5), 3)
    assert anisotropic_spacing((1.5, 0.5, 0.5), 3) == (3.0, 1.0, 1.0)
    assert anisotropic_spacing((1.5, 0.5, 0.5), 2) is None  # the planes of that stack have square pixels
    assert anisotropic_spacing((0.5, 0.5, 0.5), 3) is None


BASE_3D = UNetConfig(dims=3, depth=3, wf=2, batch_norm=True)


def test_planned_config_plans_anisotropic_voxels_only():
    planned = planned_config(BASE_3D, (1.5, 0.5, 0.5))
    assert planned == config_for_voxel_size(BASE_3D, (1.5, 0.5, 0.5))
    assert planned.pooling == ((1, 2, 2), (2, 2, 2)) and planned.wf == 2 and planned.batch_norm
    for voxel in (None, (0.5, 0.5, 0.5), (0.502, 0.5, 0.5), (0.9, 0.5, 0.5)):
        # no voxel size, isotropic voxels, or less than twice the pixel: the classic net
        assert planned_config(BASE_3D, voxel) == BASE_3D


def test_planned_config_respects_the_users_choice():
    assert planned_config(BASE_3D, (1.5, 0.5, 0.5), mode="isotropic") == BASE_3D
    own = UNetConfig(dims=3, depth=3, pooling=((2, 2, 2), (1, 2, 2)))
    assert planned_config(own, (1.5, 0.5, 0.5)) == own
    own_kernels = UNetConfig(dims=3, depth=3, kernels=((1, 3, 3), (3, 3, 3), (3, 3, 3)))
    assert planned_config(own_kernels, (1.5, 0.5, 0.5)) == own_kernels
    with pytest.raises(ValueError, match="anisotropy='x' is unknown: use one of auto, isotropic"):
        planned_config(BASE_3D, (1.5, 0.5, 0.5), mode="x")
    with pytest.raises(ValueError, match="has 2 sizes but the model is 3D"):
        planned_config(BASE_3D, (0.5, 0.5))
