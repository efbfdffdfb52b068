import dataclasses

import numpy as np
import pytest

from napari_tiled_unet.synthetic import StyleRanges, random_style, style_for_seed


def test_same_stream_same_style():
    assert random_style(np.random.default_rng(5)) == random_style(np.random.default_rng(5))
    assert random_style(np.random.default_rng(5)) != random_style(np.random.default_rng(6))
    assert style_for_seed(9) == style_for_seed(9)


def test_styles_cover_the_ranges():
    ranges = StyleRanges()
    styles = [style_for_seed(seed) for seed in range(300)]
    radii = np.array([s.radius for s in styles])
    assert radii.min() >= 4.0 and radii.max() <= 40.0
    assert radii.min() < 5.0 and radii.max() > 25.0  # both ends are drawn
    assert 6.0 < np.median(radii) < 14.0  # most images have ordinary nuclei
    assert all(s.min_radius == 4.0 and s.max_radius == 40.0 for s in styles)
    bits = np.array([s.bits for s in styles])
    assert 0.35 < np.mean(bits == 16) < 0.65
    photons = np.array([s.photons for s in styles])
    assert photons.min() < 15 and photons.max() > 1500  # very noisy to very clean
    assert all(ranges.coverage[0] <= s.coverage <= ranges.coverage[1] for s in styles)
    assert np.mean([s.second_share > 0 for s in styles]) == pytest.approx(ranges.share_mixed_sizes, abs=0.08)
    # a 10-20x brightness range between mitotic and dim nuclei in some images, never above the limit
    ratios = [s.mitotic_level / s.dim_level for s in styles if s.mitotic_share > 0 and s.dim_share > 0]
    assert max(ratios) >= 10 and max(ratios) <= ranges.max_brightness_ratio + 1e-9
    rims = np.array([s.rim for s in styles])
    assert rims.min() < -0.15 and rims.max() > 0.5  # dark and bright rims
    low_range = [s for s in styles if s.bits == 16 and s.offset + 2 * s.target < 4000]
    assert low_range  # 16-bit images that use only a few thousand counts


def test_3d_styles_have_a_coarse_z_step_and_a_wider_axial_psf():
    ranges = StyleRanges(z_step=(2.0, 3.0))
    for seed in range(20):
        style = random_style(np.random.default_rng(seed), ndim=3, ranges=ranges)
        assert style.ndim == 3 and 2.0 <= style.spacing[0] <= 3.0 and style.spacing[1:] == (1.0, 1.0)
        assert style.psf_sigma_z > style.psf_sigma
        assert style.out_of_focus == 0.0 and style.overlap_glow == 0.0


def test_custom_radius_range_is_honoured():
    ranges = StyleRanges(radius=(6.0, 9.0))
    radii = [random_style(np.random.default_rng(s), ranges=ranges).radius for s in range(50)]
    assert 6.0 <= min(radii) and max(radii) <= 9.0
    with pytest.raises(ValueError, match="ndim"):
        random_style(np.random.default_rng(0), ndim=4)


def test_clutter_is_drawn_only_when_asked_and_leaves_the_other_draws_alone():
    plain = [style_for_seed(seed) for seed in range(40)]
    assert all(style.clutter == 0.0 for style in plain)
    busy = [style_for_seed(seed, ranges=StyleRanges(share_clutter=0.5)) for seed in range(40)]
    assert 5 <= sum(style.clutter > 0 for style in busy) <= 35
    for a, b in zip(plain, busy, strict=True):
        assert a == dataclasses.replace(b, clutter=0.0, clutter_grain=a.clutter_grain)


def test_stray_light_is_drawn_only_when_asked_and_never_hides_the_dimmest_nuclei():
    ranges = StyleRanges(share_stray_light=0.6, stray_light=(0.3, 4.0))
    plain = [style_for_seed(seed) for seed in range(200)]
    lit = [style_for_seed(seed, ranges=ranges) for seed in range(200)]
    assert all(style.stray_light == 0.0 for style in plain)
    peaks = np.array([style.stray_light for style in lit])
    assert 20 <= np.count_nonzero(peaks) <= 120 and peaks.max() > 2.0 and peaks[peaks > 0].min() >= 0.3
    for a, b in zip(plain, lit, strict=True):
        # only the stray light and the camera scale that keeps the brightest light in range differ
        assert a == dataclasses.replace(b, stray_light=0.0, target=a.target)
        assert b.target <= a.target
        if b.stray_light:
            dimmest = b.dim_level if b.dim_share else np.exp(-2.0 * b.brightness_spread)
            noise = np.sqrt(b.photons * (b.background + 0.2 + b.stray_light)) + 0.75 * b.read_noise
            assert dimmest * b.photons >= 4.0 * noise - 1e-6


def test_stray_light_range_is_checked():
    with pytest.raises(ValueError, match="stray_light"):
        StyleRanges(stray_light=(0.0, 1.0))
    with pytest.raises(ValueError, match="share_stray_light"):
        StyleRanges(share_stray_light=1.5)
