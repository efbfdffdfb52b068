import numpy as np

from napari_tiled_unet.postprocess import InstanceSettings
from napari_tiled_unet.training.targets import centre_distance
from napari_tiled_unet.training.threshold_tuning import InstanceBlock, scored_objects, tune_instance_settings


def _block(noise_seed=0, floor=0.35):
    """Two touching disks whose predicted centre distance has a shallow valley: only a high seed splits them."""
    truth = np.zeros((40, 70), np.int32)
    yy, xx = np.ogrid[:40, :70]
    truth[(yy - 20) ** 2 + (xx - 22) ** 2 <= 196] = 1
    truth[((yy - 20) ** 2 + (xx - 46) ** 2 <= 196) & (truth == 0)] = 2
    probs = np.zeros((3, 40, 70), np.float32)
    probs[0] = truth == 0
    probs[1] = truth > 0
    distance = floor + (1 - floor) * centre_distance(truth)  # blurred: the valley between them is at the floor
    distance[truth == 0] = 0
    return InstanceBlock(probs, distance, truth)


def test_tuning_finds_the_seed_threshold_that_splits_touching_objects():
    from napari_tiled_unet.training.threshold_tuning import instances_for

    block = _block()
    merged = InstanceSettings(seed_threshold=0.3, split_depth=0.0)
    assert instances_for(block, merged).max() == 1, "a low seed merges them"
    assert instances_for(block, merged.replace(split_depth=0.25)).max() == 2, "their two centres cut the seed"
    settings, f1 = tune_instance_settings([block])
    assert f1 == 1.0 and instances_for(block, settings).max() == 2
    # a valley too shallow for the split (0.78 under peaks of 1): only a seed threshold above it separates them
    shallow = _block(floor=0.78)
    assert instances_for(shallow, InstanceSettings(seed_threshold=0.3)).max() == 1
    settings, f1 = tune_instance_settings([shallow], fine=True)
    assert f1 == 1.0 and settings.seed_threshold >= 0.8


def test_sparse_scoring_ignores_objects_on_unannotated_pixels():
    predicted = np.zeros((10, 20), np.int32)
    predicted[1:4, 1:4] = 1
    predicted[5:9, 12:18] = 2
    annotated = np.zeros((10, 20), bool)
    annotated[:, :10] = True
    kept = scored_objects(predicted, annotated)
    assert set(np.unique(kept)) == {0, 1}
    np.testing.assert_array_equal(scored_objects(predicted, None), predicted)


def _noisy_blobs(seed: int, with_distance: bool = True) -> InstanceBlock:
    """Random disks of several sizes with a noisy predicted centre distance and probabilities."""
    rng = np.random.default_rng(seed)
    truth = np.zeros((64, 64), np.int32)
    yy, xx = np.ogrid[:64, :64]
    for index in range(1, 9):
        cy, cx, radius = rng.integers(6, 58), rng.integers(6, 58), rng.integers(2, 9)
        truth[((yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2) & (truth == 0)] = index
    inside = (truth > 0).astype(np.float32)
    foreground = np.clip(inside * 0.8 + 0.1 + rng.normal(0, 0.15, truth.shape), 0, 1).astype(np.float32)
    probs = np.stack([1 - foreground, foreground * 0.7, foreground * 0.3]).astype(np.float32)
    distance = np.clip(centre_distance(truth) + rng.normal(0, 0.1, truth.shape), 0, 1).astype(np.float32)
    return InstanceBlock(probs, distance if with_distance else None, truth)


def test_the_grid_chooses_as_trying_every_setting_one_by_one_would():
    """Objects are grown once per threshold pair and sized per minimum size: the same choice as a plain loop."""
    import itertools

    from napari_tiled_unet.training import threshold_tuning as tuning

    for with_distance in (True, False):
        blocks = [_noisy_blobs(seed, with_distance) for seed in range(3)]
        best, best_key = None, (-1.0, -1.0)
        for seed, fg, min_size in itertools.product(tuning.SEEDS, tuning.FOREGROUND, tuning._min_sizes(blocks, 2)):
            settings = InstanceSettings(seed_threshold=seed, foreground_threshold=fg, min_size=min_size)
            tp, fp, fn, iou = np.sum([tuning.block_counts(block, settings) for block in blocks], axis=0)
            key = (round(float(2 * tp / max(2 * tp + fp + fn, 1)), 6), float(iou) / max(float(tp), 1.0))
            if key > best_key:
                best, best_key = settings, key
        assert tune_instance_settings(blocks) == (best, best_key[0])


def test_thresholds_can_be_tuned_for_seeds_that_are_never_cut():
    block = _block()
    cut, f1_cut = tune_instance_settings([block])
    uncut, f1_uncut = tune_instance_settings([block], split_depth=0.0)
    assert uncut.split_depth == 0.0 and cut.split_depth > 0
    assert f1_cut == f1_uncut == 1.0
    assert uncut.seed_threshold > 0.35, "without cuts only a seed above the valley keeps the two apart"
