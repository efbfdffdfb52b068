import numpy as np
from unet_helpers import SIX_SHAPE, disk, six_nuclei

from napari_tiled_unet.training.config import TrainingConfig
from napari_tiled_unet.training.data import prepare_training_data
from napari_tiled_unet.training.labels import IGNORE
from napari_tiled_unet.training.sparse_instances import PAINTED_BACKGROUND
from napari_tiled_unet.training.start_model_objects import (
    START_OBJECT_WEIGHT,
    painted_found,
    with_start_objects,
)

SHAPE = SIX_SHAPE


def scene():
    """True nuclei (ids 1..6), an image of them, and a start model's objects: all six found, one false object."""
    image, truth = six_nuclei()
    start = truth.copy()
    start[disk(SHAPE, (70, 20), 6)] = 7  # a false object on plain background
    return image, truth, start


def painted_convention(truth, ids, background=None):
    labels = np.where(np.isin(truth, ids), truth + 1, 0)
    if background is not None:
        labels[background] = PAINTED_BACKGROUND
    return labels


def test_the_start_models_objects_fill_what_is_not_painted_but_never_meet_what_is():
    _, truth, start = scene()
    painted = painted_convention(truth, [1, 2])
    painted[88:102, 125:135] = PAINTED_BACKGROUND  # background over most of nucleus 5: no object there
    inferred = painted.copy()
    inferred[(painted == 0) & (truth == 0) & (np.arange(SHAPE[1]) < 40)] = PAINTED_BACKGROUND
    result = with_start_objects(inferred, start)
    assert (result.painted_found, result.painted) == (2, 2)
    added_truth = set(np.unique(truth[result.added])) - {0}
    assert added_truth == {3, 4, 6}, "nuclei 3, 4, 6 added; 5 and 7 lie mostly on background"
    assert not result.added[start == 7].any()
    assert result.objects_in_doubt == 2 and not result.labels[np.isin(start, [5, 7])].any(), \
        "under objects in doubt the background is not taught either"
    elsewhere = ~np.isin(start, [5, 7])
    np.testing.assert_array_equal(result.labels[elsewhere & (inferred >= 1)], inferred[elsewhere & (inferred >= 1)])
    new_ids = np.unique(result.labels[result.added])
    assert len(new_ids) == 3 and new_ids.min() > painted.max(), "each added object gets its own new id"


def test_a_dim_nucleus_next_to_a_painted_one_is_not_taught_as_background():
    """The start model sees it, the intensities say background: it is not added (it touches a painted object),
    and the background inferred over it is left unannotated."""
    _, truth, start = scene()
    start[disk(SHAPE, (20, 40), 10) & (truth == 0)] = 8  # a dim nucleus touching painted nuclei 1 and 2
    inferred = painted_convention(truth, [1, 2])
    inferred[(inferred == 0) & (truth == 0) & ~disk(SHAPE, (20, 20), 12)] = PAINTED_BACKGROUND
    result = with_start_objects(inferred, start)
    assert not result.added[start == 8].any() and result.objects_in_doubt == 1  # 8 touches: not in doubt, 7 is
    assert not (result.labels[start == 8] == PAINTED_BACKGROUND).any()
    assert (result.labels[(start == 0) & (inferred == PAINTED_BACKGROUND)] == PAINTED_BACKGROUND).all()


def test_a_start_model_that_misses_the_painted_objects_adds_nothing():
    _, truth, _ = scene()
    painted = painted_convention(truth, [1, 2, 3])
    wrong = np.zeros(SHAPE, np.int32)
    wrong[disk(SHAPE, (20, 20), 9)] = 1  # finds one of three painted nuclei, and others elsewhere
    wrong[disk(SHAPE, (95, 130), 9)] = 2
    assert painted_found(wrong, painted) == (1, 3)
    result = with_start_objects(painted, wrong)
    assert result.added is None and result.objects_added == 0
    np.testing.assert_array_equal(result.labels, painted)
    image = scene()[0]
    config = TrainingConfig(task="instances", sparse=True, val_fraction=0.0)
    data = prepare_training_data(image, np.where(np.isin(truth, [1, 2, 3]), truth, 0), config,
                                 start_objects=lambda _: wrong)
    assert any("finds 1 of the 3 painted objects: its own objects are not used as labels (it must find 50% of "
               "them)" in note for note in data.notes)


def test_start_objects_are_weak_labels_and_are_never_scored_in_validation():
    image, truth, start = scene()
    labels = np.where(np.isin(truth, [1, 2, 4]), truth, 0)  # three nuclei painted as 1, 2, 4: no background
    config = TrainingConfig(task="instances", sparse=True, val_fraction=0.0)
    calls = []

    def start_objects(normalised):
        calls.append(normalised.shape)
        return start

    data = prepare_training_data(image, labels, config, start_objects=start_objects)
    assert calls == [(1, *SHAPE)]
    assert any("finds 3 of the 3 painted objects" in note and "weak labels" in note for note in data.notes)
    item = data.images[0]
    plain = prepare_training_data(image, labels, config).images[0]
    unpainted = np.isin(truth, [3, 5, 6])
    weak = unpainted & (item.targets != IGNORE)
    assert weak.sum() > 0.8 * unpainted.sum(), "the unpainted nuclei are labelled now"
    assert (plain.targets[unpainted] == IGNORE).all(), "without a start model they are not"
    assert (item.targets[start == 7] == IGNORE).all(), "the object on what looks like background: nothing taught"
    assert any("no background is inferred under any of its objects (1 more lie mostly on what looks like "
               "background and are left unannotated" in note for note in data.notes)
    # the same six nuclei all painted: the weak pixels weigh START_OBJECT_WEIGHT of that
    everything = prepare_training_data(image, truth, config).images[0]
    ratio = np.median(item.weights[weak] / everything.weights[weak])
    assert abs(ratio - START_OBJECT_WEIGHT) < 0.1 * START_OBJECT_WEIGHT, ratio
    # the validation block (at the right) holds weak objects too, but scores only the painted nucleus there
    labels = np.where(np.isin(truth, [1, 4, 5]), truth, 0)
    held_out = TrainingConfig(task="instances", sparse=True, val_fraction=0.3)
    item = prepare_training_data(image, labels, held_out, start_objects=start_objects).images[0]
    scored = set(np.unique(truth[item.val_slices][item.val_instances > 0]))
    assert scored == {5}, f"validation scores the painted objects only, not {scored}"


def test_with_background_strokes_painted_the_start_model_is_not_asked():
    image, truth, start = scene()
    labels = painted_convention(truth, [1, 2])
    labels[110:114, 5:150] = PAINTED_BACKGROUND
    calls = []
    config = TrainingConfig(task="instances", sparse=True, val_fraction=0.0)
    prepare_training_data(image, labels, config, start_objects=lambda x: calls.append(1) or start)
    assert calls == []
