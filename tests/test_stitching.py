import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from unet_helpers import disk

from napari_tiled_unet.inference import link_loop_axes
from napari_tiled_unet.stitching import link_planes, split_at_valleys


def test_an_object_that_moves_a_little_keeps_its_id_and_new_objects_get_new_ids():
    planes = np.zeros((3, 40, 40), np.uint16)
    planes[0][disk((40, 40), (10, 10), 5)] = 4
    planes[1][disk((40, 40), (11, 11), 5)] = 1
    planes[1][disk((40, 40), (30, 30), 4)] = 2
    planes[2][disk((40, 40), (30, 31), 4)] = 9
    linked = link_planes(planes, threshold=0.25)
    assert linked[0, 10, 10] == linked[1, 11, 11]
    assert linked[1, 30, 30] == linked[2, 30, 31] != linked[0, 10, 10]
    assert set(np.unique(linked)) == {0, 1, 2}


def _ball_planes(centres_z, radius, n_planes, shape=(48, 48), centre=(24, 24), z_step=1.0):
    """Per-plane labels (every plane numbered 1, 2, ...) of balls stacked along Z at ``centres_z``."""
    planes = np.zeros((n_planes, *shape), np.uint16)
    for z in range(n_planes):
        for k, cz in enumerate(centres_z, start=1):
            r2 = radius**2 - ((z - cz) * z_step) ** 2
            if r2 > 0:
                planes[z][disk(shape, centre, np.sqrt(r2)) & (planes[z] == 0)] = k
    return planes


def test_the_small_caps_of_a_ball_are_linked_to_it():
    planes = _ball_planes([6.0], radius=6.5, n_planes=13)  # caps of radius 2.5 px next to planes of 4.4 px
    caps_iou = (planes[0] > 0).sum() / (planes[1] > 0).sum()
    assert caps_iou < 0.4  # an IoU rule of cellpose's 0.25 would barely hold; 0.4 would lose the caps
    linked = link_planes(planes)
    assert set(np.unique(linked)) == {0, 1}


def test_balls_stacked_in_z_are_cut_apart_at_the_area_valley():
    planes = _ball_planes([5.0, 14.0], radius=5.5, n_planes=20, z_step=1.0)  # touching in Z at planes 9-10
    for z in range(planes.shape[0]):
        planes[z][planes[z] > 0] = 1  # one object per plane: linking runs through both balls
    joined = link_planes(planes, valley_ratio=0)
    assert set(np.unique(joined)) == {0, 1}
    cut = link_planes(planes)
    assert set(np.unique(cut)) == {0, 1, 2}
    assert cut[5, 24, 24] != cut[14, 24, 24]
    assert len(np.unique(cut[:9])) == 2 and len(np.unique(cut[11:])) == 2  # each ball whole


def test_noisy_areas_of_one_ball_are_not_cut():
    rng = np.random.default_rng(3)
    planes = np.zeros((15, 48, 48), np.uint16)
    for z in range(15):  # radius 12 px along Z, each plane 1 px too small or too large at random
        radius = np.sqrt(max(0.0, 12.0**2 - (1.5 * (z - 7)) ** 2)) + rng.choice([-1, 0, 1])
        planes[z][disk((48, 48), (24, 24), radius)] = 1
    assert set(np.unique(link_planes(planes))) == {0, 1}


def test_valleys_are_the_deepest_first_and_short_objects_are_left_whole():
    labels = np.zeros((7, 10, 10), np.uint8)
    for z, width in enumerate([6, 8, 6, 1, 6, 8, 6]):
        labels[z, :width, :width] = 3
    cut = split_at_valleys(labels, 0.8)
    assert cut[1, 0, 0] == 3 and cut[5, 0, 0] == 4 and cut[3, 0, 0] == 4  # the valley plane starts the lower part
    short = np.zeros((2, 10, 10), np.uint8)
    short[:, :3, :3] = 1
    np.testing.assert_array_equal(split_at_valleys(short, 0.8), short)


def test_time_points_are_linked_but_never_cut():
    planes = _ball_planes([5.0, 14.0], radius=5.5, n_planes=20)
    for z in range(planes.shape[0]):
        planes[z][planes[z] > 0] = 1
    over_time = link_loop_axes(planes, "T", 0.5)
    over_z = link_loop_axes(planes, "Z", 0.5)
    assert len(np.unique(over_time)) == 2 and len(np.unique(over_z)) == 3


def test_weak_overlap_is_not_linked_and_threshold_zero_links_nothing():
    planes = np.zeros((2, 40, 40), np.uint8)
    planes[0][disk((40, 40), (10, 10), 5)] = 1
    planes[1][disk((40, 40), (10, 17), 5)] = 1  # a fifth of either overlaps the other
    assert len(np.unique(link_planes(planes))) == 3
    same = np.stack([planes[0], planes[0]])
    assert len(np.unique(link_planes(same, threshold=0))) == 3


def test_one_object_links_to_at_most_one_object_of_the_plane_before():
    planes = np.zeros((2, 30, 40), np.uint8)
    planes[0, 5:25, 5:18] = 1
    planes[0, 5:25, 18:30] = 2
    planes[1, 5:25, 5:30] = 1  # merges both: linked to the better one only
    linked = link_planes(planes)
    assert linked[1, 10, 10] in (linked[0, 10, 10], linked[0, 10, 20])
    assert len(np.unique(linked)) == 3


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 5), st.integers(0, 2**16))
def test_linking_keeps_every_object_and_never_merges_objects_of_one_plane(n, seed):
    rng = np.random.default_rng(seed)
    planes = np.zeros((n, 24, 24), np.uint16)
    for z in range(n):
        for k in range(1, rng.integers(1, 6)):
            y, x = rng.integers(0, 24, size=2)
            planes[z][disk((24, 24), (y, x), rng.integers(2, 6))] = k
    linked = link_planes(planes)
    np.testing.assert_array_equal(linked > 0, planes > 0)
    for z in range(n):  # a plane's objects stay distinct, and are the same objects
        pairs = set(zip(planes[z][planes[z] > 0].tolist(), linked[z][planes[z] > 0].tolist()))
        assert len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs})


def test_bad_input_is_refused_with_a_clear_message():
    with pytest.raises(ValueError, match="stitch threshold"):
        link_planes(np.zeros((2, 4, 4), int), threshold=1.5)
    with pytest.raises(ValueError, match="valley ratio"):
        link_planes(np.zeros((2, 4, 4), int), valley_ratio=-0.1)
    with pytest.raises(ValueError, match="give \\(n, Y, X\\) labels"):
        link_planes(np.zeros((2, 4, 4), float))
