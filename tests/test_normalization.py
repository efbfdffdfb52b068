import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from napari_tiled_unet.normalization import PercentileNormalization


def test_percentiles_map_to_zero_and_one():
    image = np.random.default_rng(0).gamma(2.0, 100.0, size=(120, 130)).astype(np.float32)
    norm = PercentileNormalization(low=2.0, high=98.0)
    out = norm.apply(image)
    assert out.dtype == np.float32 and out.shape == image.shape
    assert np.percentile(out, 2.0) == pytest.approx(0.0, abs=1e-5)
    assert np.percentile(out, 98.0) == pytest.approx(1.0, abs=1e-5)
    assert out.min() < 0 and out.max() > 1  # no clipping


def test_linear_ramp_exact_values():
    image = np.arange(101, dtype=np.uint16).reshape(1, 101)
    out = PercentileNormalization(low=10.0, high=90.0).apply(image)
    np.testing.assert_allclose(out[0, [10, 50, 90, 0, 100]], [0.0, 0.5, 1.0, -0.125, 1.125], atol=1e-6)


@pytest.mark.parametrize("channel_axis", [0, -1, 1])
def test_per_channel_statistics(channel_axis):
    rng = np.random.default_rng(1)
    channels = [rng.normal(10.0, 2.0, (20, 30, 40)), rng.normal(-500.0, 50.0, (20, 30, 40))]
    image = np.stack(channels, axis=channel_axis)
    norm = PercentileNormalization()
    low, high = norm.compute_stats(image, channel_axis)
    assert low.shape == high.shape == (2,)
    out = norm.apply(image, channel_axis=channel_axis)
    assert out.shape == image.shape
    for c in range(2):
        channel = np.take(out, c, axis=channel_axis)
        assert np.percentile(channel, norm.low) == pytest.approx(0.0, abs=1e-4)
        assert np.percentile(channel, norm.high) == pytest.approx(1.0, abs=1e-4)


def test_tile_with_whole_image_stats_matches_whole_image():
    image = np.random.default_rng(2).random((64, 64)) * 1000
    norm = PercentileNormalization()
    stats = norm.compute_stats(image, None)
    whole = norm.apply(image)
    tile = norm.apply(image[10:30, 5:50], stats=stats)
    np.testing.assert_allclose(tile, whole[10:30, 5:50], rtol=1e-6)


def test_subsampled_stats_are_close_to_full():
    image = np.random.default_rng(3).normal(0.0, 1.0, (300, 300))
    norm = PercentileNormalization(low=5.0, high=95.0)
    low, high = norm.compute_stats(image, None, max_samples=5000)
    assert low[0] == pytest.approx(np.percentile(image, 5.0), abs=0.1)
    assert high[0] == pytest.approx(np.percentile(image, 95.0), abs=0.1)
    assert np.array_equal(norm.compute_stats(image, None, max_samples=5000)[0], low)  # deterministic


def test_constant_image_does_not_blow_up():
    out = PercentileNormalization().apply(np.full((8, 8, 8), 7.0))
    assert np.isfinite(out).all() and np.all(out == 0)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_rejects_nan_and_inf(bad):
    image = np.ones((10, 10), dtype=np.float32)
    image[3, 4] = bad
    norm = PercentileNormalization()
    with pytest.raises(ValueError, match="NaN or infinite"):
        norm.apply(image)
    with pytest.raises(ValueError, match="NaN or infinite"):
        norm.compute_stats(image, None)
    with pytest.raises(ValueError, match="NaN or infinite"):
        norm.apply(image, stats=(np.zeros(1), np.ones(1)))


def test_dict_round_trip_and_validation():
    norm = PercentileNormalization(low=0.5, high=99.5)
    assert PercentileNormalization.from_dict(norm.to_dict()) == norm
    assert PercentileNormalization.from_dict({}) == PercentileNormalization()
    with pytest.raises(ValueError, match="unknown normalization keys"):
        PercentileNormalization.from_dict({"low": 1.0, "hihg": 99.0})
    for low, high in [(50.0, 50.0), (60.0, 40.0), (-1.0, 99.0), (1.0, 100.5)]:
        with pytest.raises(ValueError, match="0 <= low < high <= 100"):
            PercentileNormalization.from_dict({"low": low, "high": high})
    with pytest.raises(ValueError, match=r"PercentileNormalization\.low"):
        PercentileNormalization(low="1")


def test_bad_arguments():
    norm = PercentileNormalization()
    with pytest.raises(ValueError, match="channel_axis=3"):
        norm.apply(np.zeros((4, 4, 2)), channel_axis=3)
    with pytest.raises(ValueError, match="channel"):
        norm.apply(np.zeros((4, 4, 2)), channel_axis=-1, stats=(np.zeros(3), np.ones(3)))
    with pytest.raises(ValueError, match="empty"):
        norm.apply(np.zeros((0, 4)))
    with pytest.raises(ValueError, match="dtype"):
        norm.apply(np.zeros((4, 4), dtype=bool))


@settings(max_examples=20, deadline=None)
@given(
    shape=st.lists(st.integers(1, 12), min_size=2, max_size=3),
    seed=st.integers(0, 2**16),
    scale=st.floats(1e-3, 1e4),
)
def test_property_finite_float32_and_monotonic(shape, seed, scale):
    image = np.random.default_rng(seed).normal(0.0, scale, shape)
    out = PercentileNormalization().apply(image)
    assert out.dtype == np.float32 and out.shape == image.shape and np.isfinite(out).all()
    order = np.argsort(image, axis=None, kind="stable")
    assert np.all(np.diff(out.reshape(-1)[order]) >= -1e-6)
