import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from unet_helpers import per_axis_configs

from napari_tiled_unet import UNet, geometry
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


# ---------------------------------------------------------------------------------------------- per axis
axis_specs = st.integers(1, 6).flatmap(lambda depth: st.tuples(
    st.tuples(*[st.sampled_from([1, 2])] * (depth - 1)), st.tuples(*[st.sampled_from([1, 3])] * depth)))


def test_isotropic_axis_is_the_classic_net():
    for depth in range(1, 8):
        factors, kernels = geometry.isotropic_axis(depth)
        assert geometry.axis_margin(factors, kernels) == 3 * 2**depth - 4
        assert geometry.axis_alignment(factors) == 2 ** (depth - 1)


@pytest.mark.parametrize(("factors", "kernels", "margin", "low", "step"), [
    ((1, 2), (1, 3, 3), 8, 18, 2),  # Z of pooling ((1,2,2),(2,2,2)), kernels ((1,3,3),(3,3,3),(3,3,3))
    ((1, 1), (1, 1, 3), 2, 5, 1),  # never pooled, convolved at the bottom only
    ((2, 2), (1, 1, 1), 0, 4, 4),  # 1-kernels lose nothing: only the pooling grid is left
    ((), (3,), 2, 5, 1),  # depth 1: two convolutions
])
def test_per_axis_examples_derived_by_hand(factors, kernels, margin, low, step):
    assert geometry.axis_margin(factors, kernels) == margin
    assert geometry.axis_min_input_size(factors, kernels) == low
    assert geometry.axis_alignment(factors) == step
    assert geometry.axis_output_size(low, factors, kernels) == low - 2 * margin


@given(spec=axis_specs, k=st.integers(0, 30))
def test_per_axis_valid_sizes_are_min_plus_multiples_of_the_grid(spec, k):
    factors, kernels = spec
    low = geometry.axis_min_input_size(factors, kernels)
    step = geometry.axis_alignment(factors)
    margin = geometry.axis_margin(factors, kernels)
    assert geometry.axis_output_size(low + k * step, factors, kernels) == low + k * step - 2 * margin
    for size in range(max(1, low - 2 * step), low + 3 * step):
        valid = geometry.axis_output_size(size, factors, kernels) is not None
        assert valid == (size >= low and (size - low) % step == 0), size


def test_a_factor_one_step_keeps_parity_and_a_one_kernel_level_loses_nothing():
    # depth 2, axis not pooled: odd and even sizes work once the three conv blocks fit (12 px lost)
    assert [geometry.axis_output_size(s, (1,), (3, 3)) for s in (12, 13, 14)] == [None, 1, 2]
    assert geometry.axis_output_size(9, (1,), (1, 1)) == 9  # 1-kernels lose nothing
    assert geometry.axis_output_size(9, (2,), (1, 1)) is None  # a factor 2 needs an even size


class _Unchecked(UNet):
    """The module without its size check: it crops silently, so hooks can see what it really does."""

    def check_input(self, shape):
        pass


def _module_accepts(net: UNet, shape: tuple[int, ...]) -> tuple[bool, tuple[int, ...] | None]:
    """Run the real module and report whether every pooling saw whole cells and every skip crop was centred."""
    cfg = net.config
    problems = []

    def pooled(module, args):
        kernel = module.kernel_size if isinstance(module.kernel_size, tuple) else (module.kernel_size,) * cfg.dims
        if any(s % k for s, k in zip(args[0].shape[2:], kernel)):
            problems.append("pooling")

    def joined(module, args):
        x, skip = args
        factors = cfg.pool_factors[len(net.up_path) - 1 - list(net.up_path).index(module)]
        for s, u in zip(skip.shape[2:], (x * f for x, f in zip(x.shape[2:], factors))):
            if s < u or (s - u) % 2:
                problems.append("skip")

    hooks = [p.register_forward_pre_hook(pooled) for p in net.pools]
    hooks += [u.register_forward_pre_hook(joined) for u in net.up_path]
    try:
        with torch.inference_mode():
            out = net(torch.zeros(1, 1, *shape))
    except RuntimeError:
        return False, None
    finally:
        for hook in hooks:
            hook.remove()
    if problems or min(out.shape[2:]) < 1:
        return False, None
    return True, tuple(out.shape[2:])


@given(cfg=per_axis_configs(dims=2), data=st.data())
@settings(max_examples=60, deadline=None)
def test_geometry_matches_the_real_module_2d(cfg, data):
    net = _Unchecked(cfg).eval()
    shape = tuple(max(1, data.draw(st.integers(low - 3, low + 2 * step + 3)))
                  for low, step in zip(cfg.min_input_sizes, cfg.alignments))
    accepted, out = _module_accepts(net, shape)
    assert accepted == cfg.is_valid_shape(shape), (cfg, shape)
    if accepted:
        assert out == cfg.output_shape(shape) == tuple(s - 2 * m for s, m in zip(shape, cfg.margins))


@given(cfg=per_axis_configs(dims=3, max_depth=3), data=st.data())
@settings(max_examples=25, deadline=None)
def test_geometry_matches_the_real_module_3d(cfg, data):
    net = _Unchecked(cfg).eval()
    shape = tuple(max(1, data.draw(st.integers(low - 2, low + step + 2)))
                  for low, step in zip(cfg.min_input_sizes, cfg.alignments))
    accepted, out = _module_accepts(net, shape)
    assert accepted == cfg.is_valid_shape(shape), (cfg, shape)
    if accepted:
        assert out == cfg.output_shape(shape) == tuple(s - 2 * m for s, m in zip(shape, cfg.margins))


def test_the_module_probe_sees_bad_pooling_and_accepts_good_sizes():
    net = _Unchecked(UNetConfig(depth=3, wf=0)).eval()
    assert _module_accepts(net, (44, 48)) == (True, (4, 8))
    assert _module_accepts(net, (46, 44))[0] is False  # 46 - 4 = 42 pools to 21, then 21 - 4 = 17 is odd
    aniso = _Unchecked(UNetConfig(depth=2, wf=0, pooling=((1, 2),))).eval()
    assert _module_accepts(aniso, (13, 20)) == (True, (1, 4))  # the unpooled axis takes an odd size
