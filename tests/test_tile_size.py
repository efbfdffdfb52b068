import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from unet_helpers import ANISO_3D, per_axis_configs

from napari_tiled_unet import UNetConfig
from napari_tiled_unet.tile_size import auto_tile_shape, feature_map_elements, tile_bytes
from napari_tiled_unet.tiling import min_useful_tiles, smallest_tile_for_step

MIB = 1024**2


@pytest.mark.parametrize(("config", "image", "budget", "gpu", "expected"), [
    # pinned from the isotropic code before per-axis geometry existed
    (dict(depth=4, wf=4), (8192, 8192), 4096 * MIB, False, (1020, 1020)),
    (dict(depth=4, wf=4), (8192, 8192), 200 * MIB, False, (676, 676)),
    (dict(depth=4, wf=4), (1024, 3000), 4096 * MIB, False, (1116, 1020)),
    (dict(dims=3, depth=3, wf=4), (60, 500, 500), 1024 * MIB, False, (100, 160, 160)),
    (dict(dims=3, depth=3, wf=4), (60, 500, 500), 50 * MIB, False, (60, 60, 60)),
    (dict(dims=3, depth=4, wf=5), (300, 300, 300), 16384 * MIB, True, (260, 260, 260)),
])
def test_isotropic_tiles_are_unchanged(config, image, budget, gpu, expected):
    assert auto_tile_shape(UNetConfig(**config), image, budget, gpu=gpu) == expected


def test_feature_maps_follow_the_per_axis_pooling():
    # skips of levels 0 and 1 plus three times the largest map; Z is not halved at the first step
    aniso = UNetConfig(wf=0, **ANISO_3D)
    level0, level1 = 20 * 48 * 48, 2 * 20 * 22 * 22  # (20, 48, 48) -> convs (20, 44, 44) -> pool (20, 22, 22)
    assert feature_map_elements(aniso, (20, 48, 48)) == level0 + level1 + 3 * level0
    iso = UNetConfig(dims=3, depth=3, wf=0)
    assert feature_map_elements(iso, (20, 48, 48)) == level0 + 2 * 8 * 22 * 22 + 3 * level0


@given(cfg=per_axis_configs(dims=3, max_depth=4, padding="valid"),
       image=st.tuples(st.integers(1, 300), st.integers(1, 600), st.integers(1, 600)),
       budget=st.integers(1, 2048), gpu=st.booleans())
@settings(max_examples=80, deadline=None)
def test_automatic_tiles_are_valid_per_axis_and_fit_the_budget_when_they_can(cfg, image, budget, gpu):
    shape = auto_tile_shape(cfg, image, budget * MIB, gpu=gpu)
    assert cfg.is_valid_shape(shape)
    floors = min_useful_tiles(cfg)
    covering = [smallest_tile_for_step(cfg, n, a) for a, n in enumerate(image)]
    assert all(min(f, c) <= s <= c for s, f, c in zip(shape, floors, covering))
    smallest = tuple(min(f, c) for f, c in zip(floors, covering))
    if tile_bytes(cfg, smallest) <= budget * MIB:
        assert tile_bytes(cfg, shape) <= budget * MIB
