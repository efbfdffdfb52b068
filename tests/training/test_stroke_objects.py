"""Scribbles for an instance model: object strokes confirm the start model's objects, background strokes correct it."""

import numpy as np
import pytest
from unet_helpers import SIX_CENTRES, SIX_SHAPE, disk, six_nuclei

from napari_tiled_unet.training.config import TrainingConfig
from napari_tiled_unet.training.data import prepare_training_data
from napari_tiled_unet.training.label_shapes import piece_elongations
from napari_tiled_unet.training.labels import ANY_OBJECT
from napari_tiled_unet.training.sparse_instances import PAINTED_BACKGROUND
from napari_tiled_unet.training.stroke_objects import (
    OBJECT_STROKES_INSIDE,
    STROKE_ELONGATION,
    StrokeFit,
    objects_from_strokes,
    objects_mode,
    stroke_fit,
)

SHAPE, CENTRES = SIX_SHAPE, SIX_CENTRES


def scene():
    """Six nuclei (ids 1..6), their image, and a start model that misses nucleus 3 and adds a false object 7."""
    image, truth = six_nuclei()
    start = np.where(truth == 3, 0, truth)
    start[disk(SHAPE, (70, 20), 6)] = 7
    return image, truth, start


def stroke(labels, centre, value=2, half_length=7):
    """A horizontal stroke 3 px wide through ``centre``."""
    y, x = centre
    labels[y - 1:y + 2, x - half_length:x + half_length + 1] = value


def scribbles():
    """Strokes through nuclei 1, 2, 3 and 4; background strokes, one of them across nucleus 4 and one across 7."""
    labels = np.zeros(SHAPE, np.int32)
    for centre in CENTRES[:4]:
        stroke(labels, centre)
    labels[108:111, 40:150] = PAINTED_BACKGROUND
    labels[86:89, 22:40] = PAINTED_BACKGROUND  # through the top of nucleus 4, which has an object stroke too
    labels[69:72, 10:30] = PAINTED_BACKGROUND  # across the false object 7
    return labels


def test_object_strokes_confirm_the_start_models_objects_and_background_strokes_correct_it():
    _, truth, start = scene()
    labels = scribbles()
    result = objects_from_strokes(labels, start)
    assert result.confirmed == 2 and result.crossed == 1
    for k in (1, 2):  # confirmed: the start model's whole object, each its own id from 2 on
        values = np.unique(result.labels[truth == k])
        assert len(values) == 1 and values[0] >= 2
    assert len(np.unique(result.labels[np.isin(truth, [1, 2])])) == 2
    # nucleus 3 (missed) and nucleus 4 (crossed by background): only their object strokes are known, outline unknown
    for k in (3, 4):
        stroked = (labels >= 2) & (truth == k)
        assert result.loose[stroked].all() and not result.loose[(truth == k) & ~stroked].any()
        assert not (result.labels[truth == k] >= 2).any()
    assert (result.labels[labels == PAINTED_BACKGROUND] == PAINTED_BACKGROUND).all()
    assert not result.labels[np.isin(start, [5, 6])].any(), "objects no stroke touches stay unannotated"
    assert not (result.labels[start == 7] >= 2).any()


def test_stroke_fit_counts_stroke_pixels_in_the_start_models_objects():
    _, _, start = scene()
    labels = scribbles()
    fit = stroke_fit([start], [labels])
    strokes, background = labels >= 2, labels == PAINTED_BACKGROUND
    assert fit.object_share == pytest.approx((start[strokes] > 0).mean())
    assert fit.background_share == pytest.approx((start[background] > 0).mean())
    assert 0.5 < fit.object_share < 1.0 and fit.fits == (fit.object_share >= OBJECT_STROKES_INSIDE)
    assert not stroke_fit([np.zeros(SHAPE, int)], [labels]).fits
    assert "finds objects under 75% of the object strokes and 5% of the background strokes" in \
        StrokeFit(0.75, 0.05).in_words("it")


def test_strokes_are_told_from_painted_objects_by_their_shape():
    _, truth, _ = scene()
    painted = np.where(np.isin(truth, [1, 2, 4]), truth + 1, 0)
    assert objects_mode("auto", [painted]) == (False, "the objects (2..) are painted as filled shapes")
    strokes, reason = objects_mode("auto", [scribbles()])
    assert strokes and "drawn as strokes" in reason and "sparse_objects='painted'" in reason
    assert objects_mode("strokes", [painted])[0] and not objects_mode("painted", [scribbles()])[0]
    elongations = piece_elongations(scribbles())
    assert len(elongations) == 4 and (elongations > STROKE_ELONGATION).all()
    assert (piece_elongations(painted) < 2).all()
    one_value = np.where(truth > 0, 2, 0)  # every nucleus painted with the same value: filled shapes
    assert len(piece_elongations(one_value)) == 6 and not objects_mode("auto", [one_value])[0]


def test_training_data_from_strokes_teaches_the_confirmed_objects_and_leaves_outlines_open():
    image, truth, start = scene()
    labels = scribbles()
    for centre in CENTRES[4:]:
        stroke(labels, centre)  # 5 of the 6 stroked nuclei are the start model's: it fits
    calls = []

    def start_objects(normalised):
        calls.append(normalised.shape)
        return start

    config = TrainingConfig(task="instances", sparse=True, val_fraction=0.2)
    data = prepare_training_data(image, labels, config, start_objects=start_objects)
    assert calls == [(1, *SHAPE)], "the start model predicts the image once"
    item = data.images[0]
    assert any(note.startswith("object strokes: the model to start from finds objects under") and
               "the 4 objects of it that object strokes pass through are learnt" in note and
               "1 crossed by a background stroke too is left out" in note for note in data.notes)
    both = item.targets.copy()  # the training targets with the held-back block put back
    both[item.val_slices] = item.val_targets
    for k in (1, 2, 5, 6):
        assert set(np.unique(both[truth == k])) == {1, 2}, "interior and boundary of the start model's object"
    assert (both[(labels >= 2) & np.isin(truth, [3, 4])] == ANY_OBJECT).all()
    assert (both[labels == PAINTED_BACKGROUND] == 0).all()
    assert item.val_instances is None and data.validation_objects == 0, "no outline by hand: nothing scored"


def test_strokes_need_a_start_model_that_finds_their_objects():
    image, _, start = scene()
    config = TrainingConfig(task="instances", sparse=True, val_fraction=0.0)
    with pytest.raises(ValueError, match=r"drawn as strokes .*start from builtin:nuclei or your own instance model"):
        prepare_training_data(image, scribbles(), config)
    with pytest.raises(ValueError, match=r"finds objects under 0% of the object strokes .*do not mark its objects"):
        prepare_training_data(image, scribbles(), config, start_objects=lambda _: np.zeros(SHAPE, int))
    painted = np.where(np.isin(scene()[1], [1, 2]), scene()[1] + 1, 0)
    painted[108:111, 40:150] = PAINTED_BACKGROUND
    data = prepare_training_data(image, painted, config, start_objects=lambda _: start)
    assert not any("object strokes" in note for note in data.notes), "painted objects are not strokes"
