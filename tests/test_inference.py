"""predict_image: axes, planes of a stack, channels, normalisation from metadata and the three output kinds."""

import numpy as np
import pytest
import torch
from unet_helpers import make_net

from napari_tiled_unet import Cancelled, UNet, UNetConfig, predict_tiled
from napari_tiled_unet.inference import OUTPUT_KINDS, default_axes, predict_image
from napari_tiled_unet.normalization import PercentileNormalization

TOL = dict(rtol=1e-4, atol=1e-4)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Tiny nets run far faster on one thread, and do not stall when other processes load the CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def net():
    return make_net(depth=2, wf=1)


def _image(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def _argmax(logits):
    return np.argmax(logits, axis=0)


def _probs(logits):
    e = np.exp(logits - logits.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


# ---------------------------------------------------------------------------------------------- axes
def test_yx_equals_predict_tiled(net):
    image = _image((37, 45))
    result, axes = predict_image(net, image, axes="YX", output="probabilities")
    assert axes == "CYX"
    assert result.shape == (2, 37, 45) and result.dtype == np.float32
    np.testing.assert_allclose(result, _probs(predict_tiled(net, image)), **TOL)
    labels, axes = predict_image(net, image, axes="YX")
    assert axes == "YX"
    assert labels.shape == (37, 45)
    np.testing.assert_array_equal(labels, _argmax(predict_tiled(net, image)))


def test_lowercase_axes_are_accepted(net):
    image = _image((20, 21))
    np.testing.assert_array_equal(predict_image(net, image, axes="yx")[0], predict_image(net, image, axes="YX")[0])


@pytest.mark.parametrize("loop", ["Z", "T"])
def test_stack_with_2d_model_is_predicted_plane_by_plane(net, loop):
    image = _image((3, 30, 41))
    image[1] *= 3  # planes differ in statistics: each plane must still be predicted on its own
    probs, axes = predict_image(net, image, axes=loop + "YX", output="probabilities")
    assert axes == loop + "CYX"
    assert probs.shape == (3, 2, 30, 41)
    labels, label_axes = predict_image(net, image, axes=loop + "YX")
    assert label_axes == loop + "YX"
    assert labels.shape == (3, 30, 41)
    for z in range(3):
        logits = predict_tiled(net, image[z])
        np.testing.assert_allclose(probs[z], _probs(logits), **TOL)
        np.testing.assert_array_equal(labels[z], _argmax(logits))


def test_tzyx_with_2d_model(net):
    image = _image((2, 3, 20, 22))
    labels, axes = predict_image(net, image, axes="TZYX")
    assert axes == "TZYX"
    assert labels.shape == image.shape
    for t in range(2):
        for z in range(3):
            np.testing.assert_array_equal(labels[t, z], _argmax(predict_tiled(net, image[t, z])))


def test_zyx_with_3d_model():
    net = make_net(dims=3, depth=2, wf=1)
    image = _image((7, 19, 23))
    probs, axes = predict_image(net, image, axes="ZYX", output="probabilities")
    assert axes == "CZYX"
    np.testing.assert_allclose(probs, _probs(predict_tiled(net, image)), **TOL)


def test_cyx_with_two_channel_model():
    net = make_net(depth=2, wf=1, in_channels=2)
    image = _image((2, 26, 31))
    labels, axes = predict_image(net, image, axes="CYX")
    assert axes == "YX"
    np.testing.assert_array_equal(labels, _argmax(predict_tiled(net, image)))
    # the channel axis may sit anywhere
    moved, axes = predict_image(net, np.moveaxis(image, 0, -1), axes="YXC")
    assert axes == "YX"
    np.testing.assert_array_equal(moved, labels)


def test_tcyx_with_two_channel_model():
    net = make_net(depth=2, wf=1, in_channels=2)
    image = _image((3, 2, 20, 21))
    probs, axes = predict_image(net, image, axes="TCYX", output="probabilities")
    assert axes == "TCYX"
    assert probs.shape == (3, 2, 20, 21)
    for t in range(3):
        np.testing.assert_allclose(probs[t], _probs(predict_tiled(net, image[t])), **TOL)


def test_rgb_yxs_with_three_channel_model():
    net = make_net(depth=2, wf=1, in_channels=3, n_classes=3)
    rgb = np.random.default_rng(0).integers(0, 256, size=(25, 33, 3)).astype(np.uint8)
    probs, axes = predict_image(net, rgb, axes="YXS", output="probabilities")
    assert axes == "CYX"
    assert probs.shape == (3, 25, 33)
    channel_first = np.moveaxis(rgb, -1, 0).astype(np.float32)
    np.testing.assert_allclose(probs, _probs(predict_tiled(net, channel_first)), **TOL)
    guessed, guessed_axes = predict_image(net, rgb, output="probabilities")
    assert guessed_axes == "CYX"
    np.testing.assert_allclose(guessed, probs, **TOL)


@pytest.mark.parametrize(
    ("in_channels", "shape", "axes"),
    [(2, (3, 20, 21), "CYX"), (2, (20, 21), "YX"), (3, (20, 21, 4), "YXS"), (1, (2, 20, 21), "CYX")],
)
def test_channel_count_mismatch(in_channels, shape, axes):
    net = make_net(depth=2, wf=1, in_channels=in_channels)
    with pytest.raises(ValueError, match="channel"):
        predict_image(net, _image(shape), axes=axes)


@pytest.mark.parametrize("axes", ["YX", "CZYX", "CSY", "YYX", "CYX "])
def test_bad_axes_are_refused(net, axes):
    with pytest.raises(ValueError, match="axes"):
        predict_image(net, _image((2, 20, 21)), axes=axes)


def test_unknown_output_kind(net):
    with pytest.raises(ValueError, match="output"):
        predict_image(net, _image((20, 21)), axes="YX", output="masks")


# ---------------------------------------------------------------------------------------------- default axes
@pytest.mark.parametrize(
    ("shape", "dims", "in_channels", "expected"),
    [
        ((16, 20), 2, 1, "YX"),
        ((16, 20, 21), 3, 1, "ZYX"),
        ((3, 16, 20), 2, 1, "ZYX"),
        ((2, 3, 16, 20), 2, 1, "TZYX"),
        ((5, 16, 20), 3, 1, "ZYX"),
        ((2, 5, 16, 20), 3, 1, "TZYX"),
        ((3, 16, 20), 2, 3, "CYX"),
        ((16, 20, 3), 2, 3, "YXS"),
        ((16, 20, 4), 2, 4, "YXS"),
        ((2, 16, 20), 2, 2, "CYX"),
        ((4, 2, 16, 20), 2, 2, "ZCYX"),
        ((2, 7, 16, 20), 3, 2, "CZYX"),
    ],
)
def test_default_axes(shape, dims, in_channels, expected):
    assert default_axes(shape, dims, in_channels) == expected


def test_default_axes_2d_image_2d_model(net):
    image = _image((20, 21))
    result, axes = predict_image(net, image)
    assert axes == "YX"
    np.testing.assert_array_equal(result, _argmax(predict_tiled(net, image)))


def test_default_axes_guessed_for_stack(net):
    image = _image((2, 20, 21))
    result, axes = predict_image(net, image)
    assert axes == "ZYX"
    np.testing.assert_array_equal(result, predict_image(net, image, axes="ZYX")[0])


def test_default_axes_too_few_axes():
    with pytest.raises(ValueError, match="fewer axes"):
        default_axes((16, 20), 3, 1)


# ---------------------------------------------------------------------------------------------- output kinds
def test_output_kinds_are_listed():
    assert set(OUTPUT_KINDS) == {"labels", "instances", "probabilities"}


def test_labels_use_label_values_of_a_sparse_model(net):
    image = _image((40, 44))
    net.metadata = {"label_values": [1, 2], "sparse": True}
    labels, _ = predict_image(net, image, axes="YX")
    assert labels.dtype.kind == "u"
    assert set(np.unique(labels)) <= {1, 2}
    np.testing.assert_array_equal(labels, _argmax(predict_tiled(net, image)) + 1)


def test_labels_default_values_are_class_indices():
    net = make_net(depth=2, wf=1, n_classes=4)
    image = _image((40, 44))
    labels, _ = predict_image(net, image, axes="YX")
    assert labels.dtype == np.uint8
    assert set(np.unique(labels)) <= {0, 1, 2, 3}
    np.testing.assert_array_equal(labels, _argmax(predict_tiled(net, image)))


def test_large_label_values_get_a_wide_dtype(net):
    net.metadata = {"label_values": [7, 300]}
    labels, _ = predict_image(net, _image((30, 31)), axes="YX")
    assert labels.dtype == np.uint16
    assert set(np.unique(labels)) <= {7, 300}


def test_single_class_model_labels():
    net = make_net(depth=2, wf=1, n_classes=1)
    image = _image((30, 31))
    logits = predict_tiled(net, image)
    assert (logits[0] > 0).any() and (logits[0] <= 0).any()
    labels, _ = predict_image(net, image, axes="YX")
    np.testing.assert_array_equal(labels, (logits[0] > 0).astype(labels.dtype))


def test_single_class_model_probabilities_are_a_sigmoid():
    net = make_net(depth=2, wf=1, n_classes=1)
    image = _image((30, 31))
    probs, axes = predict_image(net, image, axes="YX", output="probabilities")
    assert axes == "CYX"
    np.testing.assert_allclose(probs[0], 1 / (1 + np.exp(-predict_tiled(net, image)[0])), **TOL)


@pytest.mark.parametrize(("n_classes", "shape", "axes"), [(2, (30, 31), "YX"), (4, (2, 30, 31), "ZYX")])
def test_probabilities_sum_to_one(n_classes, shape, axes):
    net = make_net(depth=2, wf=1, n_classes=n_classes)
    probs, out_axes = predict_image(net, _image(shape), axes=axes, output="probabilities")
    assert "C" in out_axes
    class_axis = out_axes.index("C")
    assert probs.shape[class_axis] == n_classes
    assert probs.dtype == np.float32
    assert probs.min() >= 0 and probs.max() <= 1
    np.testing.assert_allclose(probs.sum(axis=class_axis), 1.0, atol=1e-5)


def test_instances_of_a_semantic_model_have_unique_ids_across_planes_without_linking(net):
    image = _image((3, 40, 44))
    instances, axes = predict_image(net, image, axes="ZYX", output="instances", stitch_threshold=0)
    assert axes == "ZYX"
    assert instances.shape == image.shape
    assert instances.dtype.kind == "u"
    ids = [set(np.unique(plane)) - {0} for plane in instances]
    assert all(ids), "a random net gives objects in every plane"
    for a in range(3):
        for b in range(a + 1, 3):
            assert not ids[a] & ids[b], f"planes {a} and {b} share instance ids"


def test_instances_of_a_sparse_model_have_background_zero(net):
    net.metadata = {"label_values": [1, 2], "sparse": True}
    image = _image((40, 44))
    labels, _ = predict_image(net, image, axes="YX")
    instances, _ = predict_image(net, image, axes="YX", output="instances")
    assert instances.dtype.kind == "u"
    np.testing.assert_array_equal(instances > 0, labels == 2)


def test_instances_of_an_instance_model_have_unique_ids_across_planes_without_linking():
    net = make_net(depth=2, wf=1, n_classes=3)
    net.metadata = {"task": "instances"}
    image = _image((3, 48, 50))
    instances, axes = predict_image(net, image, axes="TYX", output="instances", stitch_threshold=0)
    assert axes == "TYX"
    assert instances.dtype.kind == "u"
    ids = [set(np.unique(plane)) - {0} for plane in instances]
    for a in range(3):
        for b in range(a + 1, 3):
            assert not ids[a] & ids[b]
    single = [predict_image(net, image[t], axes="YX", output="instances")[0] for t in range(3)]
    for t in range(3):
        # same objects as the plane alone, only renumbered
        np.testing.assert_array_equal(instances[t] > 0, single[t] > 0)
        assert len(ids[t]) == len(set(np.unique(single[t])) - {0})


def test_instances_of_a_stack_are_linked_into_objects_that_span_planes(net):
    """A 2D model on a Z stack gives 3D objects: the same object keeps its id from plane to plane."""
    plane = _image((40, 44))
    stack = np.stack([plane, plane, plane])
    linked, _ = predict_image(net, stack, axes="ZYX", output="instances")
    single, _ = predict_image(net, plane, axes="YX", output="instances")
    for z in range(3):
        np.testing.assert_array_equal(linked[z], single)  # identical planes: identical ids
    separate, _ = predict_image(net, stack, axes="ZYX", output="instances", stitch_threshold=0)
    assert separate.max() == 3 * single.max()


# ---------------------------------------------------------------------------------------------- normalisation
def test_normalization_from_metadata_is_applied(net):
    net.metadata = {"normalization": PercentileNormalization().to_dict()}
    image = np.random.default_rng(3).integers(0, 200, size=(40, 44)).astype(np.float32)
    labels, _ = predict_image(net, image, axes="YX")
    np.testing.assert_array_equal(predict_image(net, image * 10 + 5, axes="YX")[0], labels)
    probs, _ = predict_image(net, image, axes="YX", output="probabilities")
    expected = _probs(predict_tiled(net, PercentileNormalization().apply(image)))
    np.testing.assert_allclose(probs, expected, **TOL)


def test_without_normalization_raw_intensities_are_used(net):
    image = np.random.default_rng(3).integers(0, 200, size=(40, 44)).astype(np.uint16)
    probs, _ = predict_image(net, image, axes="YX", output="probabilities")
    np.testing.assert_allclose(probs, _probs(predict_tiled(net, image.astype(np.float32))), rtol=1e-4, atol=1e-3)


def test_normalization_uses_whole_stack_statistics(net):
    net.metadata = {"normalization": PercentileNormalization(low=2, high=98).to_dict()}
    image = np.random.default_rng(3).integers(0, 1000, size=(3, 30, 33)).astype(np.uint16)
    probs, _ = predict_image(net, image, axes="ZYX", output="probabilities")
    normalised = PercentileNormalization(low=2, high=98).apply(image)
    for z in range(3):
        np.testing.assert_allclose(probs[z], _probs(predict_tiled(net, normalised[z])), **TOL)


# ---------------------------------------------------------------------------------------------- progress, NaN, cancel
def test_progress_counts_over_all_planes(net):
    calls = []
    predict_image(net, _image((3, 30, 41)), axes="ZYX", tile_shape=20, batch_size=2,
                  progress=lambda done, total: calls.append((done, total)))
    assert calls
    totals = {total for _, total in calls}
    assert len(totals) == 1
    (total,) = totals
    assert total % 3 == 0 and total > 3
    done = [d for d, _ in calls]
    assert done == sorted(done)
    assert len(set(done)) == len(done)
    assert done[-1] == total
    assert done[0] >= 1


def test_tile_shape_does_not_change_the_result(net):
    image = _image((2, 50, 47))
    small, _ = predict_image(net, image, axes="ZYX", output="probabilities", tile_shape=20)
    large, _ = predict_image(net, image, axes="ZYX", output="probabilities", tile_shape=200)
    np.testing.assert_allclose(small, large, **TOL)


@pytest.mark.parametrize("normalised", [False, True])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_is_rejected(net, normalised, bad):
    if normalised:
        net.metadata = {"normalization": PercentileNormalization().to_dict()}
    image = _image((2, 30, 31))
    image[1, 5, 7] = bad
    with pytest.raises(ValueError, match="NaN"):
        predict_image(net, image, axes="ZYX")


def test_cancel(net):
    with pytest.raises(Cancelled):
        predict_image(net, _image((2, 30, 31)), axes="ZYX", cancel=lambda: True)


def test_training_and_prediction_see_the_same_numbers_for_a_plane():
    """The tiles of a plane predicted from a stack read exactly what training normalised for that plane."""
    from napari_tiled_unet.inference import image_normalizer
    from napari_tiled_unet.normalization import PercentileNormalization
    from napari_tiled_unet.training.data import pairs_for_model

    rng = np.random.default_rng(5)
    stack = rng.gamma(2.0, 40.0, size=(3, 40, 36)).astype(np.float32)
    stack[1] *= 3.0
    labels = np.zeros(stack.shape, int)
    labels[1, 5:15, 5:15] = 1
    trained_plane = pairs_for_model(stack, labels, 2, PercentileNormalization())[0][0]
    net = UNet(UNetConfig(depth=2, wf=1)).eval()
    net.metadata = {"normalization": PercentileNormalization().to_dict()}
    seen = image_normalizer(net, stack, "ZYX")(stack[None, 1])
    np.testing.assert_array_equal(seen, trained_plane)


@pytest.mark.parametrize("output", ["labels", "probabilities", "instances"])
def test_preview_of_a_plane_equals_that_plane_of_the_whole_stack(output):
    from napari_tiled_unet.inference import image_normalizer
    from napari_tiled_unet.normalization import PercentileNormalization

    rng = np.random.default_rng(6)
    stack = rng.gamma(2.0, 40.0, size=(4, 48, 40)).astype(np.float32)
    stack[2] *= 0.1
    torch.manual_seed(0)
    net = UNet(UNetConfig(depth=2, wf=2, n_classes=2)).eval()
    net.metadata = {"normalization": PercentileNormalization().to_dict(), "label_values": [0, 1]}
    whole, _axes = predict_image(net, stack, "ZYX", output=output)
    normalizer = image_normalizer(net, stack, "ZYX")
    for z in range(stack.shape[0]):
        preview, _ = predict_image(net, stack[z:z + 1], "ZYX", output=output, normalizer=normalizer)
        if output == "instances":  # ids are renumbered; the objects are the same
            np.testing.assert_array_equal(preview[0] > 0, whole[z] > 0)
        else:
            np.testing.assert_array_equal(preview[0], whole[z])


def test_every_prediction_path_refuses_a_net_in_train_mode():
    net = UNet(UNetConfig(depth=2, wf=1)).train()
    image = np.zeros((40, 40), np.float32)
    with pytest.raises(ValueError, match="train mode"):
        predict_image(net, image, "YX")
    import dask.array as da

    with pytest.raises(ValueError, match="train mode"):
        predict_image(net, da.from_array(image), "YX")


@pytest.mark.parametrize("output", ["labels", "probabilities", "instances"])
def test_test_time_augmentation_averages_the_eight_exact_passes(output):
    from napari_tiled_unet.test_time_augmentation import TRANSFORMS, forward, inverse

    torch.manual_seed(1)
    net = UNet(UNetConfig(depth=2, wf=2, n_classes=3)).eval()
    net.metadata = {"task": "instances", "label_values": [0, 1, 1]}
    image = _image((45, 38))  # not square: half of the transforms swap Y and X
    calls = []
    result, _ = predict_image(net, image, "YX", output=output, tta=True, tile_shape=40,
                              progress=lambda d, t: calls.append((d, t)))
    expected = np.mean([inverse(predict_tiled(net, np.ascontiguousarray(forward(image, t))), t) for t in TRANSFORMS],
                       axis=0)
    if output == "probabilities":
        np.testing.assert_allclose(result, _probs(expected), rtol=1e-4, atol=1e-5)
    elif output == "labels":
        np.testing.assert_array_equal(result, np.array([0, 1, 1])[np.argmax(expected, axis=0)])
    assert result.shape[-2:] == image.shape
    assert calls[-1][0] == calls[-1][1] and [c[0] for c in calls] == sorted(c[0] for c in calls)


def test_test_time_augmentation_follows_the_model_s_recommendation_for_one_2d_image():
    from napari_tiled_unet.test_time_augmentation import tta_applies

    torch.manual_seed(1)
    net = UNet(UNetConfig(depth=2, wf=2, n_classes=3)).eval()
    net.metadata = {"task": "semantic", "label_values": [0, 1, 2]}
    assert not tta_applies(None, net, 0, lazy=False)
    net.metadata["prediction"] = {"tta": True}
    assert tta_applies(None, net, 0, lazy=False)
    assert not tta_applies(None, net, 1, lazy=False) and not tta_applies(None, net, 0, lazy=True)
    assert not tta_applies(False, net, 0, lazy=False) and tta_applies(True, UNet(UNetConfig(depth=2)), 2, lazy=True)
    image = _image((45, 38))
    default, _ = predict_image(net, image, "YX", output="probabilities")
    np.testing.assert_array_equal(default, predict_image(net, image, "YX", output="probabilities", tta=True)[0])
    assert not np.array_equal(default, predict_image(net, image, "YX", output="probabilities", tta=False)[0])


def test_linked_z_planes_use_the_settings_the_model_stores_for_them(monkeypatch):
    """Seeds cut in one plane and not the next leave fragments: linked Z planes use settings tuned without cuts."""
    import napari_tiled_unet.inference as inference
    from napari_tiled_unet.instance_output import LINKED_PLANES_KEY, instances_of
    from napari_tiled_unet.postprocess import InstanceSettings

    net = make_net(depth=2, wf=1, n_classes=3)
    single, linked = InstanceSettings(seed_threshold=0.2), InstanceSettings(seed_threshold=0.45, split_depth=0.0)
    net.metadata = {"task": "instances", "postprocess": single.to_dict(), LINKED_PLANES_KEY: linked.to_dict()}
    seen = []

    def recording(net, logits, settings=None):
        seen.append(settings)
        return instances_of(net, logits, settings)

    monkeypatch.setattr(inference, "instances_of", recording)
    stack = _image((2, 40, 44))

    def used(**kwargs):
        seen.clear()
        predict_image(net, stack, output="instances", **kwargs)
        return set(seen)

    assert used(axes="ZYX") == {linked}
    assert used(axes="ZYX", stitch_threshold=0) == {None}, "planes on their own: the model's single-image settings"
    assert used(axes="TYX") == {None}, "time points are single images"
    given = InstanceSettings(seed_threshold=0.3)
    assert used(axes="ZYX", instance_settings=given) == {given}, "settings given win"
    del net.metadata[LINKED_PLANES_KEY]
    assert used(axes="ZYX") == {single}, "a model without them: its settings for single images"


def test_a_3d_semantic_model_splits_its_objects_with_the_voxel_size_it_was_trained_with():
    from napari_tiled_unet.instance_output import instances_of

    net = make_net(dims=3, depth=2, wf=1, n_classes=2)
    z, y, x = np.ogrid[:14, :30, :30]
    rest = ((y - 15) * 0.5) ** 2 + ((x - 15) * 0.5) ** 2
    stacked = ((z * 2.0 - 6) ** 2 + rest < 16) | ((z * 2.0 - 13) ** 2 + rest < 16)  # two touching in Z
    logits = np.stack([np.where(stacked, -1.0, 1.0), np.where(stacked, 1.0, -1.0)]).astype(np.float32)
    net.metadata = {"task": "semantic", "label_values": [0, 1]}
    assert instances_of(net, logits).max() == 1, "no voxel size: measured in voxels, one object"
    net.metadata = {"task": "semantic", "label_values": [0, 1], "voxel_size": [2.0, 0.5, 0.5]}
    assert instances_of(net, logits).max() == 2
