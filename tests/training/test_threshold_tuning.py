import numpy as np

from napari_tiled_unet.postprocess import InstanceSettings
from napari_tiled_unet.training.targets import centre_distance
from napari_tiled_unet.training.threshold_tuning import InstanceBlock, scored_objects, tune_instance_settings


def _block(noise_seed=0):
    """Two touching disks whose predicted centre distance has a shallow valley: only a high seed splits them."""
    truth = np.zeros((40, 70), np.int32)
    yy, xx = np.ogrid[:40, :70]
    truth[(yy - 20) ** 2 + (xx - 22) ** 2 <= 196] = 1
    truth[((yy - 20) ** 2 + (xx - 46) ** 2 <= 196) & (truth == 0)] = 2
    probs = np.zeros((3, 40, 70), np.float32)
    probs[0] = truth == 0
    probs[1] = truth > 0
    distance = 0.35 + 0.65 * centre_distance(truth)  # blurred: the valley between them is at 0.35..0.45
    distance[truth == 0] = 0
    return InstanceBlock(probs, distance, truth)


def test_tuning_finds_the_seed_threshold_that_splits_touching_objects():
    from napari_tiled_unet.training.threshold_tuning import instances_for

    block = _block()
    assert instances_for(block, InstanceSettings(seed_threshold=0.3)).max() == 1, "a low seed merges them"
    settings, f1 = tune_instance_settings([block])
    assert f1 == 1.0 and settings.seed_threshold >= 0.45
    assert instances_for(block, settings).max() == 2


def test_sparse_scoring_ignores_objects_on_unannotated_pixels():
    predicted = np.zeros((10, 20), np.int32)
    predicted[1:4, 1:4] = 1
    predicted[5:9, 12:18] = 2
    annotated = np.zeros((10, 20), bool)
    annotated[:, :10] = True
    kept = scored_objects(predicted, annotated)
    assert set(np.unique(kept)) == {0, 1}
    np.testing.assert_array_equal(scored_objects(predicted, None), predicted)
