import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage as ndi
from skimage.segmentation import find_boundaries

from napari_tiled_unet.training.targets import (
    border_weight_map,
    centre_distance,
    instance_targets,
    semantic_from_instances,
)


def two_touching_squares() -> np.ndarray:
    labels = np.zeros((12, 16), dtype=np.int32)
    labels[2:8, 2:8] = 1
    labels[2:8, 8:14] = 2
    return labels


def test_touching_squares_are_separated_by_boundary():
    labels = two_touching_squares()
    targets = instance_targets(labels)
    assert targets.dtype == np.uint8
    assert set(np.unique(targets)) == {0, 1, 2}
    assert np.all(targets[labels == 0] == 0)
    assert np.all(targets[2:8, 7] == 2) and np.all(targets[2:8, 8] == 2)  # both sides of the contact
    assert np.all(targets[3:7, 3:7] == 1) and np.all(targets[3:7, 9:13] == 1)
    _, n_interiors = ndi.label(targets == 1)
    assert n_interiors == 2


def test_boundary_width_two():
    targets = instance_targets(two_touching_squares(), boundary_width=2)
    assert np.all(targets[2:8, 6:10] == 2)
    assert np.all(targets[4:6, 4:6] == 1) and np.all(targets[4:6, 10:12] == 1)
    assert np.count_nonzero(targets == 1) == 8


def test_image_border_is_not_a_boundary():
    labels = np.ones((5, 5), dtype=np.uint16)
    assert np.all(instance_targets(labels) == 1)


@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(2, 10), min_size=2, max_size=3), seed=st.integers(0, 2**16))
def test_matches_skimage_inner_boundaries(shape, seed):
    labels = np.random.default_rng(seed).integers(0, 4, shape)
    expected = find_boundaries(labels, connectivity=1, mode="inner") & (labels > 0)
    targets = instance_targets(labels)
    assert np.array_equal(targets == 2, expected)
    assert np.array_equal(targets > 0, labels > 0)


def test_3d_touching_cubes():
    labels = np.zeros((8, 8, 12), dtype=np.int64)
    labels[1:7, 1:7, 1:6] = 3
    labels[1:7, 1:7, 6:11] = 9
    targets = instance_targets(labels)
    assert np.all(targets[1:7, 1:7, 5] == 2) and np.all(targets[1:7, 1:7, 6] == 2)
    assert ndi.label(targets == 1)[1] == 2


def test_semantic_from_instances():
    out = semantic_from_instances(two_touching_squares())
    assert out.dtype == np.uint8 and set(np.unique(out)) == {0, 1}
    assert out.sum() == 72


def brute_force_weights(labels, w0, sigma, inside_objects):
    distances = np.sort(
        np.stack([ndi.distance_transform_edt(labels != i) for i in range(1, labels.max() + 1)]), 0
    )
    foreground = labels > 0
    frequent = max(foreground.sum(), (~foreground).sum())
    weights = np.where(foreground, frequent / foreground.sum(), frequent / (~foreground).sum())
    border = w0 * np.exp(-((distances[0] + distances[1]) ** 2) / (2 * sigma**2))
    return weights + (border if inside_objects else np.where(foreground, 0.0, border))


@pytest.mark.parametrize("inside_objects", [False, True])
@pytest.mark.parametrize("shape", [(40, 50), (12, 20, 24)])
def test_weight_map_matches_brute_force(shape, inside_objects):
    rng = np.random.default_rng(4)
    labels = np.zeros(shape, dtype=np.int32)
    for i in range(1, 6):
        corner = [int(rng.integers(0, s - 4)) for s in shape]
        labels[tuple(slice(c, c + 4) for c in corner)] = i
    weights = border_weight_map(labels, w0=10.0, sigma=3.0, truncate=100.0, inside_objects=inside_objects)
    assert weights.dtype == np.float32
    expected = brute_force_weights(labels, 10.0, 3.0, inside_objects)
    np.testing.assert_allclose(weights, expected, rtol=1e-5, atol=1e-5)
    # default truncation: error < w0 * exp(-8)
    truncated = border_weight_map(labels, w0=10.0, sigma=3.0, inside_objects=inside_objects)
    np.testing.assert_allclose(truncated, weights, atol=10.0 * np.exp(-8) + 1e-6)


def test_weight_map_is_high_between_close_objects():
    labels = np.zeros((40, 60), dtype=np.int32)
    labels[10:30, 10:20] = 1
    labels[10:30, 22:32] = 2  # 2 px gap at columns 20, 21
    weights = border_weight_map(labels, w0=10.0, sigma=5.0)
    gap, far = weights[20, 20], weights[20, 55]
    assert gap > far + 5.0
    assert weights.min() >= 1.0
    plain = border_weight_map(labels, class_balance=False, inside_objects=False)
    assert np.all(plain[labels > 0] == 1.0) and plain[20, 55] == pytest.approx(1.0, abs=1e-3)
    inside = border_weight_map(labels, class_balance=False)
    # the object pixels facing the other object are stressed too, those far from it are not
    assert inside[20, 19] > 5.0 and inside[20, 10] < 2.0
    assert np.allclose(border_weight_map(labels, w0=0.0, class_balance=False), 1.0)


def test_weight_map_without_objects():
    assert np.all(border_weight_map(np.zeros((6, 7), dtype=np.uint8)) == 1.0)


def test_weight_map_is_fast_for_512_with_150_objects():
    rng = np.random.default_rng(5)
    labels = np.zeros((512, 512), dtype=np.int32)
    centres = rng.integers(10, 502, size=(150, 2))
    for i, (y, x) in enumerate(centres, start=1):
        labels[y - 6 : y + 6, x - 6 : x + 6] = i
    start = time.perf_counter()
    weights = border_weight_map(labels)
    assert time.perf_counter() - start < 1.0
    assert np.isfinite(weights).all()


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: instance_targets(np.zeros((4, 4), dtype=np.float32)), "dtype"),
        (lambda: instance_targets(-np.ones((4, 4), dtype=np.int32)), "negative"),
        (lambda: instance_targets(np.zeros(5, dtype=np.int32)), "2D"),
        (lambda: instance_targets(np.zeros((4, 4), dtype=np.int32), boundary_width=0), "boundary_width"),
        (lambda: border_weight_map(np.zeros((4, 4), dtype=np.int32), sigma=0.0), "sigma"),
        (lambda: border_weight_map(np.zeros((4, 4), dtype=np.int32), w0=-1.0), "w0"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_centre_distance_is_one_at_every_centre_and_dips_where_objects_touch():
    from napari_tiled_unet.training.targets import centre_distance

    labels = np.zeros((20, 40), np.int32)
    labels[2:18, 2:20] = 1
    labels[2:18, 20:38] = 2
    distance = centre_distance(labels)
    assert distance.dtype == np.float32 and distance[labels == 0].max() == 0
    for k in (1, 2):
        assert distance[labels == k].max() == pytest.approx(1.0)
    row = distance[10]
    assert row[19] < 0.2 and row[20] < 0.2, "touching objects meet in a valley"
    assert row[10] > 0.8 and row[29] > 0.8
    big = np.zeros((60, 60), np.int32)
    big[5:55, 5:55] = 1
    assert centre_distance(big).max() == pytest.approx(1.0), "normalised per object, whatever its size"


def test_weight_map_distances_are_physical_with_a_voxel_size():
    # the middle of a one-plane gap at a Z step of 3 pixels is 3 pixels from both slabs, as the middle of a
    # 5-pixel gap in X is
    along_z = np.zeros((9, 12, 12), np.int32)
    along_z[:4], along_z[5:] = 1, 2
    along_x = np.zeros((12, 12, 29), np.int32)
    along_x[:, :, :12], along_x[:, :, 17:] = 1, 2
    z_weights = border_weight_map(along_z, sigma=4.0, class_balance=False, sampling=(3.0, 1.0, 1.0))
    x_weights = border_weight_map(along_x, sigma=4.0, class_balance=False)
    assert z_weights[4, 6, 6] == pytest.approx(x_weights[6, 6, 14], rel=1e-5)
    in_pixels = border_weight_map(along_z, sigma=4.0, class_balance=False)
    assert in_pixels[4, 6, 6] > z_weights[4, 6, 6]  # counted in planes the gap looks three times narrower
    same = border_weight_map(along_z, sigma=4.0, class_balance=False, sampling=(1.0, 1.0, 1.0))
    np.testing.assert_array_equal(same, in_pixels)


def test_weight_map_reaches_as_far_in_z_as_in_the_plane():
    instances = np.zeros((30, 40, 40), np.int32)
    instances[12:18, 15:25, 15:25] = 1
    instances[12:18, 15:25, 26:36] = 2
    weights = border_weight_map(instances, sigma=3.0, class_balance=False, sampling=(3.0, 1.0, 1.0))
    brute = border_weight_map(instances, sigma=3.0, class_balance=False, sampling=(3.0, 1.0, 1.0), truncate=50.0)
    np.testing.assert_allclose(weights, brute, atol=10 * np.exp(-8) + 1e-6)


def test_centre_distance_is_physical_with_a_voxel_size():
    box = np.zeros((7, 21, 21), np.int32)
    box[1:6, 2:19, 2:19] = 1  # the centre is 3 planes of 3 pixels from the outside, and 9 pixels in Y and X
    distance = centre_distance(box, sampling=(3.0, 1.0, 1.0))
    centre = distance[3, 10, 10]
    assert centre == 1.0
    # one plane off the centre falls as much as three pixels off it in the plane
    assert distance[2, 10, 10] == pytest.approx(distance[3, 10, 7], abs=1e-6)


def test_bad_sampling():
    with pytest.raises(ValueError, match=r"sampling=.* is invalid: give one positive size per axis"):
        border_weight_map(np.ones((4, 4, 4), np.int32), sampling=(1.0, 1.0))
    with pytest.raises(ValueError, match="sampling"):
        border_weight_map(np.ones((4, 4), np.int32), sampling=(0.0, 1.0))
