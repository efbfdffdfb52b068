"""Lazy overlap-tile prediction of dask arrays, on any dask scheduler (a dask.distributed cluster included).

The output is cut into blocks that are whole numbers of the global tiling's steps, so every block's tiles
sit on the same grid as an in-memory prediction's and the values are identical. Each block reads only the
bounding box of its tiles' inputs from the source (real neighbours across block edges; numpy ``'reflect'``
mirroring only outside the image, like :func:`~napari_tiled_unet.predict.predict_tiled`), which is a plain
dask slice: no ``map_overlap`` (whose ``boundary='reflect'`` is numpy's ``'symmetric'``) is involved.

The network enters the graph once, as a single key: a distributed scheduler ships it to each worker once,
not once per block.
"""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np

from napari_tiled_unet.array_views import NormalizedView, OffsetArray
from napari_tiled_unet.devices import resolve_device
from napari_tiled_unet.model import UNet
from napari_tiled_unet.prediction_request import PredictionRequest
from napari_tiled_unet.tile_engine import check_eval_mode, plan_tiles, predict_with_retry
from napari_tiled_unet.tile_input import as_channel_first
from napari_tiled_unet.tiling import TileLayout, blocks_of, reflect_indices


def input_box(layout: TileLayout, origin: Sequence[int], full_shape: Sequence[int]) -> tuple[slice, ...]:
    """Bounding box (image coordinates) of every input pixel the tiles of a block read."""
    box = []
    for axis, start, size in zip(layout.axes, origin, full_shape):
        indices = np.concatenate([
            reflect_indices(start + k * axis.step - axis.context, axis.tile, int(size)) for k in range(axis.n_tiles)
        ])
        box.append(slice(int(indices.min()), int(indices.max()) + 1))
    return tuple(box)


_ON_DEVICE: dict[tuple[int, str], UNet] = {}
_ON_DEVICE_LOCK = threading.Lock()


def _net_on(net: UNet, device: str | None) -> UNet:
    """The worker's copy of the net on ``device`` ("auto": the worker's best device), made once per process."""
    if device is None:
        return net
    key = (id(net), device)
    with _ON_DEVICE_LOCK:
        if key not in _ON_DEVICE:
            _ON_DEVICE[key] = copy.deepcopy(net).to(resolve_device(device)).eval()
        return _ON_DEVICE[key]


def _predict_block(net: UNet, box_data: np.ndarray, box_start: Sequence[int], full_shape: Sequence[int],
                   origin: Sequence[int], layout: TileLayout, request: PredictionRequest,
                   device: str | None = None) -> np.ndarray:
    net = _net_on(net, device)
    image: Any = OffsetArray(np.asarray(box_data), box_start, full_shape)
    if request.normalizer is not None:
        image = NormalizedView(image, request.normalizer)
    return predict_with_retry(net, image, layout, request, origin=origin)


def predict_dask(
    net: UNet,
    image: Any,
    request: PredictionRequest | None = None,
    block_edge: int | None = None,
    device: str | None = None,
) -> Any:
    """Lazy float32 logits ``(n_classes, *spatial)`` of a dask array, equal to the in-memory prediction.

    Parameters
    ----------
    net : UNet
        The network in eval mode (on the device the workers should use).
    image : dask.array.Array
        ``(*spatial)`` or ``(in_channels, *spatial)``.
    request : PredictionRequest, optional
        Tile shape, batch size, mixed precision and the normaliser (the model's rule bound to the statistics
        of the whole image, computed once before the graph is built). Its progress and cancel callbacks are
        not sent to the workers: use dask's own progress bars.
    block_edge : int, optional
        Approximate output block edge in pixels (default 2048 in 2D, 192 in 3D); rounded to whole steps.
    device : str, optional
        Where the workers run the net: None keeps the net's device; "auto" picks each worker's best device
        (its GPU on a GPU node), "cpu", "cuda"... The copy on the device is made once per worker process.

    Returns
    -------
    dask.array.Array
        Lazy logits, one chunk per block; compute with any scheduler.

    """
    import dask
    import dask.array as da

    check_eval_mode(net)
    request = (request or PredictionRequest(amp=False)).for_workers()
    image = as_channel_first(image, net.config.in_channels, net.config.dims)
    full_shape = tuple(int(s) for s in image.shape[1:])
    global_layout, batch = plan_tiles(net, full_shape, request.tile_shape, request.batch_size)
    request = request.replace(batch_size=batch)
    net_key = dask.delayed(net, name=f"napari-tiled-unet-model-{uuid.uuid4().hex}", traverse=False)
    grid = blocks_of(global_layout, net.config.dims, block_edge)
    blocks = np.empty(grid.shape, dtype=object)
    for index in np.ndindex(*grid.shape):
        origin, layout = grid[index]
        sizes = [a.size for a in layout.axes]
        box = input_box(layout, origin, full_shape)
        source = image[(slice(None), *box)]
        task = dask.delayed(_predict_block, pure=True)(
            net_key, source, [b.start for b in box], full_shape, origin, layout, request, device
        )
        blocks[index] = da.from_delayed(task, shape=(net.config.n_classes, *sizes), dtype=np.float32)
    return da.block(blocks.tolist())
