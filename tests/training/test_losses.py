import numpy as np
import torch

from napari_tiled_unet.training.losses import edge_smoothness_loss, training_loss


def _step_probs(edge_at: int, size: int = 40) -> torch.Tensor:
    """Two-class probabilities of a prediction that changes class at column ``edge_at``."""
    p = torch.zeros(1, 2, size, size)
    p[:, 1, :, edge_at:] = 1.0
    p[:, 0] = 1.0 - p[:, 1]
    return p


def test_edge_term_prefers_boundaries_on_the_intensity_edge():
    image = torch.zeros(1, 40, 40)
    image[:, :, 20:] = 1.0
    image += 0.02 * torch.randn(1, 40, 40, generator=torch.Generator().manual_seed(0))
    on_edge = edge_smoothness_loss(_step_probs(20), image)
    off_edge = edge_smoothness_loss(_step_probs(23), image)
    assert float(on_edge) < 0.2 * float(off_edge)


def test_edge_term_ignores_the_steps_of_a_quantised_image():
    """An 8-bit image has steps of 1/255 everywhere: they must not count as edges."""
    ramp = torch.round(torch.linspace(0, 1, 40) * 12) / 12  # 13 grey levels, a smooth ramp
    image = ramp.expand(1, 40, 40).clone()
    assert float(edge_smoothness_loss(_step_probs(21), image)) > 0.5 * float(edge_smoothness_loss(_step_probs(21),
                                                                                                  image * 0))


def test_training_loss_adds_the_edge_term_only_when_asked():
    logits = torch.randn(2, 2, 16, 16, requires_grad=True)
    targets = torch.full((2, 16, 16), -1, dtype=torch.int64)
    targets[:, :4] = 0
    targets[:, -4:] = 1
    weights = torch.ones(2, 16, 16)
    image = torch.rand(2, 16, 16)
    plain = training_loss(logits, targets, weights, "ce")
    with_edges = training_loss(logits, targets, weights, "ce", image=image, edge_weight=2.0)
    assert float(with_edges) > float(plain)
    with_edges.backward()
    assert np.isfinite(logits.grad.numpy()).all() and logits.grad[:, :, 6:10].abs().sum() > 0


def test_a_pixel_of_some_object_is_taught_not_background_only():
    """ANY_OBJECT: the cross-entropy of background against the object classes merged; no Dice, no distance."""
    from napari_tiled_unet.training.labels import ANY_OBJECT
    from napari_tiled_unet.training.losses import distance_loss, soft_dice_loss, weighted_cross_entropy

    logits = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    targets = torch.full((1, 8, 8), ANY_OBJECT, dtype=torch.int64)
    weights = torch.ones(1, 8, 8)
    p_background = torch.softmax(logits, dim=1)[:, 0]
    expected = -torch.log(1 - p_background).mean()
    assert torch.allclose(weighted_cross_entropy(logits, targets, weights), expected, atol=1e-5)
    swapped = logits[:, [0, 2, 1]]  # interior and boundary swapped: the same loss
    assert torch.allclose(weighted_cross_entropy(swapped, targets, weights), expected, atol=1e-5)
    assert float(soft_dice_loss(logits, targets)) == 0.0  # no pixel of a known class: Dice of nothing
    assert float(distance_loss(logits[:, 0], targets, torch.zeros(1, 8, 8))) == 0.0
    mixed = targets.clone()
    mixed[:, :4] = 0
    alone = weighted_cross_entropy(logits, mixed, weights)
    by_hand = torch.cat([-torch.log(p_background[:, :4]).flatten(), -torch.log(1 - p_background[:, 4:]).flatten()])
    assert torch.allclose(alone, by_hand.mean(), atol=1e-5)
