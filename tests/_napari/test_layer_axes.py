"""Pure helpers: layer axes for a model, the plane at the cursor, transforms of the result."""

from __future__ import annotations

import numpy as np
import pytest

from napari_tiled_unet._napari.layer_axes import (
    axes_for_layer,
    current_plane,
    kept_axes,
    loop_axes,
    plane_slices,
    result_transforms,
)
from napari_tiled_unet._napari.predict_output import full_result, result_name


@pytest.mark.parametrize(
    ("shape", "rgb", "dims", "channels", "expected"),
    [
        ((512, 512), False, 2, 1, "YX"),
        ((10, 64, 64), False, 2, 1, "ZYX"),
        ((5, 10, 64, 64), False, 2, 1, "TZYX"),
        ((10, 64, 64), False, 3, 1, "ZYX"),
        ((5, 10, 64, 64), False, 3, 1, "TZYX"),
        ((64, 64, 3), True, 2, 3, "YXS"),
        ((4, 64, 64, 3), True, 2, 3, "ZYXS"),
        ((2, 64, 64), False, 2, 2, "CYX"),
        ((7, 2, 64, 64), False, 2, 2, "ZCYX"),
    ],
)
def test_axes_for_layer(shape, rgb, dims, channels, expected):
    assert axes_for_layer(shape, rgb, dims, channels) == expected


@pytest.mark.parametrize(
    ("shape", "rgb", "dims", "channels", "message"),
    [
        ((64, 64, 3), True, 2, 1, "RGB"),
        ((64, 64, 4), True, 2, 3, "RGBA"),
        ((64, 64), False, 2, 2, "no channel axis"),
        ((64,), False, 2, 1, "1 axes"),
        ((64, 64), False, 3, 1, "2D model"),
        ((64, 3), True, 2, 3, "fewer"),
    ],
)
def test_axes_for_layer_refuses_with_a_reason(shape, rgb, dims, channels, message):
    with pytest.raises(ValueError, match=message):
        axes_for_layer(shape, rgb, dims, channels)


def test_loop_and_kept_axes():
    assert loop_axes("TZYX", 2) == [0, 1]
    assert loop_axes("TZYX", 3) == [0]
    assert loop_axes("ZCYX", 2) == [0]
    assert loop_axes("YXS", 2) == []
    assert kept_axes("ZCYX") == [0, 2, 3]
    assert kept_axes("YXS") == [0, 1]


def test_current_plane_rounds_and_clips():
    assert current_plane("TZYX", (3, 5, 8, 8), 2, [1.4, 3.6, 0, 0]) == (1, 4)
    assert current_plane("TZYX", (3, 5, 8, 8), 2, [-2, 99, 0, 0]) == (0, 4)
    assert current_plane("YX", (8, 8), 2, [3, 3]) == ()
    assert current_plane("ZYXS", (4, 8, 8, 3), 2, [2.0, 1, 1]) == (2,)
    assert plane_slices("TZYX", 2, (1, 4)) == (slice(1, 2), slice(4, 5), slice(None), slice(None))


def test_full_result_writes_one_plane_into_zeros_and_then_into_the_previous_result():
    plane = np.full((1, 1, 4, 4), 7, dtype=np.uint8)
    first = full_result(plane, "TZYX", 2, (2, 3, 4, 4), "labels", (1, 2), None)
    assert first.shape == (2, 3, 4, 4) and first.dtype == np.uint8
    assert (first[1, 2] == 7).all() and first.sum() == 7 * 16
    second = full_result(plane + 1, "TZYX", 2, (2, 3, 4, 4), "labels", (0, 0), first)
    assert second is first and (second[0, 0] == 8).all() and (second[1, 2] == 7).all()


def test_full_result_moves_the_class_axis_of_probabilities_first():
    probabilities = np.random.default_rng(0).random((3, 2, 4, 4)).astype(np.float32)  # Z, C, Y, X
    assert full_result(probabilities, "ZYX", 2, (3, 4, 4), "probabilities", None, None).shape == (2, 3, 4, 4)
    one = full_result(probabilities[1:2], "ZYX", 2, (3, 4, 4), "probabilities", (1,), None)
    assert one.shape == (2, 3, 4, 4) and one[:, 0].sum() == 0 and one[:, 1].sum() > 0


def test_result_transforms_drop_the_channel_axis_and_add_a_class_axis():
    affine = np.eye(4)
    affine[1, 3] = 5.0
    kwargs = result_transforms([1.0, 2.0, 3.0], [10.0, 20.0, 30.0], np.eye(3), [0.0, 0.0, 0.0], affine,
                               keep=[0, 2], leading=1)
    assert kwargs["scale"] == [1.0, 1.0, 3.0]
    assert kwargs["translate"] == [0.0, 10.0, 30.0]
    assert "rotate" not in kwargs and "shear" not in kwargs
    assert kwargs["affine"].shape == (4, 4)  # class axis, Z and X plus the homogeneous row
    plain = result_transforms([0.5, 0.5], [0, 0], None, None, None, keep=[0, 1])
    assert set(plain) == {"scale", "translate"}


def test_result_transforms_keep_a_rotation():
    angle = np.deg2rad(30)
    rotate = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    kwargs = result_transforms([1, 1], [0, 0], rotate, None, None, keep=[0, 1])
    np.testing.assert_allclose(kwargs["rotate"], rotate)


def test_result_name():
    assert result_name("nuclei 2D", "labels") == "nuclei 2D [labels]"
