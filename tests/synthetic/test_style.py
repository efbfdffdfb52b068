import pytest

from napari_tiled_unet.synthetic import NucleiStyle, StyleRanges


def test_defaults_are_valid_and_serialisable():
    style = NucleiStyle()
    assert style.ndim == 2
    data = style.to_dict()
    assert data["spacing"] == [1.0, 1.0]
    assert NucleiStyle(**{**data, "spacing": tuple(data["spacing"])}) == style
    assert NucleiStyle(spacing=(2.5, 1, 1)).ndim == 3
    assert style.replace(radius=20.0).radius == 20.0


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"spacing": (1.0,)}, "spacing"),
        ({"spacing": (0.0, 1.0)}, "spacing"),
        ({"spacing": "1,1"}, "spacing"),
        ({"radius": -3.0}, "radius"),
        ({"coverage": float("nan")}, "coverage"),
        ({"dim_level": True}, "dim_level"),
        ({"bits": 12}, "bits"),
        ({"min_radius": 30.0, "max_radius": 10.0}, "min_radius"),
        ({"bits": 8, "offset": 100.0, "target": 200.0}, "8-bit"),
    ],
)
def test_bad_values_are_named(changes, match):
    with pytest.raises(ValueError, match=match):
        NucleiStyle(**changes)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"radius": (10.0, 4.0)}, "radius"),
        ({"radius": 10.0}, "radius"),
        ({"photons": (0.0, 10.0)}, "photons"),
        ({"share_16bit": 1.5}, "share_16bit"),
    ],
)
def test_bad_ranges_are_named(changes, match):
    with pytest.raises(ValueError, match=match):
        StyleRanges(**changes)
    assert StyleRanges().to_dict()["radius"] == [4.0, 40.0]
