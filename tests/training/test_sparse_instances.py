import numpy as np
import pytest
from unet_helpers import disk

from napari_tiled_unet.training.config import TrainingConfig
from napari_tiled_unet.training.data import prepare_training_data
from napari_tiled_unet.training.labels import IGNORE
from napari_tiled_unet.training.sparse_instances import (
    as_painted_convention,
    background_mode,
    edge_band_background,
    flat_background,
    inferred_background,
    objects_are_bright,
    with_inferred_background,
)
from napari_tiled_unet.training.targets import BACKGROUND, BOUNDARY, INTERIOR


def nuclei(shape=(120, 120)):
    """Bright disks on a dark background, two of them touching; returns the image and the true ids."""
    truth = np.zeros(shape, np.int32)
    centres = [(20, 20), (20, 38), (60, 60), (95, 30), (90, 95), (40, 95)]
    for k, c in enumerate(centres, start=1):
        truth[disk(shape, c, 9) & (truth == 0)] = k
    image = np.where(truth > 0, 200.0, 20.0) + np.random.default_rng(0).normal(0, 5, shape)
    return image.astype(np.float32), truth


def test_label_one_painted_like_an_object_means_no_background_was_painted():
    _, truth = nuclei()
    painted = np.where(np.isin(truth, [1, 2, 3]), truth, 0)  # ids 1..3, nothing else: the bbbc007 habit
    mode, reason = background_mode([painted])
    assert mode == "inferred" and "background is inferred" in reason
    strokes = painted.copy() + (painted > 0)  # objects 2.., and background strokes painted with 1
    strokes[100:103, 5:115] = 1
    strokes[5:110, 110:113] = 1
    assert background_mode([strokes])[0] == "painted"


def test_inferred_background_never_covers_unpainted_objects():
    image, truth = nuclei()
    painted = np.isin(truth, [1, 3])
    background = inferred_background(image[None] / 200.0, painted)
    assert not (background & (truth > 0)).any(), "an unpainted nucleus was taken for background"
    assert background.mean() > 0.5, "most of the real background should be found"
    near = np.zeros_like(painted)
    from scipy import ndimage as ndi

    near = (ndi.distance_transform_edt(~painted) <= 2) & ~painted
    assert not (background & near).any(), "the margin around painted objects stays unannotated"


def test_sparse_instance_targets_ignore_what_was_not_painted_and_separate_touching_objects():
    image, truth = nuclei()
    labels = np.zeros_like(truth)
    labels[np.isin(truth, [1, 2])] = truth[np.isin(truth, [1, 2])] + 1  # two touching objects, ids 2 and 3
    labels[110:114, 5:100] = 1  # a background stroke
    config = TrainingConfig(task="instances", sparse=True, val_fraction=0.0, sparse_background="painted")
    data = prepare_training_data(image, labels, config)
    targets = data.images[0].targets
    unpainted_objects = (truth > 0) & (labels == 0)
    assert set(np.unique(targets[unpainted_objects])) == {IGNORE}
    assert set(np.unique(targets[labels == 1])) == {BACKGROUND}
    contact = (truth == 1) & np.roll(truth == 2, -1, axis=1)
    assert contact.any() and (targets[contact] == BOUNDARY).all(), "touching painted objects get a boundary"
    assert (targets[truth == 1] == INTERIOR).any()


def test_painted_mode_without_painted_background_says_what_to_do():
    image, truth = nuclei()
    labels = np.where(truth == 1, 2, 0)
    with pytest.raises(ValueError, match="paint some background with 1"):
        prepare_training_data(image, labels, TrainingConfig(task="instances", sparse=True, val_fraction=0.0,
                                                            sparse_background="painted"))


def test_auto_mode_infers_background_and_says_so():
    image, truth = nuclei()
    labels = np.where(np.isin(truth, [1, 4]), truth, 0)
    data = prepare_training_data(image, labels, TrainingConfig(task="instances", sparse=True, val_fraction=0.0))
    assert any("background is inferred" in note for note in data.notes)
    targets = data.images[0].targets
    assert (targets == BACKGROUND).mean() > 0.3
    assert not (targets[(truth > 0) & ~np.isin(truth, [1, 4])] == BACKGROUND).any()


def test_painted_convention_shifts_objects_only_when_no_background_is_painted():
    labels = np.array([[0, 1, 2], [3, 0, 0]])
    np.testing.assert_array_equal(as_painted_convention(labels, "painted"), labels)
    np.testing.assert_array_equal(as_painted_convention(labels, "inferred"), [[0, 2, 3], [4, 0, 0]])
    image = np.zeros((1, 2, 3), np.float32)
    assert with_inferred_background(image, as_painted_convention(labels, "inferred")).max() == 4


def test_the_validation_block_of_sparse_instances_holds_painted_objects():
    image, truth = nuclei((200, 120))
    labels = np.zeros_like(truth)
    labels[np.isin(truth, [1, 2, 3, 4, 5, 6])] = truth[np.isin(truth, [1, 2, 3, 4, 5, 6])] + 1
    labels[2:6, :] = 1  # most annotated pixels are background strokes, far from the objects
    labels[150:198, 5:115] = 1
    config = TrainingConfig(task="instances", sparse=True, sparse_background="painted", val_fraction=0.2)
    item = prepare_training_data(image, labels, config).images[0]
    assert item.val_instances is not None and item.val_instances.max() > 0


def test_the_band_outside_a_painted_object_is_background_except_where_a_neighbour_touches():
    image, truth = nuclei()
    labels = np.where(truth == 1, 2, 0)  # object 1 painted; object 2 touches it and is not painted
    from scipy import ndimage as ndi

    band = edge_band_background(image[None] / 200.0, labels)
    distance = ndi.distance_transform_edt(truth != 1)
    assert band.any() and (distance[band] <= 2).all() and (distance[band] > 0).all()
    on_neighbour = band & (truth == 2)
    assert on_neighbour.sum() <= 0.02 * (truth == 2).sum(), "the touching unpainted neighbour was taken for background"
    assert (ndi.distance_transform_edt(truth == 2)[on_neighbour] <= 1).all(), "only its outermost pixels"
    ring = (distance > 0) & (distance <= 2) & (truth == 0)
    assert band[ring].mean() > 0.8, "the plain background just outside the painted object should be background"


def test_the_band_follows_dark_objects_on_a_bright_background():
    image, truth = nuclei()
    labels = np.where(truth == 3, 2, 0)
    inverted = (255.0 - image)[None] / 255.0
    band = edge_band_background(inverted, labels)
    assert band.any() and not (band & (truth > 0)).any()


def _flat_scene():
    """A bright painted disk, a dim unpainted disk (15% of its contrast) and empty background."""
    shape = (160, 160)
    image = np.full(shape, 20.0) + np.random.default_rng(1).normal(0, 2, shape)
    bright, dim = disk(shape, (40, 40), 10), disk(shape, (40, 120), 10)
    image[bright] += 180.0
    image[dim] += 27.0
    return (image / 200.0)[None].astype(np.float32), bright, dim


def test_flat_background_covers_empty_background_but_never_a_dim_unpainted_object():
    image, bright, dim = _flat_scene()
    background = flat_background(image, bright)
    from scipy import ndimage as ndi

    assert not (background & ndi.binary_dilation(dim, iterations=3)).any(), "a dim nucleus was taken for background"
    assert background[120:, :].mean() > 0.9, "the empty lower part of the image is background"
    assert not (background & (ndi.distance_transform_edt(~bright) <= 2)).any()


def test_painted_strokes_get_the_flat_far_background_and_the_band_added():
    image, bright, dim = _flat_scene()
    labels = np.zeros(bright.shape, np.int32)
    labels[bright] = 2
    labels[55:58, 30:50] = 1  # one stroke next to the painted object, as people paint them
    added = with_inferred_background(image, labels, "painted")
    assert (added[labels == 1] == 1).all() and (added[bright] == 2).all()
    assert (added[140:, :] == 1).mean() > 0.9, "the far background was not added"
    assert not (added[dim] == 1).any()
    config = TrainingConfig(task="instances", sparse=True, val_fraction=0.0, sparse_background="painted")
    targets = prepare_training_data(image[0] * 200.0, labels, config).images[0].targets
    assert (targets[140:, :] == BACKGROUND).mean() > 0.9 and (targets[dim] == IGNORE).all()


def test_background_is_added_in_3d_too():
    shape = (24, 64, 64)
    zz, yy, xx = np.ogrid[: shape[0], : shape[1], : shape[2]]
    ball = (zz - 12) ** 2 + (yy - 20) ** 2 + (xx - 20) ** 2 <= 36
    image = (np.where(ball, 1.0, 0.1) + np.random.default_rng(2).normal(0, 0.01, shape))[None].astype(np.float32)
    labels = np.where(ball, 2, 0)
    labels[12, 30:34, 5:20] = 1
    added = with_inferred_background(image, labels, "painted")
    assert (added[ball] == 2).all() and (added[:, 50:, 50:] == 1).mean() > 0.9


def test_dim_painted_nuclei_among_bright_ones_still_read_as_bright_objects():
    # people often paint nuclei dimmer than the image's Otsu threshold: the inferred background must still be
    # the dark background, never the bright unpainted nuclei (it once was, on the stand-in image)
    shape = (160, 160)
    truth = np.zeros(shape, np.int32)
    centres = [(30, 30), (30, 90), (90, 30), (90, 90), (130, 130), (130, 40)]
    for k, c in enumerate(centres, start=1):
        truth[disk(shape, c, 12)] = k
    levels = {1: 60.0, 2: 60.0, 3: 230.0, 4: 230.0, 5: 230.0, 6: 230.0}
    image = np.full(shape, 20.0) + np.random.default_rng(3).normal(0, 3, shape)
    for k, level in levels.items():
        image[truth == k] = level
    painted = np.isin(truth, [1, 2])  # only the dim ones
    background = inferred_background(image[None] / 230.0, painted)
    assert not (background & (truth > 0)).any(), "an unpainted nucleus was taken for background"
    assert background[truth == 0].mean() > 0.7, "the dark background should be found"


def test_objects_are_bright_compares_painted_objects_with_their_surroundings():
    image, truth = nuclei()
    painted = truth == 1
    assert objects_are_bright(image, painted)
    assert not objects_are_bright(-image, painted)


def test_one_straight_background_stroke_is_background_not_a_painted_object():
    # a straight stroke fills its bounding box like a blob; its elongation tells it from a nucleus
    _, truth = nuclei()
    labels = np.where(np.isin(truth, [1, 3]), truth + 1, 0)
    labels[110:114, 5:115] = 1
    assert background_mode([labels])[0] == "painted"
    from napari_tiled_unet.training.label_shapes import value_shapes

    stroke, nucleus = value_shapes(labels)[:2]
    assert stroke.elongation > 15 and not stroke.compact
    assert nucleus.elongation < 2 and nucleus.compact


def test_in_a_stack_a_one_plane_stroke_is_a_stroke_and_a_cut_nucleus_is_compact():
    from napari_tiled_unet.training.label_shapes import value_shapes

    labels = np.zeros((12, 64, 64), np.int32)
    zz, yy, xx = np.ogrid[:12, :64, :64]
    labels[(zz + 4) ** 2 * 4 + (yy - 20) ** 2 + (xx - 20) ** 2 <= 100] = 2  # a nucleus cut by the first plane
    labels[6, 50:53, 4:60] = 1  # a straight stroke in one plane
    stroke, nucleus = value_shapes(labels)[:2]
    assert not stroke.compact and stroke.elongation > 10
    assert nucleus.compact and nucleus.elongation < 2
