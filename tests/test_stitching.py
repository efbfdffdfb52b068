import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from napari_tiled_unet.stitching import link_planes


def _disk(shape, centre, radius):
    yy, xx = np.ogrid[: shape[0], : shape[1]]
    return (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius**2


def test_an_object_that_moves_a_little_keeps_its_id_and_new_objects_get_new_ids():
    planes = np.zeros((3, 40, 40), np.uint16)
    planes[0][_disk((40, 40), (10, 10), 5)] = 4
    planes[1][_disk((40, 40), (11, 11), 5)] = 1
    planes[1][_disk((40, 40), (30, 30), 4)] = 2
    planes[2][_disk((40, 40), (30, 31), 4)] = 9
    linked = link_planes(planes, threshold=0.25)
    assert linked[0, 10, 10] == linked[1, 11, 11]
    assert linked[1, 30, 30] == linked[2, 30, 31] != linked[0, 10, 10]
    assert set(np.unique(linked)) == {0, 1, 2}


def test_weak_overlap_is_not_linked_and_threshold_zero_links_nothing():
    planes = np.zeros((2, 40, 40), np.uint8)
    planes[0][_disk((40, 40), (10, 10), 5)] = 1
    planes[1][_disk((40, 40), (10, 18), 5)] = 1  # IoU about 0.05
    assert len(np.unique(link_planes(planes, threshold=0.25))) == 3
    same = np.stack([planes[0], planes[0]])
    assert len(np.unique(link_planes(same, threshold=0))) == 3


def test_one_object_links_to_at_most_one_object_of_the_plane_before():
    planes = np.zeros((2, 30, 40), np.uint8)
    planes[0, 5:25, 5:18] = 1
    planes[0, 5:25, 18:30] = 2
    planes[1, 5:25, 5:30] = 1  # merges both: linked to the better one only
    linked = link_planes(planes, threshold=0.25)
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
            planes[z][_disk((24, 24), (y, x), rng.integers(2, 6))] = k
    linked = link_planes(planes)
    np.testing.assert_array_equal(linked > 0, planes > 0)
    for z in range(n):  # a plane's objects stay distinct, and are the same objects
        pairs = set(zip(planes[z][planes[z] > 0].tolist(), linked[z][planes[z] > 0].tolist()))
        assert len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs})


def test_bad_input_is_refused_with_a_clear_message():
    with pytest.raises(ValueError, match="stitch threshold"):
        link_planes(np.zeros((2, 4, 4), int), threshold=1.5)
    with pytest.raises(ValueError, match="give \\(n, Y, X\\) labels"):
        link_planes(np.zeros((2, 4, 4), float))
