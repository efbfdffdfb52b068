"""Large objects predicted on a shrunk image: the factor, the scaling both ways, and the prediction with it."""

from __future__ import annotations

import math

import dask.array as da
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from unet_helpers import MetadataNet as Net
from unet_helpers import disks, large_nuclei

from napari_tiled_unet.builtin_models import resolve_model
from napari_tiled_unet.inference import image_normalizer, predict_image
from napari_tiled_unet.model_file import load_model
from napari_tiled_unet.object_scale import (
    AUTO,
    auto_factor,
    check_rescale,
    largest_radius,
    median_radius,
    resample_to,
    rescale_applies,
    rescale_in_words,
    scale_back,
    scale_image,
    scaled_shape,
)
from napari_tiled_unet.training.metrics import match_instances


@pytest.mark.parametrize("value, expected", [(None, None), ("auto", "auto"), ("off", "off"), (0.5, 0.5),
                                             ("0.5", 0.5), (2, 2.0)])
def test_check_rescale_accepts_auto_off_and_factors(value, expected):
    assert check_rescale(value) == expected


@pytest.mark.parametrize("value", [0.0, -1.0, 9.0, math.nan, math.inf, "big", True, [0.5]])
def test_check_rescale_names_the_value_and_the_fix(value):
    with pytest.raises(ValueError, match=r"rescale=.* is invalid: use 'auto', 'off' or a factor from 0.05 to 8"):
        check_rescale(value)


def test_rescale_applies_to_the_instances_of_a_2d_model_in_memory_that_names_a_radius():
    named, silent = Net({"prediction": {"largest_radius": 11.0}}), Net({})
    assert largest_radius(named) == 11.0 and largest_radius(silent) is None
    assert largest_radius(Net({"prediction": {"largest_radius": "11"}})) is None  # not a number: ignored
    assert rescale_applies(None, named, False, "instances") == AUTO
    assert rescale_applies(None, named, False, "labels") is None  # auto measures objects
    assert rescale_applies(None, Net({"prediction": {"largest_radius": 11.0}}, dims=3), False, "instances") \
        is None  # a 3D model
    assert rescale_applies(None, named, True, "instances") == AUTO  # read region by region: instances in memory
    assert rescale_applies(0.5, named, True, "instances") == 0.5
    assert rescale_applies(None, named, True, "labels") is None
    assert rescale_applies(None, silent, False, "instances") is None
    assert rescale_applies("auto", silent, False, "instances") is None
    assert rescale_applies("off", named, False, "instances") is None
    assert rescale_applies(1.0, named, False, "instances") is None
    assert rescale_applies(0.5, silent, False, "probabilities") == 0.5
    assert rescale_applies(0.5, silent, False, "labels") == 0.5
    with pytest.raises(ValueError, match=r"rescale=0\.5 of labels needs the image in memory, not read region by "
                       "region: leave out the rescale factor, or predict instances"):
        rescale_applies(0.5, silent, True, "labels")
    with pytest.raises(ValueError, match=r"rescale=0\.5 needs a 2D model, not a 3D one"):
        rescale_applies(0.5, Net({}, dims=3), False, "labels")


def test_median_radius_and_the_auto_factor_only_shrink():
    labels = disks((200, 200), [(50, 50), (50, 150), (150, 100)], 20)
    assert median_radius(labels) == pytest.approx(20, abs=0.5)
    assert median_radius(np.zeros((9, 9), np.uint8)) is None
    zz, yy, xx = np.mgrid[:20, :20, :20]
    assert median_radius(((zz - 10) ** 2 + (yy - 10) ** 2 + (xx - 10) ** 2 <= 36).astype(np.uint8)) == \
        pytest.approx(6, abs=0.3)  # a ball in 3D
    assert auto_factor(median_radius(labels), 11.0) == pytest.approx(11 / median_radius(labels))
    assert auto_factor(median_radius(labels), 19.0) == 1.0  # within the tolerance: left as it is
    small = disks((200, 200), [(50, 50)], 5)
    assert auto_factor(median_radius(small), 11.0) == 1.0  # small objects are never enlarged
    # a stack of planes that number their objects each on their own: the median over every plane's objects
    stack = np.stack([labels, small, labels])
    assert median_radius(stack, spatial_ndim=2) == pytest.approx(20, abs=0.5)
    assert median_radius(np.stack([small] * 4 + [labels]), spatial_ndim=2) == pytest.approx(5, abs=0.5)
    assert auto_factor(median_radius(np.zeros((9, 9), np.uint8)), 11.0) == 1.0


@settings(max_examples=40, deadline=None)
@given(height=st.integers(32, 90), width=st.integers(32, 90), factor=st.floats(0.2, 3.0), seed=st.integers(0, 99))
def test_scaling_back_keeps_values_shape_and_position(height, width, factor, seed):
    """Labels come back at the image's shape with the values they had, and an object's centre stays put."""
    rng = np.random.default_rng(seed)
    small_shape = scaled_shape((height, width), factor)
    small = rng.integers(0, 5, small_shape).astype(np.uint16)
    back = scale_back(small, (height, width))
    assert back.shape == (height, width) and back.dtype == small.dtype
    assert set(np.unique(back)) <= set(np.unique(small))
    probabilities = np.stack([small, small + 1]).astype(np.float32)
    assert scale_back(probabilities, (height, width)).shape == (2, height, width)
    image = np.zeros((1, height, width), np.float32)
    cy, cx = height / 2 + rng.uniform(-2, 2), width / 2 + rng.uniform(-2, 2)
    yy, xx = np.mgrid[:height, :width]
    image[0] = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 3.0**2))
    scaled = scale_image(image, factor)
    assert scaled.shape == (1, *small_shape) and scaled.dtype == np.float32
    weights = scaled[0] / scaled[0].sum()
    sy, sx = np.mgrid[: small_shape[0], : small_shape[1]]
    zoom_y, zoom_x = small_shape[0] / height, small_shape[1] / width
    # pixel centres map as (i + 0.5) * zoom - 0.5: the blob's centre of mass moves with the pixel areas
    assert (weights * sy).sum() == pytest.approx((cy + 0.5) * zoom_y - 0.5, abs=0.35 + 0.1 / zoom_y)
    assert (weights * sx).sum() == pytest.approx((cx + 0.5) * zoom_x - 0.5, abs=0.35 + 0.1 / zoom_x)


def test_the_words_say_the_factor_and_why():
    assert rescale_in_words(0.5, None, None) == "predicted on the image scaled by 0.50 (--rescale 0.5)"
    words = rescale_in_words(0.42, 26.3, 11.0)
    assert "median radius of 26 px" in words and "11 px" in words and "--rescale off" in words


@pytest.fixture(scope="module")
def builtin_nuclei():
    return load_model(resolve_model("builtin:nuclei"))


def test_builtin_nuclei_predicts_large_nuclei_shrunk_by_default(builtin_nuclei):
    assert largest_radius(builtin_nuclei) == 11.0
    image, labels = large_nuclei()
    seen = []
    auto, _ = predict_image(builtin_nuclei, image, output="instances", tta=False,
                            on_rescale=lambda factor, radius: seen.append((factor, radius)))
    assert len(seen) == 1 and seen[0][0] < 0.6 and seen[0][1] > 15
    assert auto.shape == image.shape and match_instances(auto, labels)["f1"] == 1.0
    off, _ = predict_image(builtin_nuclei, image, output="instances", tta=False, rescale="off",
                           on_rescale=lambda *facts: seen.append(facts))
    assert len(seen) == 1 and off.shape == image.shape  # off: not called, predicted as it is
    fixed, _ = predict_image(builtin_nuclei, image, output="probabilities", tta=False, rescale=0.5,
                             on_rescale=lambda *facts: seen.append(facts))
    assert seen[-1] == (0.5, None) and fixed.shape[1:] == image.shape


def test_a_stack_is_shrunk_by_one_factor_and_each_plane_equals_it_predicted_alone_at_that_factor(builtin_nuclei):
    image, labels = large_nuclei()
    stack = np.stack([image, np.fliplr(image), image])
    seen = []
    predicted, axes = predict_image(builtin_nuclei, stack, axes="TYX", output="instances", tta=False,
                                    stitch_threshold=0.0, on_rescale=lambda *facts: seen.append(facts))
    assert axes == "TYX" and predicted.shape == stack.shape and len(seen) == 1 and seen[0][0] < 0.6
    factor = seen[0][0]
    normalizer = image_normalizer(builtin_nuclei, stack, axes="TYX")
    for t, truth in enumerate((labels, np.fliplr(labels), labels)):
        assert match_instances(predicted[t], truth)["f1"] == 1.0
        alone, _ = predict_image(builtin_nuclei, stack[t], output="instances", tta=False, rescale=factor,
                                 normalizer=normalizer)
        assert match_instances(predicted[t], alone, 0.99)["f1"] == 1.0  # the same objects, pixel for pixel
    probabilities, axes = predict_image(builtin_nuclei, stack[:2], axes="TYX", output="probabilities",
                                        rescale=0.5, normalizer=normalizer)
    second, _ = predict_image(builtin_nuclei, stack[1], output="probabilities", rescale=0.5, normalizer=normalizer,
                              tta=False)
    assert axes == "TCYX" and probabilities.shape[0] == 2 and probabilities.shape[2:] == image.shape
    np.testing.assert_allclose(probabilities[1], second, atol=1e-5)


def test_an_image_read_region_by_region_gives_the_instances_it_gives_in_memory(builtin_nuclei):
    """Its instances are found in memory anyway: large nuclei are shrunk by the same factor, to the same objects."""
    image, labels = large_nuclei()
    seen_lazy, seen_memory = [], []
    lazy, _ = predict_image(builtin_nuclei, da.from_array(image, chunks=100), output="instances",
                            on_rescale=lambda *facts: seen_lazy.append(facts))
    in_memory, _ = predict_image(builtin_nuclei, image, output="instances", tta=False,
                                 on_rescale=lambda *facts: seen_memory.append(facts))
    assert isinstance(lazy, np.ndarray) and len(seen_lazy) == 1 and seen_lazy[0][0] < 0.6
    assert seen_lazy[0] == pytest.approx(seen_memory[0])
    assert match_instances(lazy, in_memory, 0.99)["f1"] == 1.0 and match_instances(lazy, labels)["f1"] == 1.0
    with pytest.raises(ValueError, match="of labels needs the image in memory"):
        predict_image(builtin_nuclei, da.from_array(image, chunks=100), output="labels", rescale=0.5)


def test_small_nuclei_are_predicted_as_they_are(builtin_nuclei):
    image, labels = large_nuclei(radius=8, side=200)
    seen = []
    predicted, _ = predict_image(builtin_nuclei, image, output="instances", tta=False,
                                 on_rescale=lambda *facts: seen.append(facts))
    assert seen == [] and match_instances(predicted, labels)["f1"] >= 0.8


def test_resampled_maps_keep_shape_range_and_a_linear_ramp():
    ramp = np.linspace(0, 1, 20, dtype=np.float32)[None, None].repeat(10, axis=1)  # (1, 10, 20)
    up = resample_to(ramp, (25, 50))
    assert up.shape == (1, 25, 50) and up.dtype == np.float32
    assert up.min() >= 0 and up.max() <= 1 and np.all(np.diff(up[0], axis=1) >= -1e-6)
    np.testing.assert_allclose(up[0, 0], up[0, -1])  # constant along Y stays constant


def test_outlines_of_shrunk_objects_are_smooth(builtin_nuclei):
    """Objects are found on the resampled outputs: no staircase of the shrunk pixels along the outline."""
    image, labels = large_nuclei()
    predicted, _ = predict_image(builtin_nuclei, image, output="instances", tta=False)
    for value in range(1, 6):
        mask = labels == value
        best = np.bincount(predicted[mask]).argmax()
        found = predicted == best
        assert best > 0 and (found & mask).sum() / (found | mask).sum() > 0.93
