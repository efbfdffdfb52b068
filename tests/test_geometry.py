import pytest
from hypothesis import given
from hypothesis import strategies as st

from napari_tiled_unet import geometry
from napari_tiled_unet.config import UNetConfig


@pytest.mark.parametrize(("depth", "margin"), [(3, 20), (4, 44), (5, 92)])
def test_margin_matches_formula(depth, margin):
    assert geometry.margin(depth) == margin


@pytest.mark.parametrize(("depth", "size", "out"), [(5, 572, 388), (4, 204, 116), (4, 508, 420), (3, 124, 84)])
def test_reference_sizes(depth, size, out):
    assert geometry.valid_output_size(size, depth) == out


@pytest.mark.parametrize("depth", [2, 3, 4, 5, 6])
def test_valid_sizes_are_min_plus_multiples_of_alignment(depth):
    low = geometry.min_input_size(depth)
    step = 2 ** (depth - 1)
    if depth >= 3:
        assert low == 6 * 2**depth - 4
    for size in range(1, low + 6 * step):
        valid = geometry.valid_output_size(size, depth) is not None
        assert valid == (size >= low and (size - low) % step == 0), size


@given(depth=st.integers(1, 6), k=st.integers(0, 40))
def test_output_is_input_minus_two_margins(depth, k):
    size = geometry.min_input_size(depth) + k * 2 ** (depth - 1)
    assert geometry.valid_output_size(size, depth) == size - 2 * geometry.margin(depth)


@given(depth=st.integers(1, 6), size=st.integers(1, 3000))
def test_nearest_valid_sizes_bracket_the_size(depth, size):
    cfg = UNetConfig(depth=depth)
    below, above = cfg.nearest_valid_sizes(size)
    assert cfg.is_valid_size(above) and above >= size
    assert above - size < cfg.alignment or size < cfg.min_input_size
    if below is not None:
        assert cfg.is_valid_size(below) and below <= size and size - below < cfg.alignment
    else:
        assert size < cfg.min_input_size
