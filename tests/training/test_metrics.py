import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from napari_tiled_unet.training.metrics import (
    AP_THRESHOLDS,
    average_precision,
    foreground_iou,
    instance_f1,
    iou_pairs,
    match_instances,
    mean_average_precision,
)


def strip(intervals, length=30):
    """A (1, length) label image with ``label`` on ``[start, stop)`` for each ``(label, start, stop)``."""
    labels = np.zeros((1, length), dtype=np.int32)
    for label, start, stop in intervals:
        labels[0, start:stop] = label
    return labels


def test_foreground_iou_hand_computed():
    pred = np.zeros((4, 4), dtype=bool)
    target = np.zeros((4, 4), dtype=np.uint8)
    pred[0, :4] = True  # 4 px
    target[0, 2:4] = 1
    target[1, :4] = 3  # 6 px, 2 shared
    assert foreground_iou(pred, target) == pytest.approx(2 / 8)
    ignore = np.zeros((4, 4), dtype=bool)
    ignore[1] = True
    assert foreground_iou(pred, target, ignore) == pytest.approx(2 / 4)
    assert foreground_iou(np.zeros((3, 3)), np.zeros((3, 3))) == 1.0
    assert foreground_iou(pred, target, np.ones((4, 4), dtype=bool)) == 1.0
    with pytest.raises(ValueError, match="shape"):
        foreground_iou(pred, target[:3])


def test_match_hand_computed_counts():
    true = strip([(1, 0, 10), (2, 12, 20), (3, 24, 28)])
    # exact copy of 1 (IoU 1), 4 of 8 pixels of 2 plus 2 outside (IoU 0.4), a false positive, 3 missed
    pred = strip([(5, 0, 10), (6, 10, 16), (9, 21, 23)])
    result = match_instances(pred, true)
    assert (result["tp"], result["fp"], result["fn"]) == (1, 2, 2)
    assert (result["n_pred"], result["n_true"]) == (3, 3)
    assert result["precision"] == pytest.approx(1 / 3) and result["recall"] == pytest.approx(1 / 3)
    assert result["f1"] == pytest.approx(1 / 3)
    assert result["mean_matched_iou"] == pytest.approx(1.0)
    loose = match_instances(pred, true, iou_threshold=0.3)
    assert (loose["tp"], loose["fp"], loose["fn"]) == (2, 1, 1)
    assert loose["mean_matched_iou"] == pytest.approx((1.0 + 0.4) / 2)
    assert instance_f1(pred, true, 0.3) == pytest.approx(loose["f1"]) == pytest.approx(2 / 3)


def test_low_threshold_uses_optimal_assignment():
    true = strip([(1, 0, 10), (2, 10, 20)])
    pred = strip([(1, 4, 14), (2, 0, 4)])
    # IoU(p1, t1) = 6/14, IoU(p1, t2) = 4/16, IoU(p2, t1) = 4/10: greedy by IoU would match only p1-t1
    result = match_instances(pred, true, iou_threshold=0.2)
    assert result["tp"] == 2 and result["fp"] == 0 and result["fn"] == 0
    assert result["mean_matched_iou"] == pytest.approx((4 / 16 + 4 / 10) / 2)


def test_tie_at_exactly_one_half():
    true = strip([(1, 0, 2)])
    pred = strip([(1, 0, 1), (2, 1, 2)])  # both halves have IoU exactly 0.5
    result = match_instances(pred, true, iou_threshold=0.5)
    assert (result["tp"], result["fp"], result["fn"]) == (1, 1, 0)


def test_empty_cases():
    empty = np.zeros((5, 5), dtype=np.uint16)
    objects = np.zeros((5, 5), dtype=np.uint16)
    objects[1:3, 1:3] = 4
    assert match_instances(empty, empty)["f1"] == 1.0
    missed = match_instances(empty, objects)
    assert (missed["tp"], missed["fp"], missed["fn"], missed["f1"]) == (0, 0, 1, 0.0)
    assert missed["mean_matched_iou"] == 0.0
    assert match_instances(objects, empty)["precision"] == 0.0


def test_label_ids_do_not_matter_including_huge_ids():
    true = np.zeros((6, 6, 6), dtype=np.int64)
    true[:3] = 1
    true[3:, :3] = 2
    pred = np.where(true == 1, 10**9, np.where(true == 2, 7, 0)).astype(np.uint64)
    result = match_instances(pred, true)
    assert (result["tp"], result["fp"], result["fn"]) == (2, 0, 0)


def test_iou_pairs_against_brute_force():
    rng = np.random.default_rng(0)
    pred = rng.integers(0, 5, (12, 12))
    true = rng.integers(0, 4, (12, 12)) * 3
    pred_index, true_index, iou, n_pred, n_true = iou_pairs(pred, true)
    pred_ids, true_ids = np.unique(pred[pred > 0]), np.unique(true[true > 0])
    assert (n_pred, n_true) == (pred_ids.size, true_ids.size)
    dense = np.zeros((n_pred, n_true))
    dense[pred_index, true_index] = iou
    for i, p in enumerate(pred_ids):
        for j, t in enumerate(true_ids):
            a, b = pred == p, true == t
            assert dense[i, j] == pytest.approx((a & b).sum() / (a | b).sum())


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: match_instances(np.zeros((3, 3), int), np.zeros((3, 3), int), iou_threshold=0.0),
            "iou_threshold",
        ),
        (lambda: match_instances(np.zeros((3, 3), float), np.zeros((3, 3), int)), "dtype"),
        (lambda: match_instances(-np.ones((3, 3), int), np.zeros((3, 3), int)), "negative"),
        (lambda: match_instances(np.zeros((3, 3), int), np.zeros((3, 4), int)), "shape"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@settings(max_examples=25, deadline=None)
@given(
    shape=st.lists(st.integers(1, 12), min_size=2, max_size=3),
    seed=st.integers(0, 2**16),
    threshold=st.sampled_from([0.1, 0.5, 0.75, 1.0]),
)
def test_property_self_match_and_bounds(shape, seed, threshold):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 6, shape)
    n_objects = np.unique(labels[labels > 0]).size
    perfect = match_instances(labels, labels, threshold)
    assert perfect["tp"] == n_objects and perfect["f1"] == 1.0
    other = rng.integers(0, 6, shape)
    result = match_instances(other, labels, threshold)
    assert result["tp"] + result["fn"] == n_objects and result["tp"] + result["fp"] == result["n_pred"]
    assert 0.0 <= result["f1"] <= 1.0
    if result["tp"]:
        assert result["mean_matched_iou"] >= threshold


def test_ap_thresholds_are_those_of_the_data_science_bowl():
    assert AP_THRESHOLDS == (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


def test_average_precision_hand_computed():
    # t1: 20 px, prediction covers 16 of them (IoU 0.8); t2: 10 px matched exactly (IoU 1.0);
    # t3: 10 px, prediction of 10 px shifted by 3 (IoU 7/13 = 0.538); one false positive; t4 missed
    true = strip([(1, 0, 20), (2, 25, 35), (3, 40, 50), (4, 60, 64)], length=80)
    pred = strip([(7, 2, 18), (8, 25, 35), (9, 43, 53), (5, 70, 75)], length=80)
    result = average_precision(pred, true)
    assert (result["n_pred"], result["n_true"]) == (4, 4)
    expected_tp = {t: 1 + (t <= 0.8) + (t <= 7 / 13) for t in AP_THRESHOLDS}
    assert result["tp"] == expected_tp
    for t, tp in expected_tp.items():
        assert result["ap"][t] == pytest.approx(tp / (4 + 4 - tp))  # TP / (TP + FP + FN)
    # 0.5: 3 matches -> 3/5; 0.55..0.8 (6 thresholds): 2 -> 2/6; 0.85..0.95 (3 thresholds): 1 -> 1/7
    mean = (3 / 5 + 6 * (2 / 6) + 3 * (1 / 7)) / 10
    assert result["mean_ap"] == pytest.approx(mean)
    assert mean_average_precision(pred, true) == pytest.approx(mean)


def test_average_precision_counts_matches_at_exactly_the_threshold():
    true = strip([(1, 0, 20)])
    pred = strip([(1, 0, 15)])  # IoU exactly 0.75
    result = average_precision(pred, true)
    assert [result["ap"][t] for t in AP_THRESHOLDS] == [1.0] * 6 + [0.0] * 4
    assert result["mean_ap"] == pytest.approx(0.6)


def test_average_precision_agrees_with_match_instances_and_edge_cases():
    rng = np.random.default_rng(3)
    true = rng.integers(0, 4, (20, 20))
    pred = np.where(rng.random((20, 20)) < 0.8, true, rng.integers(0, 4, (20, 20)))
    result = average_precision(pred, true, thresholds=(0.3, 0.5, 0.9))
    for t in (0.3, 0.5, 0.9):
        match = match_instances(pred, true, t)
        assert result["tp"][t] == match["tp"]
        assert result["ap"][t] == pytest.approx(match["tp"] / (match["tp"] + match["fp"] + match["fn"]))
    empty = np.zeros((4, 4), dtype=np.uint8)
    assert average_precision(empty, empty)["mean_ap"] == 1.0
    assert average_precision(empty, true[:4, :4] + 1)["mean_ap"] == 0.0
    assert mean_average_precision(true, true) == 1.0
    with pytest.raises(ValueError, match="threshold"):
        average_precision(pred, true, thresholds=(0.5, 1.5))
    with pytest.raises(ValueError, match="empty"):
        average_precision(pred, true, thresholds=())
