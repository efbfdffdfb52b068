import numpy as np
import pytest

from napari_tiled_unet.training.labels import IGNORE, as_integer_labels, class_targets, label_encoding


def test_dense_encoding_uses_label_values():
    labels = [np.array([[0, 1], [3, 3]])]
    enc = label_encoding(labels, "semantic", sparse=False)
    assert enc.label_values == (0, 1, 3) and enc.n_classes == 3
    assert enc.class_names[0] == "background"
    np.testing.assert_array_equal(class_targets(labels[0], enc, "semantic", False), [[0, 1], [2, 2]])


def test_sparse_encoding_ignores_zero():
    labels = np.array([[0, 1], [2, 0]])
    enc = label_encoding([labels], "semantic", sparse=True)
    assert enc.label_values == (1, 2) and enc.class_names == ("background", "objects")
    np.testing.assert_array_equal(class_targets(labels, enc, "semantic", True), [[IGNORE, 0], [1, IGNORE]])


def test_classes_are_named_as_the_user_named_them():
    labels = np.array([[0, 1], [2, 3]])
    enc = label_encoding([labels], "semantic", sparse=True, names={2: "nucleus"})
    assert enc.class_names == ("background", "nucleus", "class 3")


def test_instance_encoding_has_three_classes():
    labels = np.zeros((8, 8), int)
    labels[1:4, 1:4] = 1
    labels[1:4, 4:7] = 2
    enc = label_encoding([labels], "instances", sparse=False)
    assert enc.n_classes == 3
    targets = class_targets(labels, enc, "instances", False, boundary_width=1)
    assert set(np.unique(targets)) == {0, 1, 2}
    # the contact between the two objects is boundary on both sides
    assert targets[2, 3] == 2 and targets[2, 4] == 2


@pytest.mark.parametrize(
    ("labels", "task", "sparse", "needle"),
    [
        (np.zeros((4, 4), int), "semantic", False, "only the value 0"),
        (np.ones((4, 4), int), "semantic", False, "only the value 1"),
        (np.zeros((4, 4), int), "semantic", True, "no annotated pixel"),
        (np.array([[0, 1], [1, 1]]), "semantic", True, "paint objects with 2"),
        (np.array([[0, 2], [2, 2]]), "semantic", True, "paint background with 1"),
        (np.array([[0, 2], [3, 2]]), "semantic", True, "no background"),
        (np.zeros((4, 4), int), "instances", False, "no object"),
        (np.ones((4, 4), int), "instances", True, "no object"),
        (np.arange(300).reshape(15, 20), "semantic", False, "instance ids"),
    ],
)
def test_nothing_to_learn_is_refused(labels, task, sparse, needle):
    with pytest.raises(ValueError, match=needle):
        label_encoding([labels], task, sparse)


def test_float_labels_with_fractions_are_refused_but_whole_floats_accepted():
    with pytest.raises(ValueError, match="fractions"):
        as_integer_labels(np.array([0.0, 0.5]))
    with pytest.raises(ValueError, match="negative"):
        as_integer_labels(np.array([0, -1]))
    with pytest.raises(ValueError, match="NaN"):
        as_integer_labels(np.array([0.0, np.nan]))
    assert as_integer_labels(np.array([0.0, 2.0])).dtype == np.int64
