from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from unet_helpers import per_axis_configs

from napari_tiled_unet import UNetConfig
from napari_tiled_unet.tiling import (
    axis_layout,
    make_layout,
    min_useful_tile,
    min_useful_tiles,
    reflect_indices,
    smallest_tile_for_step,
    step_for_tile,
    tile_context,
    tile_contexts,
)

configs = st.builds(
    UNetConfig,
    depth=st.integers(1, 5),
    padding=st.sampled_from(["valid", "same"]),
    up_mode=st.sampled_from(["upconv", "upsample"]),
)


@given(size=st.integers(1, 40), start=st.integers(-100, 100), length=st.integers(1, 120))
def test_reflect_indices_match_numpy_reflect_padding(size, start, length):
    values = np.arange(size)
    pad = max(0, -start) + max(0, start + length - size) + 1
    padded = np.pad(values, pad, mode="reflect")
    expected = padded[start + pad : start + pad + length]
    assert np.array_equal(values[reflect_indices(start, length, size)], expected)


@given(cfg=configs, size=st.integers(1, 700), wanted=st.integers(1, 800))
@settings(max_examples=200)
def test_layout_covers_every_pixel_once_on_the_alignment_grid(cfg, size, wanted):
    axis = axis_layout(cfg, size, wanted)
    assert cfg.is_valid_size(axis.tile)
    assert axis.step > 0 and axis.step % cfg.alignment == 0
    assert axis.context >= cfg.margin
    covered = np.zeros(size, dtype=int)
    for k in range(axis.n_tiles):
        image_slice, out_slice = axis.kept(k)
        covered[image_slice] += 1
        assert out_slice.start == axis.crop
        assert out_slice.stop <= cfg.output_size(axis.tile) - (axis.crop if cfg.padding == "valid" else 0)
        # tile origin on the mirror-padded canvas (origin at -context) lies on the pooling grid
        assert (axis.input_start(k) + axis.context) % cfg.alignment == 0
    assert np.all(covered == 1)


def test_tile_is_rounded_down_grown_shrunk_and_balanced():
    cfg = UNetConfig(depth=4)
    assert axis_layout(cfg, 416 * 12, 510).tile == 508  # 508 keeps 416 px: twelve full tiles
    balanced = axis_layout(cfg, 5000, 510)  # 13 tiles of 508 would waste most of the last one
    assert balanced.n_tiles == 13 and balanced.tile < 508
    assert balanced.step * 13 >= 5000 and (balanced.step - cfg.alignment) * 13 < 5000
    assert axis_layout(cfg, 5000, 10).tile == min_useful_tile(cfg)
    small = axis_layout(cfg, 30, 2000)
    assert small.n_tiles == 1 and small.step >= 30 and small.tile < 200


def test_abutting_outputs_are_not_a_multiple_of_the_grid_for_depth_4():
    # why the step is out - 4: an output size is 4 mod 2**(depth-1) for depth >= 4
    cfg = UNetConfig(depth=4)
    assert cfg.output_size(508) % cfg.alignment == 4
    assert step_for_tile(cfg, 508) == 416


def test_contexts():
    assert tile_context(UNetConfig(depth=4)) == 44
    assert tile_context(UNetConfig(depth=4, up_mode="upsample")) == 52
    assert tile_context(UNetConfig(depth=4, padding="same")) == 48


def test_layout_iterates_tiles_in_order():
    cfg = UNetConfig(depth=3)
    layout = make_layout(cfg, (100, 50), (64, 64))
    tiles = list(layout)
    assert len(tiles) == layout.n_tiles == int(np.prod(layout.grid))
    assert tiles[0].input_start == (-20, -20)
    assert layout.overhead > 1.0


def test_layout_rejects_bad_input():
    with pytest.raises(ValueError, match="one size per image axis"):
        make_layout(UNetConfig(), (10, 10), (64,))
    with pytest.raises(ValueError, match="at least 1 pixel"):
        axis_layout(UNetConfig(), 0, 64)


# ---------------------------------------------------------------------------------------------- per axis
ANISO = UNetConfig(dims=3, depth=3, pooling=((1, 2, 2), (2, 2, 2)), kernels=((1, 3, 3), (3, 3, 3), (3, 3, 3)))


@given(cfg=per_axis_configs(max_depth=5), data=st.data())
@settings(max_examples=150, deadline=None)
def test_per_axis_layout_covers_every_pixel_once_on_each_axis_grid(cfg, data):
    axis = data.draw(st.integers(0, cfg.dims - 1))
    size, wanted = data.draw(st.integers(1, 400)), data.draw(st.integers(1, 500))
    layout = axis_layout(cfg, size, wanted, axis=axis)
    grid, margin = cfg.alignments[axis], cfg.margins[axis]
    assert cfg.is_valid_size(layout.tile, axis)
    assert layout.step > 0 and layout.step % grid == 0
    assert layout.context == tile_context(cfg, axis) >= margin and layout.crop == layout.context - margin
    covered = np.zeros(size, dtype=int)
    for k in range(layout.n_tiles):
        image_slice, out_slice = layout.kept(k)
        covered[image_slice] += 1
        assert out_slice.stop <= cfg.output_size(layout.tile, axis) - (layout.crop if cfg.padding == "valid" else 0)
        assert (layout.input_start(k) + layout.context) % grid == 0
    assert np.all(covered == 1)


def test_anisotropic_contexts_and_layout_use_each_axis_geometry():
    assert tile_contexts(ANISO) == (8, 20, 20)
    assert tile_contexts(replace(ANISO, up_mode="upsample")) == (10, 24, 24)
    assert tile_contexts(replace(ANISO, padding="same")) == (8, 20, 20)  # valid margin rounded up to the grid
    assert min_useful_tiles(ANISO) == tuple(min_useful_tile(ANISO, a) for a in range(3))
    layout = make_layout(ANISO, (30, 100, 100), (24, 60, 60))
    assert [a.context for a in layout.axes] == [8, 20, 20]
    assert [a.step % g for a, g in zip(layout.axes, ANISO.alignments)] == [0, 0, 0]
    assert layout.axes[0].tile == 24 and ANISO.is_valid_size(24, axis=0)
    assert step_for_tile(ANISO, 24, axis=0) == 24 - 16


@pytest.mark.parametrize("call", [
    lambda: tile_context(ANISO), lambda: step_for_tile(ANISO, 44), lambda: smallest_tile_for_step(ANISO, 8),
    lambda: min_useful_tile(ANISO), lambda: axis_layout(ANISO, 50, 40),
])
def test_scalar_tiling_of_an_anisotropic_net_asks_for_the_axis(call):
    with pytest.raises(ValueError, match=r"differs per axis for this anisotropic net.*pass axis=0..2"):
        call()
