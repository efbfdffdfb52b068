import json
import pickle
import struct

import numpy as np
import pytest
import torch
from unet_helpers import make_net

from napari_tiled_unet import ModelFileError, UNetConfig, load_model, predict_tiled, save_model
from napari_tiled_unet.model_file import METADATA_KEY, read_model_metadata


def test_round_trip_keeps_weights_config_and_metadata(tmp_path):
    net = make_net(depth=3, wf=1, batch_norm=True, n_classes=3)
    meta = {"task": "instances", "class_names": ["background", "interior", "boundary"], "label_values": [0, 1, 2],
            "normalization": {"method": "percentile", "low": 1.0, "high": 99.8}, "training": {"epochs": 3},
            "postprocess_linked_planes": {"seed_threshold": 0.3, "foreground_threshold": 0.6, "min_size": 9,
                                          "split_depth": 0.0}}
    path = save_model(net, tmp_path / "model", metadata=meta)
    assert path.suffix == ".safetensors"
    loaded = load_model(path)
    assert loaded.config == net.config and not loaded.training
    for key, value in meta.items():
        assert loaded.metadata[key] == value
    for (name, a), (_, b) in zip(net.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name
    image = np.random.default_rng(0).random((40, 50)).astype(np.float32)
    np.testing.assert_array_equal(predict_tiled(net, image), predict_tiled(loaded, image))
    assert read_model_metadata(path)["format_version"] == 2


def test_save_is_atomic_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    net = make_net(depth=2, wf=0)
    path = save_model(net, tmp_path / "m.safetensors")
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("napari_tiled_unet.atomic.os.replace", boom)
    with pytest.raises(OSError):
        save_model(make_net(seed=1, depth=2, wf=0), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]


def test_save_rejects_bad_metadata(tmp_path):
    net = make_net(depth=2, wf=0)
    with pytest.raises(ValueError, match="unknown model metadata keys"):
        save_model(net, tmp_path / "m.safetensors", metadata={"colour": "red"})
    with pytest.raises(ValueError, match="task"):
        save_model(net, tmp_path / "m.safetensors", metadata={"task": "painting"})
    with pytest.raises(ValueError, match="2 classes"):
        save_model(net, tmp_path / "m.safetensors", metadata={"class_names": ["a", "b", "c"]})
    with pytest.raises(ValueError, match=r"folder .* does not exist"):
        save_model(net, tmp_path / "missing" / "m.safetensors")
    with pytest.raises(ValueError, match="split_depth"):
        save_model(net, tmp_path / "m.safetensors", metadata={"postprocess_linked_planes": {"split_depth": -1}})
    assert list(tmp_path.iterdir()) == []


class Boom:
    def __reduce__(self):
        return (exec, ("import pathlib; pathlib.Path('PWNED').write_text('x')",))


def test_pickles_and_torch_checkpoints_are_refused_without_executing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pkl = tmp_path / "evil.safetensors"
    pkl.write_bytes(pickle.dumps(Boom()))
    with pytest.raises(ModelFileError, match="pickle"):
        load_model(pkl)
    pt = tmp_path / "evil.pt"
    torch.save({"payload": Boom()}, pt)
    with pytest.raises(ModelFileError, match="zip archive"):
        load_model(pt)
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize("damage", ["truncate", "empty", "garbage", "huge_header"])
def test_corrupt_files_get_a_clear_error(tmp_path, damage):
    path = save_model(make_net(depth=2, wf=0), tmp_path / "m.safetensors")
    raw = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "garbage":
        path.write_bytes(b"\x00" * 100)
    else:
        path.write_bytes(struct.pack("<Q", 10**12) + raw[8:])
    with pytest.raises(ModelFileError, match=str(path.name)):
        load_model(path)


def _rewrite_metadata(path, edit):
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    document = json.loads(header["__metadata__"][METADATA_KEY])
    edit(document, header)
    header["__metadata__"][METADATA_KEY] = json.dumps(document)
    new = json.dumps(header).encode()
    new += b" " * ((8 - len(new) % 8) % 8)
    # tensor offsets are relative to the end of the header, so the data can stay as it is
    path.write_bytes(struct.pack("<Q", len(new)) + new + raw[8 + n :])


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda d, h: d.update(format_version=99), "upgrade"),
        (lambda d, h: d.update(format="something-else"), "not a napari-tiled-unet model"),
        (lambda d, h: d["config"].update(depth=40), "depth=40"),
        (lambda d, h: d["config"].update(wf=3), "does not match|has shape"),
        (lambda d, h: d.update(task=7), "task"),
        (lambda d, h: d.update(postprocess_linked_planes={"seed_threshold": 3.0}), "seed_threshold"),
    ],
)
def test_inconsistent_metadata_is_refused(tmp_path, edit, needle):
    path = save_model(make_net(depth=2, wf=1), tmp_path / "m.safetensors")
    _rewrite_metadata(path, edit)
    with pytest.raises(ModelFileError, match=needle):
        load_model(path)


def test_foreign_safetensors_and_missing_files(tmp_path):
    from safetensors.torch import save_file

    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, foreign)
    with pytest.raises(ModelFileError, match="not a napari-tiled-unet model"):
        load_model(foreign)
    with pytest.raises(ModelFileError, match="does not exist"):
        load_model(tmp_path / "nope.safetensors")
    with pytest.raises(ModelFileError, match="is a folder"):
        load_model(tmp_path)


def test_nan_weights_are_refused(tmp_path):
    net = make_net(depth=2, wf=0)
    with torch.no_grad():
        net.last.weight[0, 0] = float("nan")
    path = save_model(net, tmp_path / "nan.safetensors")
    with pytest.raises(ModelFileError, match="NaN"):
        load_model(path)


def test_config_round_trips_through_file(tmp_path):
    cfg = UNetConfig(in_channels=2, n_classes=4, depth=3, wf=1, padding="same", up_mode="upsample", dims=3,
                     dropout=0.25)
    net = make_net(**cfg.to_dict())
    assert load_model(save_model(net, tmp_path / "x.safetensors")).config == cfg
