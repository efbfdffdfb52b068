import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage as ndi

from napari_tiled_unet.training.elastic import (
    _deformed_coordinates,
    _linear_mirror,
    displacement_field,
    elastic_axis_scale,
    elastic_deform,
)


def label_patch(shape, seed=0, n_classes=5):
    return np.random.default_rng(seed).integers(0, n_classes, shape).astype(np.int32)


def test_elastic_axis_scale_is_physical_and_in_plane_for_coarse_axes():
    assert elastic_axis_scale(None) is None
    assert elastic_axis_scale((0.5, 0.5, 0.5)) is None
    assert elastic_axis_scale((1.0, 0.5, 0.5)) == (0.0, 1.0, 1.0)  # twice the pixel: planes stay planes
    assert elastic_axis_scale((3.0, 1.0, 1.0)) == (0.0, 1.0, 1.0)
    assert elastic_axis_scale((1.5, 1.0, 1.0)) == pytest.approx((1 / 1.5, 1.0, 1.0))  # same physical shift


def test_anisotropic_in_plane_deformation_matches_a_per_plane_mapping():
    shape = (5, 32, 32)
    labels = label_patch(shape, seed=22)
    image = labels.astype(np.float32)[None]
    out_image, out_labels, _ = elastic_deform(image, labels, None, np.random.default_rng(23), sigma=5.0, order=0,
                                              axis_scale=(0.0, 1.0, 1.0))
    assert np.array_equal(out_image[0], out_labels)
    for z in range(shape[0]):  # each output plane holds only values of the same input plane
        assert set(np.unique(out_labels[z])) <= set(np.unique(labels[z]))


def test_physical_displacements_are_scaled_per_axis():
    fields = np.stack([displacement_field((16, 16, 16), np.random.default_rng(s), 10.0, axis_scale=(0.5, 1, 1))
                       for s in range(30)])
    corners = fields[:, :, ::15, ::15, ::15]
    assert corners[:, 0].std() == pytest.approx(0.5 * corners[:, 1].std(), rel=0.35)
    same = displacement_field((16, 16, 16), np.random.default_rng(0), 10.0)
    np.testing.assert_allclose(fields[0, 1:], same[1:])  # the same draws, only scaled


@settings(max_examples=25, deadline=None)
@given(spatial=st.lists(st.integers(2, 9), min_size=2, max_size=3), channels=st.integers(1, 3),
       reach=st.floats(0.0, 30.0), seed=st.integers(0, 2**16))
def test_linear_resampling_equals_scipys_mirror_mode(spatial, channels, reach, seed):
    """The torch path of order 1 is ndi.map_coordinates(order=1, mode="mirror"), also far outside the patch."""
    rng = np.random.default_rng(seed)
    image = rng.random((channels, *spatial)).astype(np.float32)
    coords = rng.uniform(-reach, np.array(spatial)[:, None] + reach, size=(len(spatial), 7 * 11)).reshape(
        (len(spatial), 7, 11))
    expected = np.stack([ndi.map_coordinates(c, coords, order=1, mode="mirror") for c in image])
    np.testing.assert_allclose(_linear_mirror(image, coords), expected, atol=1e-4)


def test_elastic_deform_of_order_1_matches_the_spline_path():
    rng = np.random.default_rng(3)
    image = rng.random((2, 40, 33)).astype(np.float32)
    linear, _, _ = elastic_deform(image, None, None, np.random.default_rng(5), sigma=6.0, order=1)
    coords = _deformed_coordinates(displacement_field((40, 33), np.random.default_rng(5), 6.0, 3))
    expected = np.stack([ndi.map_coordinates(c, coords, order=1, mode="mirror") for c in image])
    np.testing.assert_allclose(linear, expected, atol=1e-4)
