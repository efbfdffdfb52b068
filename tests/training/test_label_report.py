import numpy as np
import pytest
from unet_helpers import disk

from napari_tiled_unet.training.label_report import inspect_labels


def _scene(n=60, shape=(300, 300), seed=0):
    """Bright disks on a dark image with dense instance ids."""
    rng = np.random.default_rng(seed)
    truth = np.zeros(shape, np.int32)
    k = 0
    while k < n:
        mask = disk(shape, rng.integers(10, shape[0] - 10, 2), rng.integers(5, 9))
        if not truth[mask].any():  # whole objects only (some touch)
            k += 1
            truth[mask] = k
    image = np.where(truth > 0, 200.0, 20.0).astype(np.float32)
    return image, truth


def _scribbles(shape=(300, 300)):
    labels = np.zeros(shape, np.uint8)
    labels[50:54, 20:280] = 1
    labels[200:203, 10:200] = 1
    labels[100:103, 100:110] = 2
    labels[150:153, 60:70] = 2
    return labels


def test_dense_instance_masks_trained_as_classes_are_refused():
    image, truth = _scene()
    report = inspect_labels(truth, task="semantic", sparse=False, images=[image])
    assert report.kind == "instance ids" and (report.suggested_task, report.suggested_sparse) == ("instances", False)
    assert [f.code for f in report.errors] == ["instance_ids_as_classes"]
    assert "use task='instances'" in report.errors[0].message
    assert not inspect_labels(truth, task="instances", sparse=False, images=[image]).findings


def test_a_few_painted_objects_are_recognised_and_dense_training_refused():
    image, truth = _scene()
    painted = np.where(np.isin(truth, [3, 8, 12]), truth, 0)
    report = inspect_labels(painted, task="instances", sparse=False, images=[image])
    assert report.kind == "painted objects" and report.suggested_sparse
    assert [f.code for f in report.errors] == ["painted_objects_dense"]
    as_classes = inspect_labels(np.where(np.isin(truth, range(1, 8)), truth, 0), task="semantic", sparse=True,
                                images=[image])
    assert "objects_as_classes" in [f.code for f in as_classes.errors]


def test_scribbles_without_sparse_are_refused_and_with_sparse_accepted():
    labels = _scribbles()
    report = inspect_labels(labels, task="semantic", sparse=False)
    assert report.kind == "scribbles" and report.suggested_sparse and report.zero_fraction > 0.9
    assert [f.code for f in report.errors] == ["scribbles_not_sparse"]
    assert not inspect_labels(labels, task="semantic", sparse=True).findings


def test_sparse_instances_say_how_the_background_is_read():
    image, truth = _scene()
    painted = np.where(np.isin(truth, [3, 8]), truth, 0)
    report = inspect_labels(painted, task="instances", sparse=True, images=[image])
    assert [f.code for f in report.findings] == ["background_inferred"]


def test_empty_labels_are_an_error_and_the_summary_reads_well():
    report = inspect_labels(np.zeros((20, 20), int), task="semantic", sparse=True)
    assert report.kind == "empty" and report.errors
    image, truth = _scene()
    summary = inspect_labels(truth, images=[image]).summary()
    assert summary.startswith("60 value(s)") and "instance ids" in summary and "0 covers" in summary


@pytest.mark.parametrize("shape", [(3, 200, 200), (2000, 2100)])
def test_big_and_3d_labels_are_inspected_on_a_sample(shape):
    labels = np.zeros(shape, np.uint16)
    labels[..., 10:20, 10:20] = 2
    labels[..., 40:60, 40:45] = 1
    report = inspect_labels(labels, task="semantic", sparse=True)
    assert report.n_values == 2


def test_instance_ids_are_refused_as_classes_also_when_sparse_is_ticked():
    image, truth = _scene()
    report = inspect_labels(truth, task="semantic", sparse=True, images=[image])
    assert "instance_ids_as_classes" in [f.code for f in report.errors]


def test_images_that_do_not_fit_the_labels_are_not_used_for_coverage():
    image, truth = _scene()
    report = inspect_labels(truth, task="instances", sparse=False, images=[image[:100]])
    assert report.coverage is None and report.kind == "instance ids"
    channels_last = inspect_labels(truth, images=[np.stack([image, image], axis=-1)])
    assert channels_last.coverage == pytest.approx(1.0, abs=0.05)
