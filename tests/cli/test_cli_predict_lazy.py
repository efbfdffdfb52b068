import numpy as np
import pytest
import tifffile
import zarr
from unet_helpers import make_net

from napari_tiled_unet import save_model
from napari_tiled_unet.cli.main import main
from napari_tiled_unet.normalization import PercentileNormalization


@pytest.fixture
def model_and_image(tmp_path):
    net = make_net(depth=3, wf=1, n_classes=3)
    net.metadata = {"normalization": PercentileNormalization().to_dict(), "task": "semantic",
                    "label_values": [0, 1, 2]}
    model = save_model(net, tmp_path / "m.safetensors")
    image = (np.random.default_rng(0).random((1300, 1100)) * 3000).astype(np.uint16)
    tifffile.imwrite(tmp_path / "plain.tif", image)
    tifffile.imwrite(tmp_path / "tiled.tif", image, compression="zlib", tile=(256, 256))
    return model, tmp_path


def run(capsys, *args):
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("name", ["plain.tif", "tiled.tif"])
def test_lazy_prediction_equals_in_memory(model_and_image, capsys, name):
    model, folder = model_and_image
    code, err = run(capsys, "predict", model, folder / name, "--out", folder / "mem.tif", "--quiet", "--tile-size",
                    "124")
    assert code == 0, err
    code, err = run(capsys, "predict", model, folder / name, "--out", folder / "lazy.tif", "--lazy", "--quiet",
                    "--tile-size", "124")
    assert code == 0, err
    np.testing.assert_array_equal(tifffile.imread(folder / "lazy.tif"), tifffile.imread(folder / "mem.tif"))


def test_zarr_output(model_and_image, capsys):
    model, folder = model_and_image
    code, err = run(capsys, "predict", model, folder / "tiled.tif", "--out", folder / "result.zarr", "--quiet",
                    "--output", "probabilities")
    assert code == 0, err
    group = zarr.open_group(str(folder / "result.zarr"), mode="r")
    store = group["0"]  # an OME-Zarr image: the array is its first (only) resolution level
    assert store.shape == (3, 1300, 1100) and store.dtype == np.float32 and group.attrs["axes"] == "CYX"
    assert [a["type"] for a in group.attrs["multiscales"][0]["axes"]] == ["channel", "space", "space"]
    np.testing.assert_allclose(np.asarray(store[:]).sum(axis=0), 1.0, rtol=1e-5)
    code, err = run(capsys, "predict", model, folder / "tiled.tif", "--out", folder / "result.zarr", "--quiet")
    assert code == 2 and "exists" in err
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.slow
def test_distributed_scheduler(model_and_image, capsys):
    distributed = pytest.importorskip("distributed")
    model, folder = model_and_image
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None) as cl:
        code, err = run(capsys, "predict", model, folder / "tiled.tif", "--out", folder / "dist.tif", "--scheduler",
                        cl.scheduler_address, "--quiet", "--tile-size", "124")
    assert code == 0, err
    code, err = run(capsys, "predict", model, folder / "tiled.tif", "--out", folder / "mem.tif", "--quiet",
                    "--tile-size", "124")
    np.testing.assert_array_equal(tifffile.imread(folder / "dist.tif"), tifffile.imread(folder / "mem.tif"))


def test_unreachable_scheduler_exits_2(model_and_image, capsys):
    model, folder = model_and_image
    code, err = run(capsys, "predict", model, folder / "plain.tif", "--out", folder / "x.tif", "--scheduler",
                    "tcp://127.0.0.1:9", "--quiet")
    assert code == 2 and "scheduler" in err and "Traceback" not in err
    assert not (folder / "x.tif").exists()
