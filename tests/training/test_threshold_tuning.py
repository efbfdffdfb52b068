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
