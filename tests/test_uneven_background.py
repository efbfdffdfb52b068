"""A strongly uneven background flattened before the model: the field, the rule, and the prediction with it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from unet_helpers import MetadataNet as Net
from unet_helpers import nuclei_on, ramp

from napari_tiled_unet.builtin_models import resolve_model
from napari_tiled_unet.inference import predict_image, prepared_normalizer
from napari_tiled_unet.model_file import load_model
from napari_tiled_unet.training.metrics import match_instances
from napari_tiled_unet.uneven_background import (
    AUTO,
    ON,
    background_field,
    background_limit_of,
    background_variation,
    check_flatten,
    flatten_applies,
    flatten_in_words,
    flatten_planes,
    opening_size,
)


def test_the_field_follows_a_ramp_under_the_nuclei_and_a_flat_background_barely_varies():
    image, _ = nuclei_on(ramp((256, 256), 3000.0))
    field = background_field(image, 96)
    assert field.shape == image.shape and field.dtype == np.float32
    inner = (slice(48, -48), slice(48, -48))
    # the field is the ramp, not the nuclei: within a few percent of the ramp's height away from the borders
    assert np.abs(field - ramp((256, 256), 3000.0))[inner].max() < 0.1 * 3000
    assert background_variation(image, field) > 0.5
    flat, _ = nuclei_on(np.full((256, 256), 200.0))
    assert background_variation(flat, background_field(flat, 96)) < 0.05


def test_flattening_is_all_or_nothing_and_leaves_an_even_background_alone():
    steep, labels = nuclei_on(ramp((256, 256), 3000.0))
    even, _ = nuclei_on(np.full((256, 256), 200.0))
    same, variation, changed = flatten_planes(even[None], 0, 96, 0.3)
    assert same is not None and not changed and variation < 0.05
    np.testing.assert_array_equal(same[0], even)
    out, variation, changed = flatten_planes(steep[None], 0, 96, 0.3)
    assert changed and variation > 0.5 and out.shape == (1, 256, 256) and out.dtype == np.float32
    background = out[0][labels == 0]
    assert np.percentile(background, 98) - np.percentile(background, 2) < 0.25 * 1000  # the ramp is gone
    nuclei = out[0][labels > 0]
    assert np.median(nuclei) - np.median(background) == pytest.approx(1000, rel=0.15)  # the nuclei stay
    # a stack: one steep plane flattens every plane
    stack = np.stack([even, steep])[:, None]
    out, _, changed = flatten_planes(stack, 1, 96, 0.3)
    assert changed and out.shape == stack.shape
    assert not np.array_equal(out[0, 0], even)
    forced, _, changed = flatten_planes(even[None], 0, 96, None)  # "on": no limit
    assert changed and forced.shape == (1, 256, 256)


@settings(max_examples=40, deadline=None)
@given(height=st.integers(1, 90), width=st.integers(1, 90), size=st.integers(8, 200), level=st.floats(0, 1e4))
def test_any_size_gives_a_field_of_the_plane_and_a_constant_plane_is_not_changed(height, width, size, level):
    plane = np.full((height, width), level, np.float32)
    field = background_field(plane, size)
    assert field.shape == plane.shape and np.all(np.isfinite(field))
    np.testing.assert_allclose(field, level, rtol=1e-5, atol=1e-3)
    _, variation, changed = flatten_planes(plane[None], 0, size, 0.3)
    assert not changed and variation == pytest.approx(0, abs=1e-6)


def test_the_rule_and_its_errors():
    limited, silent = Net({"prediction": {"background_limit": 0.3}}), Net({})
    assert background_limit_of(limited.metadata) == 0.3 and background_limit_of(silent.metadata) is None
    assert background_limit_of({"prediction": {"background_limit": "0.3"}}) is None
    assert flatten_applies(None, limited, False) == AUTO
    assert flatten_applies("AUTO", limited, False) == AUTO
    assert flatten_applies(None, silent, False) is None  # nothing to compare with
    assert flatten_applies(None, limited, True) is None  # statistics of the image as it is were given
    assert flatten_applies(None, Net({"prediction": {"background_limit": 0.3}}, dims=3), False) is None
    assert flatten_applies("off", limited, False) is None
    assert flatten_applies("on", silent, False) == ON
    assert flatten_applies("on", silent, True) == ON  # a part, with the whole flattened image's statistics
    with pytest.raises(ValueError, match="flatten='on' needs a 2D model"):
        flatten_applies("on", Net({}, dims=3), False)
    with pytest.raises(ValueError, match=r"flatten='sometimes' is invalid: use 'auto' .*'on' or 'off'"):
        check_flatten("sometimes")
    assert opening_size(11.0) == 132 and opening_size(None) == 128 and opening_size(11.0, 0.5) == 264
    assert "more than the 30% the model was trained on" in flatten_in_words(0.74, 0.3)
    assert "--flatten on" in flatten_in_words(0.2, None)
    assert flatten_in_words(0.74, 0.3, flag=False) == ("background flattened (it varies by 74% of the image's "
                                                       "range, more than the 30% the model was trained on)")


@pytest.fixture(scope="module")
def builtin_nuclei():
    return load_model(resolve_model("builtin:nuclei"))


def test_builtin_nuclei_flattens_a_steep_background_and_leaves_an_even_one(builtin_nuclei):
    assert background_limit_of(builtin_nuclei.metadata) == 0.3
    steep, labels = nuclei_on(ramp((256, 256), 4000.0), contrast=800.0)
    seen = []
    auto, _ = predict_image(builtin_nuclei, steep, output="instances", tta=False,
                            on_flatten=lambda *facts: seen.append(facts))
    assert len(seen) == 1 and seen[0][0] > 0.5 and seen[0][1] == 0.3
    off, _ = predict_image(builtin_nuclei, steep, output="instances", tta=False, flatten="off")
    assert match_instances(auto, labels)["f1"] >= 0.95
    assert match_instances(auto, labels)["f1"] >= match_instances(off, labels)["f1"]
    even, labels = nuclei_on(np.full((256, 256), 200.0), contrast=800.0)
    seen.clear()
    auto, _ = predict_image(builtin_nuclei, even, output="instances", tta=False,
                            on_flatten=lambda *facts: seen.append(facts))
    off, _ = predict_image(builtin_nuclei, even, output="instances", tta=False, flatten="off")
    assert seen == [] and np.array_equal(auto, off)  # an even background: exactly as before


def test_a_plane_with_the_whole_stacks_preparation_equals_that_plane_of_the_whole_prediction(builtin_nuclei):
    steep, _ = nuclei_on(ramp((256, 256), 4000.0), contrast=800.0)
    even, labels = nuclei_on(np.full((256, 256), 200.0), contrast=800.0)
    movie = np.stack([steep, even])
    whole, _ = predict_image(builtin_nuclei, movie, axes="TYX", output="instances", stitch_threshold=0.0)
    normalizer, flattened = prepared_normalizer(builtin_nuclei, movie, axes="TYX")
    assert flattened  # the steep frame decides for the movie
    plane, _ = predict_image(builtin_nuclei, even, output="instances", tta=False, normalizer=normalizer,
                             flatten="on")
    np.testing.assert_array_equal(plane > 0, whole[1] > 0)  # the same objects, pixel for pixel (other ids)
    assert match_instances(plane, whole[1], 0.99)["f1"] == 1.0
    assert match_instances(plane, labels)["f1"] == 1.0
    assert prepared_normalizer(builtin_nuclei, even)[1] is False  # alone, the even frame is left as it is
    assert prepared_normalizer(builtin_nuclei, movie, axes="TYX", flatten="off")[1] is False


@pytest.mark.parametrize("chunks", [(100, 70), (256, 256), (33, 250)])
def test_a_lazy_stack_is_measured_and_flattened_as_in_memory(chunks):
    import dask.array as da

    steep, _ = nuclei_on(ramp((256, 256), 3000.0))
    even, _ = nuclei_on(np.full((256, 256), 200.0))
    stack = np.stack([steep, even])[:, None]  # (T, C, Y, X)
    lazy = da.from_array(stack, chunks=(1, 1, *chunks))
    in_memory, variation, changed = flatten_planes(stack, 1, 132, 0.3)
    out, lazy_variation, lazy_changed = flatten_planes(lazy, 1, 132, 0.3)
    assert changed and lazy_changed and hasattr(out, "dask") and out.shape == stack.shape
    assert lazy_variation == pytest.approx(variation, rel=1e-5)
    np.testing.assert_allclose(out.compute(), in_memory, rtol=1e-5, atol=1e-2)
    same, _, changed = flatten_planes(da.from_array(even[None], chunks=(1, *chunks)), 0, 132, 0.3)
    assert not changed and hasattr(same, "dask")  # an even lazy plane: left as it is, still lazy
