import numpy as np
import pytest

from napari_tiled_unet import UNetConfig
from napari_tiled_unet.inference import predict_image
from napari_tiled_unet.training.config import TrainingConfig
from napari_tiled_unet.training.corrections import annotation_from_prediction, annotation_settings, corrected_planes
from napari_tiled_unet.training.loop import train

TINY = dict(unet=UNetConfig(depth=3, wf=3, batch_norm=True), patch_size=92, batch_size=4, time_limit=None,
            steps_per_epoch=10, val_fraction=0.0)


def _scene(seed=0, shape=(160, 160)):
    """Bright and dim round objects on noise; returns the image, the bright ids and the dim ids."""
    rng = np.random.default_rng(seed)
    yy, xx = np.ogrid[: shape[0], : shape[1]]
    bright = np.zeros(shape, np.int32)
    dim = np.zeros(shape, np.int32)
    image = rng.normal(10, 3, shape)
    k = 0
    for y in range(14, shape[0] - 10, 26):
        for x in range(14, shape[1] - 10, 26):
            k += 1
            disk = (yy - y - rng.integers(-3, 4)) ** 2 + (xx - x - rng.integers(-3, 4)) ** 2 <= 64
            target = dim if k % 3 == 0 else bright
            target[disk] = k
            image[disk] += 40 if target is dim else 120
    return image.astype(np.float32), bright, dim


@pytest.fixture(scope="module")
def scene():
    return _scene()


@pytest.fixture(scope="module")
def model(scene):
    """A model trained on masks that missed the dim objects (the annotator did not see them)."""
    image, bright, _ = scene
    return train(image, bright, TrainingConfig(task="instances", epochs=12, **TINY))


def test_corrections_change_the_output_where_they_were_made(scene, model):
    """The model misses the dim objects; paint some of them into its prediction, continue training: it finds them."""
    image, _, dim = scene

    def on_dim(net, where):  # mean probability of "object" on the dim objects in ``where``
        probs, _ = predict_image(net, image, output="probabilities")
        return float((1.0 - probs[0])[(dim > 0) & where].mean())

    left = np.zeros(image.shape, bool)
    left[:, :80] = True
    before = on_dim(model, left)
    assert before < 0.5, "the model misses the dim objects"
    instances, _ = predict_image(model, image, output="instances")
    annotation = annotation_from_prediction(model, instances, "instances")
    assert annotation.min() == 1 and set(np.unique(annotation[instances == 0])) == {1}
    corrected = annotation.copy()
    for new_id, k in enumerate(np.unique(dim[left & (dim > 0)]), start=int(annotation.max()) + 1):
        corrected[dim == k] = new_id  # the user paints the dim objects of the left half, each its own id
    settings = annotation_settings(model)
    assert settings == {"task": "instances", "sparse": True, "sparse_background": "painted"}
    retrained = train(image, corrected, TrainingConfig(epochs=12, **settings, **TINY), init_model=model)
    after = on_dim(retrained, left)
    assert after > before + 0.25, f"the corrected objects are still missed: {before:.2f} -> {after:.2f}"


def test_only_corrected_planes_of_a_stack_count():
    original = np.ones((4, 5, 5), np.uint32)
    corrected = original.copy()
    corrected[2, 1:3, 1:3] = 7
    kept = corrected_planes(original, corrected, n_loop=1)
    assert kept[2].any() and not kept[[0, 1, 3]].any()
    np.testing.assert_array_equal(corrected_planes(original[0], corrected[0], n_loop=0), corrected[0])
    with pytest.raises(ValueError, match="no plane was corrected"):
        corrected_planes(original, original, n_loop=1)


def test_annotations_follow_the_models_conventions(model):
    with pytest.raises(ValueError, match="predict instances first"):
        annotation_from_prediction(model, np.zeros((4, 4), np.uint8), "labels")
