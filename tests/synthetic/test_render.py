import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage as ndi
from skimage.measure import label as label_regions

from napari_tiled_unet.synthetic import NucleiStyle, render_nuclei, style_for_seed, synthetic_nuclei

DENSE = NucleiStyle(radius=9.0, coverage=0.55, clustering=0.9, overlap=0.3, photons=2000.0)


def touching_pairs(labels: np.ndarray) -> set[tuple[int, int]]:
    pairs = set()
    for axis in range(labels.ndim):
        a = np.moveaxis(labels, axis, 0)[:-1].ravel()
        b = np.moveaxis(labels, axis, 0)[1:].ravel()
        keep = (a != b) & (a > 0) & (b > 0)
        pairs.update(zip(np.minimum(a, b)[keep].tolist(), np.maximum(a, b)[keep].tolist(), strict=True))
    return pairs


@pytest.mark.parametrize("seed", [0, 11])
def test_same_seed_same_arrays(seed):
    first = synthetic_nuclei((96, 80), seed=seed)
    second = synthetic_nuclei((96, 80), seed=seed)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    other = synthetic_nuclei((96, 80), seed=seed + 1)
    assert not np.array_equal(first[0], other[0])
    np.testing.assert_array_equal(render_nuclei((64, 64), DENSE, 3)[0], render_nuclei((64, 64), DENSE, 3)[0])


@pytest.mark.parametrize("seed", range(8))
def test_dtype_range_and_ids(seed):
    image, labels = synthetic_nuclei((128, 128), seed=seed)
    style = style_for_seed(seed)
    assert image.shape == labels.shape == (128, 128)
    assert image.dtype == (np.uint8 if style.bits == 8 else np.uint16)
    assert labels.dtype == np.uint16
    ids = np.unique(labels)
    np.testing.assert_array_equal(ids, np.arange(ids.size))  # 0 and 1..N without gaps
    assert image.max() > image.min()


def test_16_bit_images_can_use_a_small_part_of_the_range():
    style = NucleiStyle(bits=16, offset=100.0, target=1500.0, mitotic_share=0.0)
    image, _ = render_nuclei((128, 128), style, seed=1)
    assert image.dtype == np.uint16 and 500 < int(image.max()) < 4000
    style8 = NucleiStyle(bits=8, offset=10.0, target=120.0)
    assert render_nuclei((64, 64), style8, seed=1)[0].dtype == np.uint8


@pytest.mark.parametrize("seed", range(0, 40, 4))
def test_masks_are_where_the_image_is_bright(seed):
    image, labels = synthetic_nuclei((160, 160), seed=seed)
    image = image.astype(float)
    if labels.max() == 0:
        pytest.skip("no nucleus in this field")
    assert np.median(image[labels > 0]) > np.median(image[labels == 0])
    # every nucleus is brighter than the background ring around it (all nuclei, dim ones included), within noise
    foreground = labels > 0
    ring = ndi.binary_dilation(foreground, iterations=5) & ~ndi.binary_dilation(foreground, iterations=2)
    owner = ndi.grey_dilation(labels, size=11) * ring
    ids = np.arange(1, labels.max() + 1)
    inside = ndi.mean(image, labels, ids)
    around = ndi.mean(image, owner, ids)
    spread = ndi.standard_deviation(image, owner, ids) / np.sqrt(np.maximum(ndi.sum_labels(foreground, labels, ids), 1))
    known = np.isfinite(around)
    brighter = inside[known] > around[known] + 2 * spread[known]
    assert brighter.mean() >= 0.95


def test_touching_nuclei_have_distinct_ids_and_one_piece_each():
    _image, labels = render_nuclei((192, 192), DENSE, seed=4)
    assert len(touching_pairs(labels)) >= 30  # a dense field: many nuclei touch
    pieces = label_regions(labels, background=0, connectivity=1)
    assert pieces.max() == labels.max()  # each id is one 4-connected region
    # the touching pairs are separate objects, not one merged blob
    merged = ndi.label(labels > 0)[1]
    assert merged < labels.max() * 0.8


def test_sizes_honour_the_radius_limits():
    style = NucleiStyle(radius=6.0, size_spread=0.6, min_radius=5.0, max_radius=8.0, second_radius=30.0,
                        second_share=0.3, irregularity=0.0, bean_share=0.0, overlap=0.0, clustering=0.0,
                        coverage=0.2, mitotic_share=0.2)
    _, labels = render_nuclei((256, 256), style, seed=2)
    ids = np.arange(1, labels.max() + 1)
    areas = ndi.sum_labels(np.ones_like(labels), labels, ids)
    slices = ndi.find_objects(labels)
    whole = np.array([all(s.start > 0 and s.stop < 256 for s in slc) for slc in slices])
    radius = np.sqrt(areas[whole] / np.pi)
    assert radius.size > 20
    assert radius.min() >= 5.0 * 0.8 and radius.max() <= 8.0 * 1.1


def test_mixed_sizes_and_brightness_classes_side_by_side():
    style = NucleiStyle(radius=6.0, second_radius=18.0, second_share=0.4, size_spread=0.05, min_radius=4,
                        max_radius=40, dim_share=0.3, dim_level=0.15, mitotic_share=0.15, mitotic_level=3.0,
                        coverage=0.3, photons=3000.0, brightness_spread=0.05, overlap=0.0)
    image, labels = render_nuclei((256, 256), style, seed=5)
    ids = np.arange(1, labels.max() + 1)
    radius = np.sqrt(ndi.sum_labels(np.ones_like(labels), labels, ids) / np.pi)
    assert np.percentile(radius, 90) > 2.0 * np.percentile(radius, 10)
    light = ndi.mean(image.astype(float) - style.offset, labels, ids)
    assert np.percentile(light, 98) > 10 * np.percentile(light, 5)  # bright mitotic next to dim nuclei


def test_3d_stack_is_anisotropic():
    style = NucleiStyle(spacing=(2.5, 1.0, 1.0), radius=10.0, size_spread=0.05, z_flatten=1.0, aspect=1.0,
                        aspect_spread=0.0, coverage=0.15, clustering=0.0, overlap=0.0, mitotic_share=0.0,
                        irregularity=0.0, bean_share=0.0)
    image, labels = render_nuclei((24, 64, 64), style, seed=1)
    assert image.shape == labels.shape == (24, 64, 64) and labels.max() > 3
    for slc in ndi.find_objects(labels):
        if all(s.start > 0 and s.stop < n for s, n in zip(slc, labels.shape, strict=True)):
            z, y = slc[0].stop - slc[0].start, slc[1].stop - slc[1].start
            assert 2.0 <= y / z <= 3.2  # about 2.5x fewer planes than pixels across
    with pytest.raises(ValueError, match="3D"):
        render_nuclei((64, 64), style, seed=0)


@settings(max_examples=20, deadline=None)
@given(shape=st.tuples(st.integers(1, 70), st.integers(1, 70)), seed=st.integers(0, 2**32 - 1))
def test_any_size_gives_consistent_output(shape, seed):
    image, labels = synthetic_nuclei(shape, seed=seed)
    assert image.shape == labels.shape == shape
    ids = np.unique(labels)
    np.testing.assert_array_equal(ids, np.arange(ids.size))


def test_clutter_adds_unlabelled_textured_background():
    quiet = NucleiStyle(radius=9.0, coverage=0.2, photons=3000.0, bits=16, background=0.01)
    busy = NucleiStyle(**{**quiet.to_dict(), "clutter": 0.15, "clutter_grain": 1.5})
    plain, labels = render_nuclei((128, 128), quiet, seed=4)
    cluttered, same_labels = render_nuclei((128, 128), busy, seed=4)
    np.testing.assert_array_equal(labels, same_labels)  # clutter is never an object
    outside = ndi.binary_dilation(labels > 0, iterations=3) == 0
    extra = cluttered[outside].astype(float) - plain[outside].astype(float)
    assert extra.mean() > 0.02 * quiet.target  # a patchy glow of about 5% of a nucleus on average
    assert extra.std() > extra.mean()  # patchy and grainy, not a flat offset


def test_stray_light_adds_smooth_unlabelled_light_that_can_outshine_nuclei():
    quiet = NucleiStyle(radius=9.0, coverage=0.2, photons=3000.0, bits=16, background=0.01, read_noise=0.0,
                        background_variation=0.0, gradient=0.0, vignetting=0.0, haze=0.0, out_of_focus=0.0)
    lit = NucleiStyle(**{**quiet.to_dict(), "stray_light": 2.0})
    plain, labels = render_nuclei((128, 128), quiet, seed=4)
    bright, same_labels = render_nuclei((128, 128), lit, seed=4)
    np.testing.assert_array_equal(labels, same_labels)  # stray light is never an object
    extra = ndi.gaussian_filter(bright.astype(float) - plain.astype(float), 4.0)
    typical = np.median(plain[labels > 0].astype(float)) - quiet.offset
    assert extra.max() == pytest.approx(2.0 * typical, rel=0.35)  # peaks at about twice a typical nucleus
    assert extra.max() - extra.min() > typical  # varies across the image: brighter than a nucleus somewhere
    assert np.abs(np.diff(extra, axis=1)).max() < 0.05 * typical  # smooth: no structure at the nuclei's scale
