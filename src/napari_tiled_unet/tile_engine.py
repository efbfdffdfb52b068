"""The tile engine: plan a layout for a net, run the net over its tiles and stitch what each tile keeps.

Everything here works on a channel-first array (numpy, zarr, or an adapter from :mod:`~napari_tiled_unet.
array_views`) and one :class:`~napari_tiled_unet.prediction_request.PredictionRequest`; the public entry
points are :func:`napari_tiled_unet.predict.predict_tiled` (in memory), :mod:`napari_tiled_unet.lazy` (dask)
and :func:`napari_tiled_unet.inference.predict_image` (whole images and stacks). See
:mod:`napari_tiled_unet.tiling` for why the stitched result equals one pass over the whole image.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch

from napari_tiled_unet.cancel import is_cancelled
from napari_tiled_unet.devices import device_of, memory_budget_bytes
from napari_tiled_unet.errors import Cancelled
from napari_tiled_unet.model import UNet
from napari_tiled_unet.prediction_request import PredictionRequest
from napari_tiled_unet.tile_input import read_tile
from napari_tiled_unet.tile_size import auto_batch_size, auto_tile_shape
from napari_tiled_unet.tiling import Tile, TileLayout, make_layout

logger = logging.getLogger(__name__)
_CONVERT_LOCK = threading.Lock()


def _ensure_channels_last(net: UNet) -> None:
    """Put the weights in channels_last layout once (thread-safe: dask may run blocks in parallel threads)."""
    layout = torch.channels_last if net.config.dims == 2 else torch.channels_last_3d
    with _CONVERT_LOCK:
        if not _layout_weight(net).is_contiguous(memory_format=layout):
            net.to(memory_format=layout)


def _layout_weight(net: UNet) -> torch.Tensor:
    """A weight whose two layouts differ: a 3x3 kernel over several channels.

    A 1x1 kernel, or a kernel over a single input channel, is contiguous in both layouts.
    """
    convs = [m for m in net.down_path[-1].modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Conv3d))]
    return convs[-1].weight


def check_eval_mode(net: UNet) -> None:
    """Refuse a net in train mode: batch norm and dropout would change the results tile by tile."""
    if net.training:
        raise ValueError("the net is in train mode (batch norm and dropout would change results): call net.eval()")


def _batches(tiles: Iterable[Tile], size: int) -> Iterable[list[Tile]]:
    batch: list[Tile] = []
    for tile in tiles:
        batch.append(tile)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _launch(net: UNet, batch: np.ndarray, device: torch.device, amp: bool) -> torch.Tensor:
    """Start one forward pass and return its output tensor (still being computed on a GPU).

    CPU: channels_last input. CUDA: pinned memory, non-blocking copy, optional autocast (bf16 where the GPU
    has it, else fp16).
    """
    x = torch.from_numpy(batch)
    if device.type == "cuda":
        x = x.pin_memory().to(device, non_blocking=True)
        if amp:
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
            with torch.autocast(device_type="cuda", dtype=dtype):
                return net(x)
    elif device.type != "cpu":
        x = x.to(device)
    else:
        x = x.contiguous(memory_format=torch.channels_last if x.ndim == 4 else torch.channels_last_3d)
    return net(x)


def _fetch(output: torch.Tensor) -> np.ndarray:
    """Bring a forward pass's output to the host as float32 (waits for it on a GPU)."""
    return output.float().cpu().numpy()


def plan_tiles(
    net: UNet, spatial_shape: Sequence[int], tile_shape: int | Sequence[int] | None = None,
    batch_size: int | None = None,
) -> tuple[TileLayout, int]:
    """Choose the tile layout and batch size :func:`predict_tiled` would use for an image.

    Parameters
    ----------
    net : UNet
        The network (its device decides the memory budget).
    spatial_shape : sequence of int
        Spatial shape of the image.
    tile_shape : int, sequence of int or None
        Wanted input tile per axis; None picks one from the memory budget.
    batch_size : int or None
        Tiles per batch; None picks from the memory budget.

    """
    config = net.config
    spatial_shape = tuple(int(s) for s in spatial_shape)
    device = device_of(net)
    budget = memory_budget_bytes(device)
    gpu = device.type != "cpu"
    if tile_shape is None:
        wanted = auto_tile_shape(config, spatial_shape, budget, gpu=gpu)
    elif isinstance(tile_shape, (int, np.integer)):
        wanted = (int(tile_shape),) * config.dims
    else:
        wanted = tuple(int(t) for t in tile_shape)
    if len(wanted) != config.dims:
        raise ValueError(f"tile_shape {tile_shape!r} needs {config.dims} sizes, one per spatial axis")
    if any(t < 1 for t in wanted):
        raise ValueError(f"tile_shape {tile_shape!r} must be positive: give sizes like 508 or None for automatic")
    layout = make_layout(config, spatial_shape, wanted)
    if batch_size is None:
        batch_size = auto_batch_size(config, layout.tile_shape, budget, layout.n_tiles, gpu=gpu)
    elif int(batch_size) < 1:
        raise ValueError(f"batch_size={batch_size} must be at least 1")
    return layout, int(batch_size)



def plan_for(net: UNet, spatial_shape: Sequence[int], request: PredictionRequest) -> PredictionRequest:
    """``request`` with its batch size chosen for an image (the layout itself comes from :func:`plan_tiles`)."""
    if request.batch_size is not None:
        return request
    _, batch = plan_tiles(net, spatial_shape, request.tile_shape, None)
    return request.replace(batch_size=batch)


def predict_with_retry(net: UNet, image: Any, layout: TileLayout, request: PredictionRequest,
                       origin: Sequence[int] | None = None) -> np.ndarray:
    """:func:`predict_with_layout`, retried with half the batch, then half the tile, after out-of-memory errors.

    A smaller tile keeps the result exact: every step is a multiple of the pooling grid.
    """
    sizes = tuple(a.size for a in layout.axes)
    while True:
        try:
            return predict_with_layout(net, image, layout, request, origin=origin)
        except torch.OutOfMemoryError:
            layout, batch = _smaller_plan(net, sizes, layout, request.batch_size or 1)
            request = request.replace(batch_size=batch)


def _smaller_plan(net: UNet, spatial: Sequence[int], layout: TileLayout, batch_size: int) -> tuple[TileLayout, int]:
    """After an out-of-memory error: halve the batch, else halve the tile; re-raise at the smallest tile."""
    device = device_of(net)
    if device.type == "cuda":
        torch.cuda.empty_cache()
    if batch_size > 1:
        logger.warning("out of memory with %d tiles per batch: retrying with %d", batch_size, batch_size // 2)
        return layout, batch_size // 2
    smaller = tuple(max(1, t // 2) for t in layout.tile_shape)
    new_layout, _ = plan_tiles(net, spatial, smaller, 1)
    if new_layout.tile_shape == layout.tile_shape:
        raise torch.OutOfMemoryError(
            f"out of memory even with the smallest useful tile {layout.tile_shape} on {device}: free memory on the "
            "device (close other programs) or use device='cpu'"
        )
    logger.warning("out of memory with tile %s: retrying with tile %s", layout.tile_shape, new_layout.tile_shape)
    return new_layout, 1


def predict_with_layout(net: UNet, image: Any, layout: TileLayout, request: PredictionRequest,
                        origin: Sequence[int] | None = None) -> np.ndarray:
    """Run the net over the tiles of ``layout`` and stitch their kept outputs.

    Parameters
    ----------
    net : UNet
        The network in eval mode, on the device to run on.
    image : array-like
        Channel-first image; only the bounding boxes of the tiles are read. Normalise it beforehand (or give a
        :class:`~napari_tiled_unet.array_views.NormalizedView`): the engine reads it as it is.
    layout : TileLayout
        The tiles. :func:`plan_tiles` chooses an exact one; any layout is accepted, which lets tests show
        that a misaligned one is not exact.
    request : PredictionRequest
        Batch size (1 when None), mixed precision, progress and cancel. Mixed precision keeps the tiles on the
        same grid, so the result still equals one pass over the whole image run the same way, to
        half-precision rounding.
    origin : sequence of int, optional
        Image coordinates of the layout's first pixel: the result covers ``origin + [0, layout sizes)`` and
        tiles read real image context around it (mirrored only outside the image). It must be a multiple of
        the pooling grid per axis for the result to equal the whole-image prediction of that region.

    Returns
    -------
    numpy.ndarray
        float32 logits ``(n_classes, *layout sizes)``.

    Raises
    ------
    Cancelled
        If the request's cancel token is set before a batch.

    """
    check_eval_mode(net)
    config = net.config
    spatial = tuple(a.size for a in layout.axes)
    origin = tuple(int(o) for o in origin) if origin is not None else (0,) * len(spatial)
    device = device_of(net)
    if device.type == "cpu":
        _ensure_channels_last(net)
    result = np.empty((config.n_classes, *spatial), dtype=np.float32)
    amp = request.amp
    use_amp = device.type == "cuda" if amp is None else bool(amp and device.type == "cuda")
    done = 0

    def read(batch: list[Tile]) -> np.ndarray:
        starts = [tuple(o + s for o, s in zip(origin, t.input_start)) for t in batch]
        inputs = np.stack([read_tile(image, start, layout.tile_shape) for start in starts]).astype(np.float32,
                                                                                                 copy=False)
        if not np.isfinite(inputs).all():
            raise ValueError("image contains NaN or infinite values: replace them (e.g. with 0) before predicting")
        return inputs

    def write(batch: list[Tile], logits: np.ndarray) -> None:
        nonlocal done
        for tile, out in zip(batch, logits):
            result[(slice(None),) + tile.image_slices] = out[(slice(None),) + tile.output_slices]
            done += 1
            if request.progress is not None:
                request.progress(done, layout.n_tiles)

    with torch.inference_mode():
        # one batch in flight: the next batch is read (and normalised) while the device computes this one
        pending: tuple[list[Tile], torch.Tensor] | None = None
        for batch in _batches(layout, int(request.batch_size or 1)):
            if is_cancelled(request.cancel):
                raise Cancelled(f"prediction cancelled after {done} of {layout.n_tiles} tiles")
            inputs = read(batch)
            if pending is not None:
                write(pending[0], _fetch(pending[1]))
            pending = (batch, _launch(net, inputs, device, use_amp))
        if pending is not None:
            write(pending[0], _fetch(pending[1]))
    return result
