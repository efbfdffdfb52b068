import pytest
import torch

from napari_tiled_unet.training.selection import (
    MIN_VALIDATION_OBJECTS,
    ModelSelector,
    WeightAverage,
    kept_epoch_text,
    selection_rule,
)


def _state(value):
    return lambda: {"w": torch.full((2,), float(value))}


def test_a_single_lucky_epoch_does_not_win_with_smoothing():
    scores = [0.50, 0.95, 0.60, 0.62, 0.80, 0.85, 0.86]
    smoothed, best = ModelSelector("smoothed"), ModelSelector("best")
    for epoch, score in enumerate(scores, start=1):
        smoothed.offer(epoch, score, _state(epoch), {})
        best.offer(epoch, score, _state(epoch), {})
    assert best.epoch == 2, "the raw score picks the lucky epoch"
    assert smoothed.epoch == 7 and float(smoothed.state["w"][0]) == 7.0


def test_final_rule_keeps_the_last_epoch_and_unknown_rules_are_refused():
    final = ModelSelector("final")
    for epoch, score in enumerate([0.9, 0.1, 0.2], start=1):
        final.offer(epoch, score, _state(epoch), {})
    assert final.epoch == 3
    with pytest.raises(ValueError, match="selection"):
        ModelSelector("luck")


def test_weight_average_follows_the_weights_and_copies_integer_buffers():
    net = torch.nn.BatchNorm1d(2)
    average = WeightAverage(net, decay=0.5)
    with torch.no_grad():
        net.weight.fill_(3.0)
        net.num_batches_tracked.fill_(7)
    for _ in range(20):
        average.update(net)
    state = average.state_dict()
    assert torch.allclose(state["weight"], torch.full((2,), 3.0), atol=1e-3)
    assert int(state["num_batches_tracked"]) == 7


def test_too_few_validation_objects_keep_the_final_model():
    few, enough = MIN_VALIDATION_OBJECTS - 1, MIN_VALIDATION_OBJECTS
    rule, reason = selection_rule("smoothed", "instances", True, few)
    assert rule == "final" and f"{few} objects" in reason
    assert selection_rule("smoothed", "instances", True, enough)[0] == "smoothed"
    assert selection_rule("smoothed", "instances", True, 0) == (  # object strokes: outlines are the start model's
        "final", "the validation holds no object outlined by hand: nothing to score")
    assert selection_rule("best", "semantic", True, 0)[0] == "best"  # semantic scores are pixel scores
    assert selection_rule("smoothed", "semantic", False, 0) == ("final", "no validation block")


def test_kept_epoch_text_says_why_the_final_model_was_kept():
    reason = "the validation holds 4 objects (fewer than 20): too few to tell epochs apart"
    configured = {"best_epoch": 7, "selection": "smoothed", "selection_reason": "configured"}
    assert kept_epoch_text(configured) == "best epoch 7"
    assert kept_epoch_text({"best_epoch": 9, "selection": "final", "selection_reason": reason}) == (
        f"final epoch 9 kept ({reason})")
    assert kept_epoch_text({"best_epoch": 3}) == "best epoch 3"  # models saved before the reason was stored
    assert kept_epoch_text({**configured, "epochs": 17}) == "best epoch 7 of 17"
    assert kept_epoch_text({"best_epoch": 9, "epochs": 9, "selection": "final", "selection_reason": reason}) == (
        f"final epoch 9 of 9 kept ({reason})")
