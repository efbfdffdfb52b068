import numpy as np
import pytest

from napari_tiled_unet import UNetConfig
from napari_tiled_unet.inference import predict_image
from napari_tiled_unet.samples import load_nuclei_2d
from napari_tiled_unet.training.config import TrainingConfig
from napari_tiled_unet.training.corrections import annotation_from_prediction, annotation_settings, corrected_planes
from napari_tiled_unet.training.loop import train

TINY = dict(unet=UNetConfig(depth=3, wf=3, batch_norm=True), patch_size=92, batch_size=4, time_limit=None,
            steps_per_epoch=10, val_fraction=0.0)


@pytest.fixture(scope="module")
def sample():
    data = load_nuclei_2d()
    return data["image"][:192, :192], data["labels"][:192, :192]


@pytest.fixture(scope="module")
def model(sample):
    image, labels = sample
    return train(image, labels, TrainingConfig(task="instances", epochs=15, **TINY))


def test_corrections_change_the_output_where_they_were_made(sample, model):
    """Paint a region's objects as background, continue training: the model stops finding objects there."""
    image, _ = sample
    instances, _ = predict_image(model, image, output="instances")
    annotation = annotation_from_prediction(model, instances, "instances")
    assert annotation.min() == 1 and set(np.unique(annotation[instances == 0])) == {1}
    region = (slice(0, 96), slice(0, 96))
    rest = np.ones(image.shape, bool)
    rest[region] = False

    def foreground(net):  # mean probability of "object" in the region and elsewhere
        probs, _ = predict_image(net, image, output="probabilities")
        objects = 1.0 - probs[0]
        return objects[region].mean(), objects[rest].mean()

    before = foreground(model)
    assert before[0] > 0.1, "the region holds objects to correct"
    corrected = annotation.copy()
    corrected[region] = 1  # "these are not nuclei"
    settings = annotation_settings(model)
    assert settings == {"task": "instances", "sparse": True, "sparse_background": "painted"}
    config = TrainingConfig(epochs=15, **settings, **TINY)
    retrained = train(image, corrected, config, init_model=model)
    after = foreground(retrained)
    assert after[0] < 0.5 * before[0], f"the corrected region still holds objects: {before} -> {after}"
    assert after[1] - after[0] > before[1] - before[0] + 0.1, "the change is where the corrections are"


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
