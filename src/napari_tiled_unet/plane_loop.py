"""Predicting every plane of an arranged stack ``(*loop, C, *spatial)`` with one request, in memory or lazily.

Every plane is read through the same normaliser (the statistics of the whole stack), runs through the same
tile layout, and is turned into labels, instances or probabilities block by block where possible, so that
only one block of float32 logits exists at a time.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from napari_tiled_unet.array_views import NormalizedView
from napari_tiled_unet.class_outputs import (
    class_logits,
    labels_block,
    labels_dtype_of,
    labels_of,
    probabilities_of,
    softmax,
)
from napari_tiled_unet.model import UNet
from napari_tiled_unet.model_meta import class_to_label, n_class_channels
from napari_tiled_unet.prediction_request import PredictionRequest
from napari_tiled_unet.test_time_augmentation import TRANSFORMS, predict_with_tta
from napari_tiled_unet.tile_engine import plan_tiles, predict_with_retry
from napari_tiled_unet.tiling import blocks_of

InstanceMaker = Callable[[UNet, np.ndarray, Any], np.ndarray]
"""Turns a plane's logits into instance labels (see :mod:`napari_tiled_unet.instance_output`)."""


def plane_source(plane: Any, request: PredictionRequest) -> Any:
    """What the tiles of a plane read: the plane normalised on the fly with the whole stack's statistics."""
    return plane if request.normalizer is None else NormalizedView(plane, request.normalizer)


def predict_planes(net: UNet, arranged: Any, loop_shape: tuple[int, ...], request: PredictionRequest,
                   instances: InstanceMaker) -> np.ndarray:
    """In-memory prediction, plane by plane, with one progress count over all planes.

    Labels and probabilities are computed block by block (:func:`~napari_tiled_unet.tiling.blocks_of`);
    instances need the whole plane's logits.

    Returns
    -------
    numpy.ndarray
        ``(*loop_shape, *result)``: labels or instances ``(*spatial)``, probabilities ``(classes, *spatial)``.

    """
    spatial = tuple(int(s) for s in arranged.shape[len(loop_shape) + 1:])
    layout, batch = plan_tiles(net, spatial, request.tile_shape, request.batch_size)
    blocks = blocks_of(layout, net.config.dims)
    total = math.prod(loop_shape) * layout.n_tiles
    done = 0

    def counted(done_in_call: int, _total: int) -> None:
        if request.progress is not None:
            request.progress(done + done_in_call, total)

    if request.tta:
        return _predict_planes_tta(net, arranged, loop_shape, request.replace(batch_size=batch), instances)
    run = request.replace(batch_size=batch, progress=counted)
    output = request.output
    out_shape = (n_class_channels(net), *spatial) if output == "probabilities" else spatial
    out_dtype = np.float32 if output == "probabilities" else labels_dtype_of(net)
    results = []
    for index in np.ndindex(*loop_shape):
        source = plane_source(arranged[index], request)
        if output == "instances":
            logits = predict_with_retry(net, source, layout, run)
            results.append(instances(net, logits, request.instance_settings))
            done += layout.n_tiles
            continue
        plane = np.empty(out_shape, dtype=out_dtype)
        for origin, block in blocks.flat:
            logits = predict_with_retry(net, source, block, run, origin=origin)
            region = tuple(slice(o, o + a.size) for o, a in zip(origin, block.axes))
            plane[(Ellipsis, *region)] = probabilities_of(net, logits) if output == "probabilities" else \
                labels_of(net, logits)
            done += block.n_tiles
        results.append(plane)
    if output == "instances":
        dtype = np.result_type(*(r.dtype for r in results))
        results = [r.astype(dtype, copy=False) for r in results]
    return np.stack(results).reshape(*loop_shape, *results[0].shape)


def _output_of(net: UNet, logits: np.ndarray, request: PredictionRequest, instances: InstanceMaker) -> np.ndarray:
    if request.output == "probabilities":
        return probabilities_of(net, logits)
    if request.output == "labels":
        return labels_of(net, logits)
    return instances(net, logits, request.instance_settings)


def _predict_planes_tta(net: UNet, arranged: Any, loop_shape: tuple[int, ...], request: PredictionRequest,
                        instances: InstanceMaker) -> np.ndarray:
    """Every plane predicted whole, once per flip/rotation of its Y-X plane, logits averaged."""
    spatial = tuple(int(s) for s in arranged.shape[len(loop_shape) + 1:])
    turned = (*spatial[:-2], spatial[-1], spatial[-2])
    layouts = {shape: plan_tiles(net, shape, request.tile_shape, request.batch_size)[0] for shape in {spatial, turned}}
    total = math.prod(loop_shape) * sum(layouts[turned if k % 2 else spatial].n_tiles for k, _ in TRANSFORMS)
    done = 0

    def predict(plane: np.ndarray) -> np.ndarray:
        nonlocal done
        layout = layouts[tuple(plane.shape[1:])]
        before = done

        def progress(count: int, _total: int) -> None:
            if request.progress is not None:
                request.progress(before + count, total)

        logits = predict_with_retry(net, plane, layout, request.replace(progress=progress))
        done += layout.n_tiles
        return logits

    results = []
    for index in np.ndindex(*loop_shape):
        source = plane_source(arranged[index], request)
        plane = np.asarray(source[(slice(None),) * len(source.shape)])
        results.append(_output_of(net, predict_with_tta(predict, plane), request, instances))
    if request.output == "instances":
        dtype = np.result_type(*(r.dtype for r in results))
        results = [r.astype(dtype, copy=False) for r in results]
    return np.stack(results).reshape(*loop_shape, *results[0].shape)


def predict_planes_lazy(net: UNet, arranged: Any, loop_shape: tuple[int, ...], request: PredictionRequest,
                        instances: InstanceMaker) -> Any:
    """Lazy prediction of a dask array: labels and probabilities stay lazy, instances are computed."""
    import dask.array as da

    from napari_tiled_unet.lazy import predict_dask

    if request.tta:
        raise ValueError("test-time augmentation is not available for lazy (dask or zarr) images: load the image "
                         "into memory, or predict without it")
    planes = []
    for index in np.ndindex(*loop_shape):
        logits = predict_dask(net, arranged[index], request)
        if request.output == "instances":
            planes.append(instances(net, logits.compute(), request.instance_settings))
            continue
        logits = class_logits(net, logits)
        if request.output == "labels":
            lut = class_to_label(net)
            planes.append(logits.map_blocks(labels_block, lut, drop_axis=0, dtype=labels_dtype_of(net)))
        else:
            planes.append(logits.map_blocks(softmax, dtype=np.float32))
    if request.output == "instances":
        return np.stack(planes).reshape(*loop_shape, *planes[0].shape)
    stacked = da.stack(planes) if len(planes) > 1 else planes[0][None]
    return stacked.reshape(*loop_shape, *planes[0].shape)
