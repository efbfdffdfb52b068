import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage as ndi

from napari_tiled_unet.postprocess import instances_from_probabilities, labels_from_probabilities
from napari_tiled_unet.training.metrics import match_instances
from napari_tiled_unet.training.targets import instance_targets


def ideal_probabilities(instances: np.ndarray) -> np.ndarray:
    """One-hot (background, interior, boundary) probabilities of the instance targets."""
    targets = instance_targets(instances)
    return np.stack([targets == k for k in range(3)]).astype(np.float32)


def test_touching_squares_are_recovered():
    instances = np.zeros((20, 30), dtype=np.int32)
    instances[3:15, 3:13] = 1
    instances[3:15, 13:25] = 2
    out = instances_from_probabilities(ideal_probabilities(instances))
    assert out.dtype == np.uint32 and out.shape == instances.shape
    assert np.array_equal(out, instances)


def test_touching_cubes_3d_are_recovered():
    instances = np.zeros((10, 12, 20), dtype=np.int32)
    instances[2:8, 2:10, 2:10] = 5
    instances[2:8, 2:10, 10:18] = 8
    out = instances_from_probabilities(ideal_probabilities(instances))
    result = match_instances(out, instances, iou_threshold=0.99)
    assert result["tp"] == 2 and result["fp"] == 0


def test_soft_probabilities_and_thresholds():
    instances = np.zeros((24, 24), dtype=np.int32)
    instances[2:12, 2:12] = 1
    instances[14:22, 14:22] = 2
    instances[0:3, 20:23] = 3  # tiny: 9 px, interior of 1 px
    probs = 0.8 * ideal_probabilities(instances) + 0.2 / 3  # still sums to 1
    out = instances_from_probabilities(probs)
    assert out.max() == 2  # the tiny object has no seed large enough
    assert set(np.unique(out)) == {0, 1, 2}
    kept = instances_from_probabilities(probs, min_seed_size=1, min_size=1, seed_erosion=0)
    assert kept.max() == 3
    dropped = instances_from_probabilities(probs, min_size=70)  # the 64 px square goes
    assert dropped.max() == 1 and np.count_nonzero(dropped) == 100
    assert instances_from_probabilities(probs, seed_threshold=0.95).max() == 0


def test_seed_erosion_splits_a_thin_bridge():
    instances = np.zeros((12, 24), dtype=np.int32)
    instances[1:11, 1:11] = 1
    instances[1:11, 13:23] = 2
    probs = ideal_probabilities(instances)
    probs[:, 5:7, 10:14] = np.array([0.0, 1.0, 0.0])[:, None, None]  # interior bridge of width 2
    assert instances_from_probabilities(probs, seed_erosion=0).max() == 1
    assert instances_from_probabilities(probs, seed_erosion=1).max() == 2


def test_labels_from_probabilities():
    probs = np.zeros((3, 4, 5), dtype=np.float32)
    probs[2, :, 3:] = 1
    probs[1, :2] = 0.5
    labels = labels_from_probabilities(probs)
    assert labels.dtype == np.uint8
    assert labels[0, 0] == 1 and labels[3, 4] == 2 and labels[3, 0] == 0
    assert labels_from_probabilities(np.zeros((300, 2, 2))).dtype == np.uint16


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: instances_from_probabilities(np.zeros((2, 8, 8))), "shape"),
        (lambda: instances_from_probabilities(np.zeros((3, 8))), "shape"),
        (lambda: instances_from_probabilities(np.full((3, 8, 8), np.nan)), "finite"),
        (lambda: instances_from_probabilities(np.zeros((3, 8, 8)), seed_threshold=1.5), "seed_threshold"),
        (lambda: instances_from_probabilities(np.zeros((3, 8, 8)), min_size=-1), "min_size"),
        (lambda: labels_from_probabilities(np.zeros((3, 8, 8), dtype=np.int32)), "finite"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@settings(max_examples=15, deadline=None)
@given(
    sizes=st.lists(st.tuples(st.integers(5, 9), st.integers(5, 9)), min_size=1, max_size=4),
    gap=st.integers(0, 3),
    three_d=st.booleans(),
)
def test_property_row_of_boxes_is_recovered(sizes, gap, three_d):
    width = sum(w + gap for _, w in sizes) + 2
    instances = np.zeros((12, width), dtype=np.int32)
    x = 1
    for label, (h, w) in enumerate(sizes, start=1):
        instances[1 : 1 + h, x : x + w] = label
        x += w + gap
    if three_d:
        instances = np.stack([np.zeros_like(instances)] + [instances] * 5 + [np.zeros_like(instances)])
    out = instances_from_probabilities(ideal_probabilities(instances), min_size=1, seed_erosion=0)
    assert np.array_equal(out > 0, instances > 0)
    result = match_instances(out, instances, iou_threshold=0.75)  # ties at corners may go either way
    assert result["tp"] == len(sizes) and result["fp"] == 0


def test_touching_objects_are_split_by_the_centre_distance():
    from napari_tiled_unet.postprocess import InstanceSettings, instances_from_distance
    from napari_tiled_unet.training.targets import centre_distance

    truth = np.zeros((30, 60), np.int32)
    yy, xx = np.ogrid[:30, :60]
    truth[(yy - 15) ** 2 + (xx - 18) ** 2 <= 121] = 1
    truth[((yy - 15) ** 2 + (xx - 38) ** 2 <= 121) & (truth == 0)] = 2
    probs = np.zeros((3, 30, 60), np.float32)
    probs[0] = truth == 0
    probs[1] = truth > 0  # one merged foreground blob, no boundary predicted
    distance = centre_distance(truth)
    labels = instances_from_distance(probs, distance, InstanceSettings(seed_threshold=0.5, min_size=4))
    assert labels.max() == 2
    assert len(np.unique(labels[truth == 1])) == 1 and len(np.unique(labels[truth == 2])) == 1
    assert (labels > 0).sum() == (truth > 0).sum()
    assert instances_from_distance(probs, distance * 0).max() == 0


def test_instance_settings_round_trip_and_validation():
    from napari_tiled_unet.postprocess import InstanceSettings

    settings = InstanceSettings(seed_threshold=0.4, foreground_threshold=0.6, min_size=30)
    assert InstanceSettings.from_dict(settings.to_dict()) == settings
    assert InstanceSettings.defaults(3).min_size > InstanceSettings.defaults(2).min_size
    with pytest.raises(ValueError, match="seed_threshold"):
        InstanceSettings(seed_threshold=1.5)
    with pytest.raises(ValueError, match="unknown post-processing keys"):
        InstanceSettings.from_dict({"seed": 0.5})


def _two_peaks(shape: tuple[int, ...], centres: list[tuple[int, ...]], radius: float) -> tuple[np.ndarray, np.ndarray]:
    """One merged foreground of overlapping balls and a centre distance with one cone per ball (1 at its centre)."""
    grids = np.indices(shape, dtype=np.float32)
    cones = [np.clip(1.0 - np.sqrt(sum((g - c) ** 2 for g, c in zip(grids, centre, strict=True))) / radius, 0, 1)
             for centre in centres]
    distance = np.max(cones, axis=0).astype(np.float32)
    probs = np.zeros((3, *shape), np.float32)
    probs[0] = distance == 0
    probs[1] = distance > 0
    return probs, distance


@pytest.mark.parametrize("three_d", [False, True])
def test_a_seed_holding_two_centres_is_cut_in_two(three_d):
    from napari_tiled_unet.postprocess import InstanceSettings, instances_from_distance

    shape, centres = ((24, 40, 60), [(12, 20, 20), (12, 20, 36)]) if three_d else ((40, 60), [(20, 20), (20, 36)])
    probs, distance = _two_peaks(shape, centres, radius=11.0)
    # the neck between the centres is at 0.27: a seed threshold of 0.2 joins both centres into one seed
    merged = instances_from_distance(probs, distance, InstanceSettings(seed_threshold=0.2, split_depth=0.0))
    assert merged.max() == 1
    split = instances_from_distance(probs, distance, InstanceSettings(seed_threshold=0.2, split_depth=0.25))
    assert split.max() == 2
    assert split[centres[0]] != split[centres[1]] and split[centres[0]] > 0 and split[centres[1]] > 0
    assert np.array_equal(split > 0, merged > 0), "cutting seeds changes no object's extent, only who owns it"


def test_a_bump_shallower_than_the_split_depth_is_not_cut():
    from napari_tiled_unet.postprocess import split_seeds

    # one seed over two cones (saddle 0.25); scaled by 0.4 beyond the saddle the second peak rises only to 0.4
    _, distance = _two_peaks((40, 70), [(20, 20), (20, 44)], radius=16.0)
    seeds = (distance > 0.1).astype(np.int32)
    low_bump = np.where(np.indices(distance.shape)[1] > 32, distance * 0.4, distance).astype(np.float32)
    assert np.array_equal(split_seeds(seeds, low_bump, 0.25), seeds)
    assert len(np.unique(split_seeds(seeds, distance, 0.25))) == 3, "background and two seeds"
    assert split_seeds(seeds, distance, 0.0) is seeds


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(20, 70), st.integers(20, 70), st.floats(0.05, 0.6))
def test_split_seeds_only_divides_seeds(seed, height, width, depth):
    from scipy import ndimage as ndi

    from napari_tiled_unet.postprocess import split_seeds

    rng = np.random.default_rng(seed)
    distance = ndi.gaussian_filter(rng.random((height, width)), 3).astype(np.float32)
    distance = (distance - distance.min()) / max(float(np.ptp(distance)), 1e-6)
    seeds, _ = ndi.label(distance > 0.4)
    out = split_seeds(seeds, distance, depth)
    assert np.array_equal(out > 0, seeds > 0), "no seed pixel is added or lost"
    for new_id in np.unique(out[out > 0]):
        assert len(np.unique(seeds[out == new_id])) == 1, "every new seed lies inside one old seed"


def test_split_depth_is_a_setting_and_older_files_get_the_default():
    from napari_tiled_unet.postprocess import DEFAULT_SPLIT_DEPTH, InstanceSettings

    assert InstanceSettings.from_dict({"seed_threshold": 0.4, "foreground_threshold": 0.7,
                                       "min_size": 20}).split_depth == DEFAULT_SPLIT_DEPTH
    settings = InstanceSettings(split_depth=0.1)
    assert InstanceSettings.from_dict(settings.to_dict()) == settings
    with pytest.raises(ValueError, match="split_depth"):
        InstanceSettings(split_depth=1.5)


def test_the_stages_give_the_same_objects_as_the_whole():
    from napari_tiled_unet.postprocess import (
        InstanceSettings,
        grown_objects,
        instances_from_distance,
        sized_objects,
        smoothed_distance,
    )

    probs, distance = _two_peaks((40, 60), [(20, 20), (20, 36)], radius=11.0)
    probs[1, 5:8, 50:53], distance[5:8, 50:53], probs[0, 5:8, 50:53] = 1, 0.9, 0  # a speck under the minimum size
    settings = InstanceSettings(seed_threshold=0.2, min_size=30)
    grown = grown_objects(probs, distance, 0.2, 0.5, 0.25, smoothed_distance(distance))
    assert len(np.unique(grown)) == 4, "background, the two cut discs and the speck"
    assert np.array_equal(sized_objects(grown, 30), instances_from_distance(probs, distance, settings))
    assert instances_from_distance(probs, distance, settings).max() == 2


def test_a_semantic_clump_of_touching_nuclei_is_split_at_its_necks_and_classes_stay_apart():
    from unet_helpers import disk

    from napari_tiled_unet.postprocess import semantic_instances

    shape = (80, 120)
    labels = np.zeros(shape, np.uint8)
    for centre in [(30, 25), (30, 46), (52, 36)]:  # three nuclei of radius 12, overlapping: one region
        labels[disk(shape, centre, 12)] = 1
    labels[disk(shape, (40, 95), 10)] = 2  # another class
    labels[5, 110] = 1  # a speck too small for a peak of its own
    assert ndi.label(labels == 1)[1] == 2, "one clump and the speck"
    split = semantic_instances(labels)
    assert split.dtype == np.uint32
    np.testing.assert_array_equal(split > 0, labels > 0)
    assert len(np.unique(split[labels == 1])) == 4, "three nuclei and the speck"
    assert len(np.unique(split[labels == 2])) == 1 and not set(np.unique(split[labels == 2])) & set(
        np.unique(split[labels == 1])), "ids are distinct across classes"
    components = semantic_instances(labels, split=False)
    assert len(np.unique(components[labels == 1])) == 2, "split=False: connected components"
    assert not semantic_instances(np.zeros(shape, np.uint8)).any()


@settings(max_examples=20, deadline=None)
@given(radius=st.integers(5, 20), gap=st.integers(2, 10))
def test_round_objects_apart_are_never_split(radius, gap):
    from unet_helpers import disk

    from napari_tiled_unet.postprocess import split_clumps

    shape = (2 * radius + 10, 4 * radius + gap + 10)
    mask = disk(shape, (radius + 5, radius + 5), radius) | disk(shape, (radius + 5, 3 * radius + gap + 5), radius)
    objects = split_clumps(mask)
    assert len(np.unique(objects[mask])) == 2 and (objects[mask] > 0).all()


def test_two_touching_balls_of_a_volume_are_split_into_connected_parts():
    from napari_tiled_unet.postprocess import split_clumps

    z, y, x = np.ogrid[:24, :30, :44]
    first = (z - 12) ** 2 + (y - 15) ** 2 + (x - 14) ** 2 < 81
    second = (z - 12) ** 2 + (y - 15) ** 2 + (x - 29) ** 2 < 81
    objects = split_clumps(first | second)
    assert ndi.label(first | second)[1] == 1, "one region"
    assert objects[12, 15, 14] != objects[12, 15, 29] and objects[12, 15, 14] > 0 and objects[12, 15, 29] > 0
    assert set(np.unique(objects)) == {0, 1, 2}
    for part in (1, 2):
        assert ndi.label(objects == part)[1] == 1, "each part is one piece"


def test_a_coarse_z_step_is_measured_in_micrometres_for_the_split():
    from napari_tiled_unet.postprocess import split_clumps

    # two nuclei 8 um across stacked in Z and touching, sampled with a Z step 4x the pixel size (2 um, 0.5 um):
    # in voxels each is only 4 planes tall and the neck does not show; in micrometres it does
    z, y, x = np.ogrid[:14, :30, :30]
    rest = ((y - 15) * 0.5) ** 2 + ((x - 15) * 0.5) ** 2
    stacked = ((z * 2.0 - 6) ** 2 + rest < 16) | ((z * 2.0 - 13) ** 2 + rest < 16)
    assert ndi.label(stacked)[1] == 1
    assert len(np.unique(split_clumps(stacked))) == 2, "voxel units: one object"
    objects = split_clumps(stacked, spacing=(2.0, 0.5, 0.5))
    assert len(np.unique(objects)) == 3 and objects[3, 15, 15] != objects[6, 15, 15]
    with pytest.raises(ValueError, match=r"spacing=\(2.0, 0.5\) is invalid"):
        split_clumps(stacked, spacing=(2.0, 0.5))
