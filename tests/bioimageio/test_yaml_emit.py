"""The tiny YAML emitter: what it writes reads back identically with YAML 1.1 and 1.2 readers."""

import io

import pytest

from napari_tiled_unet.bioimageio.yaml_emit import dump_yaml

DOCUMENT = {
    "type": "model",
    "name": "a: tricky # name",
    "yes": "no",
    "numbers": [0, -40, 1.0, 1e-06, 2.5e20, 99.8],
    "flags": [True, False, None],
    "empty_list": [],
    "empty_map": {},
    "nested": [{"id": "x", "size": {"min": 44, "step": 4}}, [1, [2, 3]], {"text": "line one\nline \"two\" é"}],
    "long": list(range(40)),
}


def test_round_trip_with_pyyaml():
    yaml = pytest.importorskip("yaml")
    assert yaml.safe_load(dump_yaml(DOCUMENT)) == DOCUMENT


def test_round_trip_with_a_yaml_1_2_reader():
    ruyaml = pytest.importorskip("ruyaml")
    assert ruyaml.YAML(typ="safe").load(io.StringIO(dump_yaml(DOCUMENT))) == DOCUMENT


@pytest.mark.parametrize("bad", [{"x": float("nan")}, {"x": object()}, {1: "a"}])
def test_non_json_data_is_refused(bad):
    with pytest.raises((TypeError, ValueError)):
        dump_yaml(bad)
