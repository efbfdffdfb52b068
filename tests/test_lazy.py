import dask
import dask.array as da
import numpy as np
import pytest
from unet_helpers import make_net

from napari_tiled_unet import predict_tiled
from napari_tiled_unet.array_views import NormalizedView, OffsetArray
from napari_tiled_unet.lazy import predict_dask
from napari_tiled_unet.normalization import PercentileNormalization
from napari_tiled_unet.prediction_request import PredictionRequest

TOL = dict(rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(("shape", "chunks", "block"), [((700, 530), (100, 130), 200), ((97, 301), (50, 50), None)])
def test_dask_result_equals_in_memory(shape, chunks, block):
    net = make_net(depth=3, wf=1)
    image = np.random.default_rng(0).random(shape).astype(np.float32)
    expected = predict_tiled(net, image, tile_shape=124)
    lazy = predict_dask(net, da.from_array(image, chunks=chunks), PredictionRequest(tile_shape=124), block_edge=block)
    assert isinstance(lazy, da.Array) and lazy.dtype == np.float32 and lazy.shape == (2, *shape)
    np.testing.assert_allclose(lazy.compute(scheduler="threads"), expected, **TOL)


def test_predict_tiled_returns_lazy_array_for_dask_input_3d():
    net = make_net(depth=2, wf=1, dims=3, in_channels=2)
    image = np.random.default_rng(1).random((2, 30, 41, 37)).astype(np.float32)
    lazy = predict_tiled(net, da.from_array(image, chunks=(2, 10, 20, 20)), tile_shape=32)
    assert isinstance(lazy, da.Array)
    np.testing.assert_allclose(lazy.compute(), predict_tiled(net, image, tile_shape=32), **TOL)


def test_model_enters_the_graph_once():
    net = make_net(depth=3, wf=1)
    lazy = predict_dask(net, da.zeros((900, 900), chunks=300), PredictionRequest(tile_shape=124), block_edge=200)
    keys = [k for k in dict(lazy.__dask_graph__()) if "napari-tiled-unet-model" in str(k)]
    assert len(keys) == 1 and lazy.numblocks[1] > 3


def test_normalised_on_the_fly_equals_normalised_in_memory():
    net = make_net(depth=3, wf=1)
    raw = (np.random.default_rng(2).random((300, 200)) * 4000).astype(np.uint16)
    norm = PercentileNormalization()
    normalizer = norm.for_image(raw[None])
    expected = predict_tiled(net, norm.apply(raw.astype(np.float32), stats=normalizer.stats), tile_shape=124)
    view = NormalizedView(raw[None], normalizer)
    np.testing.assert_allclose(predict_tiled(net, view, tile_shape=124), expected, **TOL)
    lazy = predict_dask(net, da.from_array(raw, chunks=64), PredictionRequest(tile_shape=124, normalizer=normalizer))
    np.testing.assert_allclose(lazy.compute(), expected, **TOL)


def test_offset_array_reads_in_image_coordinates_and_refuses_outside():
    data = np.arange(2 * 4 * 5).reshape(2, 4, 5)
    box = OffsetArray(data, (10, 20), (100, 100))
    assert box.shape == (2, 100, 100)
    np.testing.assert_array_equal(box[(slice(None), slice(11, 13), slice(20, 25))], data[:, 1:3, :])
    with pytest.raises(IndexError):
        box[(slice(None), slice(9, 12), slice(20, 22))]


@pytest.mark.slow
def test_runs_on_a_distributed_cluster():
    distributed = pytest.importorskip("distributed")
    net = make_net(depth=3, wf=1)
    image = np.random.default_rng(3).random((400, 380)).astype(np.float32)
    expected = predict_tiled(net, image, tile_shape=124)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client, dask.config.set(scheduler=client.get):
            lazy = predict_dask(net, da.from_array(image, chunks=100), PredictionRequest(tile_shape=124),
                                block_edge=160)
            result = client.compute(lazy).result()
    np.testing.assert_allclose(result, expected, **TOL)


def test_blockwise_in_memory_prediction_equals_whole_logits(monkeypatch):
    from napari_tiled_unet import tiling
    from napari_tiled_unet.inference import predict_image, softmax

    net = make_net(depth=3, wf=1, n_classes=3)
    net.metadata = {"normalization": PercentileNormalization().to_dict(), "label_values": [0, 1, 5]}
    raw = (np.random.default_rng(4).random((2, 333, 290)) * 1000).astype(np.uint16)
    monkeypatch.setitem(tiling.BLOCK_EDGE, 2, 100)
    calls = []
    probs, axes = predict_image(net, raw, axes="ZYX", output="probabilities", tile_shape=100,
                                progress=lambda d, t: calls.append((d, t)))
    labels, _ = predict_image(net, raw, axes="ZYX", output="labels", tile_shape=100)
    assert axes == "ZCYX" and probs.shape == (2, 3, 333, 290)
    assert [c[0] for c in calls] == list(range(1, calls[-1][1] + 1))
    norm = PercentileNormalization()
    stats = norm.for_image(raw[None]).stats
    for z in range(2):
        logits = predict_tiled(net, norm.apply(raw[z].astype(np.float32), stats=stats), tile_shape=100)
        np.testing.assert_allclose(probs[z], softmax(logits), rtol=1e-4, atol=1e-5)
        np.testing.assert_array_equal(labels[z], np.array([0, 1, 5])[np.argmax(logits, axis=0)])
    lazy, lazy_axes = predict_image(net, da.from_array(raw, chunks=(1, 128, 128)), axes="ZYX", output="labels",
                                    tile_shape=100)
    assert isinstance(lazy, da.Array) and lazy_axes == "ZYX"
    np.testing.assert_array_equal(lazy.compute(), labels)


def test_workers_can_move_the_net_to_their_own_device_once():
    from napari_tiled_unet import lazy as lazy_module

    net = make_net(depth=3, wf=1)
    image = np.random.default_rng(5).random((300, 260)).astype(np.float32)
    lazy_module._ON_DEVICE.clear()
    result = predict_dask(net, da.from_array(image, chunks=100), PredictionRequest(tile_shape=124), block_edge=100,
                          device="auto")
    np.testing.assert_allclose(result.compute(), predict_tiled(net, image, tile_shape=124), **TOL)
    assert len(lazy_module._ON_DEVICE) == 1
