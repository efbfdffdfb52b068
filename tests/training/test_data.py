import numpy as np
import pytest

from napari_tiled_unet import UNetConfig
from napari_tiled_unet.normalization import PercentileNormalization
from napari_tiled_unet.training.augment import AugmentationConfig
from napari_tiled_unet.training.config import TrainingConfig
from napari_tiled_unet.training.data import (
    PatchSampler,
    pairs_for_model,
    patch_shape,
    prepare_training_data,
    validation_block,
)
from napari_tiled_unet.training.labels import IGNORE
from napari_tiled_unet.training.targets import border_weight_map, centre_distance

NO_AUG = AugmentationConfig(flips=False, elastic=False, intensity=False)
NORM = PercentileNormalization()


def blobs(shape=(96, 80), seed=0):
    rng = np.random.default_rng(seed)
    labels = np.zeros(shape, np.int32)
    for i in range(1, 9):
        y, x = rng.integers(8, shape[0] - 8), rng.integers(8, shape[1] - 8)
        labels[y - 4 : y + 4, x - 4 : x + 4] = i
    image = (labels > 0) * 200.0 + rng.normal(10, 5, shape)
    return image.astype(np.float32), labels


def test_validation_block_holds_the_requested_share_of_annotations():
    annotated = np.zeros((100, 40), bool)
    annotated[::2, ::3] = True
    block = validation_block(annotated, 0.2)
    share = annotated[block].sum() / annotated.sum()
    assert 0.2 <= share < 0.25 and block[0].stop == 100
    assert validation_block(annotated, 0.0) is None


def test_prepared_data_hides_validation_labels_from_training():
    image, labels = blobs()
    data = prepare_training_data(image, labels, TrainingConfig(task="instances", val_fraction=0.2))
    item = data.images[0]
    assert item.val_slices is not None and np.all(item.targets[item.val_slices] == IGNORE)
    assert np.any(item.val_targets != IGNORE)
    assert item.image.dtype == np.float32 and item.image.shape == (1, 96, 80)
    assert data.normalization.low == 1.0


def test_channels_first_or_last_and_shape_mismatch():
    _, labels = blobs((40, 30))
    assert pairs_for_model(np.zeros((2, 40, 30)), labels, 2, NORM)[0][0].shape == (2, 40, 30)
    assert pairs_for_model(np.zeros((40, 30, 3)), labels, 2, NORM)[0][0].shape == (3, 40, 30)
    with pytest.raises(ValueError, match="must cover the same pixels"):
        pairs_for_model(np.zeros((41, 30)), labels, 2, NORM)
    with pytest.raises(ValueError, match="NaN"):
        pairs_for_model(np.full((40, 30), np.nan), labels, 2, NORM)
    with pytest.raises(ValueError, match="2 images but 1"):
        pairs_for_model([labels, labels], [labels], 2, NORM)


def test_2d_model_on_stacks_uses_annotated_planes():
    stack = np.zeros((5, 20, 20))
    labels = np.zeros((5, 20, 20), int)
    labels[1, 2:5, 2:5] = 1
    labels[3, 5:9, 5:9] = 2
    pairs = pairs_for_model(stack, labels, 2, NORM)
    assert len(pairs) == 2 and pairs[0][0].shape == (1, 20, 20)


def test_too_few_annotations_for_validation_say_what_to_do():
    image = np.zeros((64, 64), np.float32)
    scribbles = np.zeros((64, 64), int)
    scribbles[5, 5:15] = 1
    scribbles[10, 5:15] = 2
    with pytest.raises(ValueError, match="set the validation fraction to 0"):
        prepare_training_data(image, scribbles, TrainingConfig(sparse=True, val_fraction=0.2))
    data = prepare_training_data(image, scribbles, TrainingConfig(sparse=True, val_fraction=0.0))
    assert not data.has_validation


def test_patches_follow_valid_geometry_and_mirror_like_prediction():
    image, labels = blobs((50, 50))
    cfg = TrainingConfig(task="semantic", val_fraction=0.0)
    data = prepare_training_data(image, (labels > 0).astype(int), cfg)
    unet = UNetConfig(depth=3, wf=1, n_classes=2)
    patch = patch_shape(unet, 100, [(50, 50)])
    assert unet.is_valid_shape(patch)
    sampler = PatchSampler(data, unet, patch, NO_AUG, np.random.default_rng(0), annotated_share=0.5)
    x, t, w = sampler.batch(3)
    assert x.shape == (3, 1, *patch) and t.shape == (3, *unet.output_shape(patch)) and w.shape == (3, 1, *t.shape[1:])
    # without augmentation, the target is the class map at the output window, mirrored outside the image
    item = data.images[0]
    rng = np.random.default_rng(5)
    sampler.rng = rng
    img, tgt, _ = sampler.sample()
    m = unet.margin
    inner = img[0, m:-m, m:-m]
    # foreground pixels in the image are exactly where the target says foreground
    assert np.array_equal(inner > 0.5, tgt == 1)
    assert set(np.unique(item.targets)) <= {0, 1}


def test_sparse_sampling_centres_on_annotations():
    image = np.random.default_rng(0).random((200, 200)).astype(np.float32)
    scribbles = np.zeros((200, 200), int)
    scribbles[20:24, 20:60] = 1
    scribbles[30:34, 20:60] = 2
    data = prepare_training_data(image, scribbles, TrainingConfig(sparse=True, val_fraction=0.0))
    unet = UNetConfig(depth=2, wf=1, n_classes=2)
    sampler = PatchSampler(data, unet, (60, 60), NO_AUG, np.random.default_rng(0), annotated_share=0.9)
    annotated = [np.any(sampler.sample()[1] != IGNORE) for _ in range(300)]
    assert np.mean(annotated) > 0.8


def test_a_stack_is_normalised_with_the_statistics_of_the_whole_stack():
    """One rule for every path: a plane of a stack is normalised with the statistics of the whole stack."""
    rng = np.random.default_rng(3)
    stack = rng.gamma(2.0, 50.0, size=(4, 32, 32)).astype(np.float32)
    stack[0] *= 0.05  # an almost empty plane must not be stretched to the full range
    labels = np.zeros((4, 32, 32), int)
    labels[0, 4:9, 4:9] = 2
    labels[2, 10:20, 10:20] = 1
    pairs = pairs_for_model(stack, labels, 2, NORM)
    whole = NORM.for_image(stack[None])
    np.testing.assert_array_equal(pairs[0][0], whole(stack[None, 0]))
    np.testing.assert_array_equal(pairs[1][0], whole(stack[None, 2]))
    assert pairs[0][0].max() < 0.2  # the dim plane stays dim


def nuclei_3d(shape=(12, 40, 40)):
    labels = np.zeros(shape, np.int32)
    labels[2:7, 5:20, 5:20] = 1
    labels[2:7, 5:20, 20:35] = 2
    labels[7:11, 22:36, 8:24] = 3
    image = (labels > 0) * 200.0 + np.random.default_rng(0).normal(10, 5, shape)
    return image.astype(np.float32), labels


def test_anisotropic_voxels_make_the_instance_targets_physical():
    image, labels = nuclei_3d()
    config = TrainingConfig.defaults(3, task="instances", val_fraction=0.0, voxel_size=(1.5, 0.5, 0.5))
    data = prepare_training_data(image, labels, config)
    assert data.spacing == (3.0, 1.0, 1.0)
    item = data.images[0]
    np.testing.assert_array_equal(item.distance, centre_distance(labels, sampling=(3.0, 1.0, 1.0)))
    expected = border_weight_map(labels, w0=config.border_weight, sigma=config.border_sigma, sampling=(3.0, 1.0, 1.0))
    np.testing.assert_array_equal(item.weights, expected)


@pytest.mark.parametrize("voxel", [None, (0.5, 0.5, 0.5), (0.501, 0.5, 0.5)])
def test_isotropic_or_unknown_voxels_keep_the_targets_in_pixels(voxel):
    image, labels = nuclei_3d()
    config = TrainingConfig.defaults(3, task="instances", val_fraction=0.0, voxel_size=voxel)
    data = prepare_training_data(image, labels, config)
    assert data.spacing is None
    np.testing.assert_array_equal(data.images[0].distance, centre_distance(labels))


def test_a_2d_model_on_a_stack_measures_in_its_planes():
    image, labels = nuclei_3d()
    config = TrainingConfig(task="instances", val_fraction=0.0, voxel_size=(1.5, 0.5, 0.5))
    assert prepare_training_data(image, labels, config).spacing is None  # the planes have square pixels
    config = TrainingConfig.defaults(3, task="instances", voxel_size=(0.5, 0.5))
    with pytest.raises(ValueError, match="has 2 sizes but the model is 3D"):
        prepare_training_data(image, labels, config)


def test_the_sampler_augments_in_plane_for_anisotropic_voxels():
    shape = (12, 40, 40)
    planes = np.broadcast_to(np.arange(shape[0])[:, None, None], shape)
    labels = (planes % 3 + 1).astype(np.int32)  # semantic classes by plane: any mixing of planes shows
    config = TrainingConfig.defaults(3, val_fraction=0.0, voxel_size=(1.5, 0.5, 0.5))
    data = prepare_training_data(planes.astype(np.float32), labels, config)
    unet = UNetConfig(dims=3, depth=2, wf=1, n_classes=3, pooling=((1, 2, 2),), kernels=((1, 3, 3), (3, 3, 3)))
    elastic = AugmentationConfig(flips=False, intensity=False, elastic_probability=1.0, elastic_sigma=8.0)
    sampler = PatchSampler(data, unet, (12, 32, 32), elastic, np.random.default_rng(1), annotated_share=1.0)
    margins = unet.margins
    for _ in range(5):
        image, targets, _ = sampler.sample()
        classes = np.round(image[0] * (shape[0] - 1))  # the normalised plane index, back in planes
        inner = classes[tuple(slice(m, m + t) for m, t in zip(margins, targets.shape))]
        for z in range(targets.shape[0]):
            assert len(np.unique(targets[z])) == 1  # every output plane comes from one input plane
            assert len(np.unique(inner[z])) == 1
