import threading

import dask.array as da
import numpy as np
import pytest
import zarr
from unet_helpers import make_net

from napari_tiled_unet._napari import jobs
from napari_tiled_unet._napari.jobs import PredictionJob, run_prediction
from napari_tiled_unet.inference import predict_image
from napari_tiled_unet.normalization import PercentileNormalization


def lazy_net():
    net = make_net(depth=3, wf=1)
    net.metadata = {"normalization": PercentileNormalization().to_dict(), "label_values": [0, 1]}
    return net


@pytest.mark.parametrize("kind", ["dask", "zarr"])
def test_lazy_layer_predicted_block_by_block_with_progress(kind, tmp_path):
    net = lazy_net()
    image = (np.random.default_rng(0).random((3, 300, 280)) * 500).astype(np.uint16)
    if kind == "dask":
        source = da.from_array(image, chunks=(1, 100, 100))
    else:
        source = zarr.open_array(str(tmp_path / "img.zarr"), mode="w", shape=image.shape, chunks=(1, 100, 100),
                                 dtype=image.dtype)
        source[:] = image
    events = []
    outcome = run_prediction(PredictionJob(net=net, image=source, axes="ZYX", output="labels", tile_shape=124),
                             events.append)
    assert outcome.error is None and not outcome.cancelled
    result, axes = outcome.result
    assert isinstance(result, np.ndarray) and axes == "ZYX"
    expected, _ = predict_image(net, image, axes="ZYX", output="labels", tile_shape=124)
    np.testing.assert_array_equal(result, expected)
    assert events and events[-1][0] == events[-1][1]


def test_huge_lazy_result_stays_lazy_and_cancel_works(monkeypatch):
    net = lazy_net()
    source = da.from_array((np.random.default_rng(1).random((260, 250)) * 500).astype(np.uint16), chunks=100)
    monkeypatch.setattr(jobs, "LAZY_RESULT_BYTES", 10)
    outcome = run_prediction(PredictionJob(net=net, image=source, axes="YX", output="labels"), lambda e: None)
    assert isinstance(outcome.result[0], da.Array)
    monkeypatch.setattr(jobs, "LAZY_RESULT_BYTES", 1 << 30)
    cancel = threading.Event()
    cancel.set()
    outcome = run_prediction(PredictionJob(net=net, image=source, axes="YX", output="labels", cancel=cancel),
                             lambda e: None)
    assert outcome.cancelled
