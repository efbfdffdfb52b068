import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from napari_tiled_unet import UNet, UNetConfig
from napari_tiled_unet.anisotropy import planned_config
from napari_tiled_unet.tiling import smallest_tile_for_step
from napari_tiled_unet.training.anisotropic_patches import (
    physical_patch_shape,
    reference_budget,
    training_feature_elements,
    training_patch_shape,
)
from napari_tiled_unet.training.config import TrainingConfig
from napari_tiled_unet.training.data import patch_shape

DEFAULT_3D = TrainingConfig.defaults(3)


def saved_for_backward(config, shape):
    """Elements of the tensors autograd saves in one forward pass (each storage once)."""
    net = UNet(config)
    seen = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        seen[storage.data_ptr()] = storage.nbytes() // tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        net(torch.rand(1, config.in_channels, *shape)).sum()
    weights = sum(p.numel() for p in net.parameters())
    return sum(seen.values()) - weights


@pytest.mark.parametrize("batch_norm", [False, True])
@pytest.mark.parametrize(("voxel", "shape"), [((1, 1, 1), (44, 52, 60)), ((3, 1, 1), (24, 60, 60)),
                                              ((4, 1, 1), (12, 60, 56)), ((2, 1, 1), (30, 52, 52))])
def test_the_memory_estimate_is_what_autograd_saves(voxel, shape, batch_norm):
    config = planned_config(UNetConfig(dims=3, depth=3, wf=1, batch_norm=batch_norm), voxel)
    assert config.is_valid_shape(shape)
    measured = saved_for_backward(config, shape)
    assert training_feature_elements(config, shape) == pytest.approx(measured, rel=0.02)


@pytest.mark.parametrize(("voxel", "stack"), [((2.0, 1.0, 1.0), (200, 400, 400)), ((3.0, 1.0, 1.0), (200, 400, 400)),
                                              ((1.5, 1.0, 1.0), (300, 300, 300))])
def test_patches_of_a_big_stack_are_physically_about_cubic_within_the_cube_memory(voxel, stack):
    unet = planned_config(DEFAULT_3D.unet, voxel)
    patch = physical_patch_shape(unet, 92, [stack], voxel)
    assert unet.is_valid_shape(patch)
    physical = [p * v for p, v in zip(patch, voxel)]
    assert max(physical) / min(physical) < 1.15
    used = training_feature_elements(unet, patch) / reference_budget(unet, 92)
    assert 0.9 < used <= 1.0
    # fewer planes than the cube, more pixels per plane
    assert patch[0] < 92 < patch[1]


def test_a_thin_stack_hands_its_unused_planes_to_the_plane():
    voxel = (3.0, 1.0, 1.0)
    unet = planned_config(DEFAULT_3D.unet, voxel)
    deep = physical_patch_shape(unet, 92, [(200, 400, 400)], voxel)
    thin = physical_patch_shape(unet, 92, [(12, 400, 400)], voxel)
    assert thin[0] == smallest_tile_for_step(unet, 12, 0) < deep[0]
    assert thin[1] > deep[1] and thin[2] > deep[2]
    assert training_feature_elements(unet, thin) <= reference_budget(unet, 92)


def test_a_small_stack_gets_the_patch_that_covers_it():
    voxel = (3.0, 1.0, 1.0)
    unet = planned_config(DEFAULT_3D.unet, voxel)
    patch = physical_patch_shape(unet, 92, [(10, 30, 20)], voxel)
    assert patch == tuple(smallest_tile_for_step(unet, n, a) for a, n in enumerate((10, 30, 20)))


@settings(max_examples=40, deadline=None)
@given(z=st.floats(1.0, 6.0), y=st.floats(1.0, 1.5), stack=st.tuples(st.integers(3, 120), st.integers(8, 400),
                                                                      st.integers(8, 400)),
       wanted=st.sampled_from([60, 92, 124]), depth=st.integers(2, 4))
def test_patches_are_valid_never_larger_than_needed_and_within_the_budget(z, y, stack, wanted, depth):
    voxel = (z, y, 1.0)
    unet = planned_config(UNetConfig(dims=3, depth=depth, wf=4, batch_norm=True), voxel)
    patch = physical_patch_shape(unet, wanted, [stack], voxel)
    assert unet.is_valid_shape(patch)
    cover = [smallest_tile_for_step(unet, n, a) for a, n in enumerate(stack)]
    assert all(p <= c for p, c in zip(patch, cover))
    floors = [min(low, c) for low, c in zip(unet.min_input_sizes, cover)]
    assert training_feature_elements(unet, patch) <= reference_budget(unet, wanted) or list(patch) == floors


@pytest.mark.parametrize("changes", [{}, {"voxel_size": (0.5, 0.5, 0.5)}, {"voxel_size": (0.502, 0.5, 0.5)},
                                     {"voxel_size": (1.5, 0.5, 0.5), "anisotropy": "isotropic"}])
def test_without_anisotropic_voxels_the_patch_is_the_cube_as_before(changes):
    config = DEFAULT_3D.replace(**changes)
    unet = planned_config(config.unet, config.voxel_size, config.anisotropy)
    assert unet == config.unet
    shapes = [(40, 300, 300)]
    assert training_patch_shape(unet, config, shapes) == patch_shape(unet, 92, shapes) == (80, 92, 92)


def test_anisotropic_voxels_give_the_physical_patch():
    config = DEFAULT_3D.replace(voxel_size=(1.5, 0.5, 0.5))
    unet = planned_config(config.unet, config.voxel_size)
    shapes = [(40, 300, 300)]
    patch = training_patch_shape(unet, config, shapes)
    assert patch == physical_patch_shape(unet, 92, shapes, (1.5, 0.5, 0.5))
    assert math.prod(unet.output_shape(patch)) >= 0.8 * math.prod(DEFAULT_3D.unet.output_shape((80, 92, 92)))
