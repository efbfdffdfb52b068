"""The generator's parts: shapes, smooth fields, camera."""

import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_tiled_unet.synthetic import NucleiStyle
from napari_tiled_unet.synthetic.camera import record
from napari_tiled_unet.synthetic.fields import blur, smooth_noise
from napari_tiled_unet.synthetic.shapes import Nucleus, rasterize


def nucleus(center, axes, bend=0.0, wobble=None, rotation=None):
    ndim = len(center)
    return Nucleus(center=np.asarray(center, float), axes=np.asarray(axes, float),
                   rotation=np.eye(ndim) if rotation is None else rotation, bend=bend,
                   wobble=np.zeros((3, 2 + ndim)) if wobble is None else wobble, brightness=1.0, kind="normal",
                   texture=0.0, rim=0.0, dome=0.0, phase=0.0)


def test_a_circle_has_the_area_of_a_circle_and_outside_nuclei_are_skipped():
    inside, outside = nucleus((30.0, 30.0), (10.0, 10.0)), nucleus((-50.0, 30.0), (5.0, 5.0))
    drawn = rasterize([inside, outside], (64, 64), np.ones(2))
    _box, rho = drawn[0]
    assert np.count_nonzero(rho < 1) == pytest.approx(np.pi * 100, rel=0.03)
    assert drawn[1] is None
    assert inside.radius == pytest.approx(10.0)


def test_a_bean_is_concave_and_a_wobble_changes_the_outline():
    from skimage.measure import regionprops

    bean = nucleus((40.0, 40.0), (16.0, 8.0), bend=0.7)
    box, rho = rasterize([bean], (80, 80), np.ones(2))[0]
    props = regionprops((rho < 1).astype(np.uint8))[0]
    assert props.solidity < 0.93
    wobble = np.array([[0.15, 3.0, 0.0, 0.0], [0.0, 4.0, 0.0, 0.0], [0.0, 5.0, 0.0, 0.0]])
    masks = []
    for shape in (nucleus((40.0, 40.0), (12.0, 12.0)), nucleus((40.0, 40.0), (12.0, 12.0), wobble=wobble)):
        box, rho = rasterize([shape], (80, 80), np.ones(2))[0]
        canvas = np.zeros((80, 80), dtype=bool)
        canvas[box] = rho < 1
        masks.append(canvas)
    assert np.count_nonzero(masks[0] ^ masks[1]) > 40


def test_rasterize_uses_the_spacing():
    sphere = nucleus((25.0, 32.0, 32.0), (10.0, 10.0, 10.0))
    _box, rho = rasterize([sphere], (20, 64, 64), np.array([2.5, 1.0, 1.0]))[0]
    z_extent = np.flatnonzero((rho < 1).any(axis=(1, 2)))
    assert z_extent.size == pytest.approx(20 / 2.5, abs=1)


def test_smooth_noise_is_standardised_and_smooth():
    field = smooth_noise(np.random.default_rng(0), (128, 96), 8.0)
    assert field.shape == (128, 96)
    assert abs(field.mean()) < 1e-5 and field.std() == pytest.approx(1.0, abs=1e-4)
    assert np.abs(np.diff(field, axis=0)).mean() < 0.3  # neighbours are alike


def test_blur_of_a_broad_sigma_matches_a_gaussian_filter():
    rng = np.random.default_rng(1)
    image = ndi.gaussian_filter(rng.random((120, 100)), 3.0).astype(np.float32)
    exact = ndi.gaussian_filter(image, 12.0)
    fast = blur(image, 12.0)
    assert fast.shape == image.shape
    assert np.abs(fast - exact).max() < 0.05 * (exact.max() - exact.min()) + 1e-3
    np.testing.assert_allclose(blur(image, 1.0), ndi.gaussian_filter(image, 1.0), rtol=1e-5)


def test_camera_gain_offset_and_saturation():
    style = NucleiStyle(photons=400.0, target=1000.0, offset=100.0, read_noise=2.0, bits=16)
    light = np.ones((200, 200), dtype=np.float32)
    image = record(np.random.default_rng(0), light, style)
    assert image.dtype == np.uint16
    assert image.mean() == pytest.approx(1100.0, rel=0.01)
    assert image.std() == pytest.approx(1000.0 / np.sqrt(400.0), rel=0.1)  # shot noise dominates
    bright = record(np.random.default_rng(0), light * 100, style.replace(bits=8, target=100.0, offset=5.0))
    assert bright.dtype == np.uint8 and bright.max() == 255
