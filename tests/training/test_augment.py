import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from napari_tiled_unet.training.augment import (
    AugmentationConfig,
    augment,
    displacement_field,
    elastic_deform,
    random_flip,
)

GEOMETRY_ONLY = AugmentationConfig(elastic=False, intensity=False)
ELASTIC_ONLY = AugmentationConfig(flips=False, elastic_probability=1.0, intensity=False, elastic_order=0)


def label_patch(shape, seed=0, n_classes=5):
    return np.random.default_rng(seed).integers(0, n_classes, shape).astype(np.int32)


@pytest.mark.parametrize("shape", [(16, 16), (12, 20), (6, 10, 10), (5, 8, 12)])
def test_flips_keep_image_and_labels_aligned(shape):
    labels = label_patch(shape)
    image = labels.astype(np.float32)[None]
    weights = labels.astype(np.float32) * 2
    rng = np.random.default_rng(1)
    for _ in range(20):
        out_image, out_labels, out_weights = augment(image, labels, weights, rng, GEOMETRY_ONLY)
        assert out_image.shape == image.shape and out_labels.shape == labels.shape
        assert np.array_equal(out_image[0], out_labels)
        assert np.array_equal(out_weights, 2 * out_labels)
        assert out_labels.flags.c_contiguous and out_image.flags.c_contiguous


def test_square_flips_cover_the_dihedral_group():
    labels = np.arange(9, dtype=np.int32).reshape(3, 3)
    rng = np.random.default_rng(2)
    seen = {random_flip(labels[None].astype(np.float32), labels, None, rng)[1].tobytes() for _ in range(200)}
    assert len(seen) == 8


def test_non_square_flips_keep_shape_and_3d_rotations_stay_in_plane():
    rng = np.random.default_rng(3)
    labels = np.arange(4 * 6, dtype=np.int32).reshape(4, 6)
    seen = set()
    for _ in range(100):
        _, out, _ = random_flip(labels[None].astype(np.float32), labels, None, rng)
        assert out.shape == (4, 6)
        seen.add(out.tobytes())
    assert len(seen) == 4
    volume = np.broadcast_to(np.arange(5)[:, None, None], (5, 6, 6)).astype(np.int32)
    for _ in range(20):
        _, out, _ = random_flip(volume[None].astype(np.float32), volume, None, rng, flip_z=False)
        assert np.array_equal(out, volume)  # Z is never mixed with Y or X


@pytest.mark.parametrize("shape", [(40, 40), (10, 24, 24)])
def test_elastic_keeps_alignment_and_label_values(shape):
    labels = label_patch(shape, seed=4)
    labels[..., : shape[-1] // 2] = 0  # left half not annotated
    image = labels.astype(np.float32)[None]
    rng = np.random.default_rng(5)
    for _ in range(5):
        out_image, out_labels, _ = augment(image, labels, None, rng, ELASTIC_ONLY)
        assert np.array_equal(out_image[0], out_labels)  # same nearest-neighbour mapping
        assert set(np.unique(out_labels)) <= set(np.unique(labels))
        assert not np.array_equal(out_labels, labels)


def test_sparse_zero_stays_zero_with_linear_image():
    labels = np.zeros((48, 48), dtype=np.uint16)
    labels[20:28, 20:28] = 7
    image = np.random.default_rng(6).random((2, 48, 48), dtype=np.float32)
    config = AugmentationConfig(elastic_probability=1.0, elastic_sigma=3.0)
    rng = np.random.default_rng(7)
    for _ in range(10):
        out_image, out_labels, out_weights = augment(image, labels, None, rng, config)
        assert out_weights is None and out_image.dtype == np.float32 and out_image.shape == image.shape
        assert set(np.unique(out_labels)) <= {0, 7}
        assert np.all(out_labels[:5] == 0)  # far from the object nothing becomes annotated


def test_out_slices_crop_labels_to_the_network_output():
    shape = (30, 30)
    out_slices = (slice(8, 22), slice(8, 22))
    labels = label_patch(shape, seed=8)
    image = labels.astype(np.float32)[None]
    rng = np.random.default_rng(9)
    for config in (ELASTIC_ONLY, GEOMETRY_ONLY, AugmentationConfig(elastic_order=0, intensity=False)):
        out_image, out_labels, out_weights = augment(image, labels, labels * 1.0, rng, config, out_slices)
        assert out_labels.shape == (14, 14) and out_weights.shape == (14, 14)
        assert np.array_equal(out_image[0][out_slices], out_labels)
        assert np.array_equal(out_weights, out_labels)


def test_zero_sigma_elastic_is_identity():
    image = np.random.default_rng(10).random((1, 9, 11, 13), dtype=np.float32)
    labels = label_patch((9, 11, 13))
    out_image, out_labels, _ = elastic_deform(image, labels, None, np.random.default_rng(0), sigma=0.0)
    np.testing.assert_allclose(out_image, image, atol=1e-6)
    assert np.array_equal(out_labels, labels)


def test_displacement_field_is_smooth_with_sigma_amplitude():
    fields = np.stack([displacement_field((64, 64), np.random.default_rng(s), sigma=10.0) for s in range(50)])
    assert fields.shape == (50, 2, 64, 64)
    assert 7.0 < fields[:, :, ::63, ::63].std() < 13.0  # corners are the coarse grid values
    assert np.abs(np.diff(fields, axis=-1)).max() < 3.0


def test_intensity_changes_image_but_not_inputs():
    image = np.random.default_rng(11).normal(0.5, 0.3, (1, 32, 32)).astype(np.float32)
    labels = label_patch((32, 32))
    before_image, before_labels = image.copy(), labels.copy()
    config = AugmentationConfig(flips=False, elastic=False, probability=1.0)
    out_image, out_labels, _ = augment(image, labels, None, np.random.default_rng(12), config)
    assert np.array_equal(image, before_image) and np.array_equal(labels, before_labels)
    assert out_labels is not labels and np.array_equal(out_labels, labels)
    assert np.isfinite(out_image).all() and not np.allclose(out_image, image)
    out_image, _, _ = augment(image, labels, None, np.random.default_rng(12), GEOMETRY_ONLY)
    assert out_image is not image


def test_gamma_keeps_range_with_negative_values():
    config = AugmentationConfig(
        flips=False, elastic=False, probability=1.0, contrast_range=(1.0, 1.0), brightness_range=(0.0, 0.0)
    )
    config = AugmentationConfig.from_dict({**config.to_dict(), "noise_std_max": 0.0})
    image = np.linspace(-0.5, 1.5, 100, dtype=np.float32).reshape(1, 10, 10)
    out, _, _ = augment(image, None, None, np.random.default_rng(13), config)
    assert out.min() == pytest.approx(-0.5, abs=1e-5) and out.max() == pytest.approx(1.5, abs=1e-5)
    assert np.all(np.diff(out.reshape(-1)) >= 0)


def test_config_round_trip_and_validation():
    config = AugmentationConfig(gamma_range=[0.8, 1.2])
    assert config.gamma_range == (0.8, 1.2)
    assert AugmentationConfig.from_dict(config.to_dict()) == config
    bad = [
        {"gamma_range": (1.5, 0.7)},
        {"gamma_range": (0.0, 1.0)},
        {"contrast_range": (1.0,)},
        {"elastic_probability": 1.5},
        {"probability": -0.1},
        {"elastic_grid": 1},
        {"elastic_sigma": -1.0},
        {"noise_std_max": float("inf")},
        {"flips": 1},
    ]
    for kwargs in bad:
        with pytest.raises(ValueError, match=next(iter(kwargs))):
            AugmentationConfig(**kwargs)
    with pytest.raises(ValueError, match="unknown augmentation keys"):
        AugmentationConfig.from_dict({"flip": True})


def test_bad_patches():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="image patch"):
        augment(np.zeros((8, 8), np.float32), None, None, rng)
    with pytest.raises(ValueError, match="labels patch"):
        augment(np.zeros((1, 8, 8), np.float32), np.zeros((8, 9), np.int32), None, rng)
    with pytest.raises(ValueError, match="out_slices"):
        augment(np.zeros((1, 8, 8), np.float32), None, None, rng, out_slices=(slice(2, 6),))
    with pytest.raises(ValueError, match="grid"):
        elastic_deform(np.zeros((1, 8, 8), np.float32), None, None, rng, grid=1)
    with pytest.raises(ValueError, match="config"):
        augment(np.zeros((1, 8, 8), np.float32), None, None, rng, config={"flips": True})


@settings(max_examples=15, deadline=None)
@given(
    spatial=st.lists(st.integers(4, 20), min_size=2, max_size=3),
    channels=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_property_default_augment_shapes_and_values(spatial, channels, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, spatial).astype(np.uint8)
    image = rng.random((channels, *spatial), dtype=np.float32)
    weights = rng.random(spatial, dtype=np.float32)
    config = AugmentationConfig(elastic_probability=1.0)
    out_image, out_labels, out_weights = augment(image, labels, weights, rng, config)
    assert out_image.shape == image.shape and out_image.dtype == np.float32 and np.isfinite(out_image).all()
    assert out_labels.shape == labels.shape and out_labels.dtype == labels.dtype
    assert set(np.unique(out_labels)) <= set(np.unique(labels))
    assert set(np.unique(out_weights)) <= set(np.unique(weights))


def z_index_volume(shape):
    return np.broadcast_to(np.arange(shape[0], dtype=np.int32)[:, None, None], shape).copy()


@pytest.mark.parametrize("order", [0, 1, 3])
def test_anisotropic_elastic_never_moves_a_voxel_between_planes(order):
    shape = (8, 40, 40)
    planes = z_index_volume(shape)
    image = np.random.default_rng(20).random((1, *shape), dtype=np.float32) + planes
    config = AugmentationConfig(flips=False, elastic_probability=1.0, intensity=False, elastic_order=order,
                                elastic_sigma=6.0)
    rng = np.random.default_rng(21)
    for _ in range(3):
        out_image, out_labels, _ = augment(image, planes, None, rng, config, spacing=(3.0, 1.0, 1.0))
        assert np.array_equal(out_labels, planes)  # every voxel keeps its plane
        assert np.all(np.floor(out_image[0] + 1e-4) >= planes - (order == 3))  # resampled within its plane
        assert not np.allclose(out_image, image)  # but the planes are deformed
    # the same draws without spacing move voxels across planes
    out_image, out_labels, _ = augment(image, planes, None, np.random.default_rng(21), config)
    assert not np.array_equal(out_labels, planes)


def test_isotropic_spacing_changes_nothing():
    shape = (6, 20, 20)
    labels = label_patch(shape, seed=24)
    image = np.random.default_rng(25).random((1, *shape), dtype=np.float32)
    config = AugmentationConfig(elastic_probability=1.0)
    plain = augment(image, labels, None, np.random.default_rng(26), config)
    spaced = augment(image, labels, None, np.random.default_rng(26), config, spacing=(0.4, 0.4, 0.4))
    assert all(np.array_equal(a, b) for a, b in zip(plain[:2], spaced[:2]))


def test_no_90_degree_rotation_when_y_and_x_pixels_differ():
    labels = np.arange(16, dtype=np.int32).reshape(4, 4)
    image = labels[None].astype(np.float32)
    rng = np.random.default_rng(27)
    seen = {augment(image, labels, None, rng, GEOMETRY_ONLY, spacing=(1.0, 2.0))[1].tobytes() for _ in range(100)}
    assert len(seen) == 4  # flips only: the axes keep their pixel sizes
    seen = {augment(image, labels, None, rng, GEOMETRY_ONLY, spacing=(2.0, 2.0))[1].tobytes() for _ in range(200)}
    assert len(seen) == 8


def test_bad_spacing_and_axis_scale():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"spacing=\(1.0, 1.0\) is invalid: give one voxel size per spatial axis"):
        augment(np.zeros((1, 4, 8, 8), np.float32), None, None, rng, spacing=(1.0, 1.0))
    with pytest.raises(ValueError, match="axis_scale"):
        elastic_deform(np.zeros((1, 8, 8), np.float32), None, None, rng, axis_scale=(1.0, -1.0))
