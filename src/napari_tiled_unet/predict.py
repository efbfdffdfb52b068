"""Overlap-tile prediction of one image's logits: any image size, mirror extrapolation at the border, no seams.

For a valid-padding net the stitched result equals, to float32 rounding, one pass of the same net over the
whole image mirror-extended (numpy ``'reflect'``) by :func:`~napari_tiled_unet.tiling.tile_context` pixels
on every side. See :mod:`napari_tiled_unet.tiling` for the layout and why it is exact, and
:mod:`napari_tiled_unet.tile_engine` for how the tiles run.

Same-padding nets cannot be exact (their zero padding sees the tile edge); their tiles overlap by a halo of
about the valid margin on each side and only the centre of every tile is kept, which hides the seams.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from napari_tiled_unet.array_views import is_dask
from napari_tiled_unet.cancel import CancelLike, ProgressCallback
from napari_tiled_unet.lazy import predict_dask
from napari_tiled_unet.model import UNet
from napari_tiled_unet.prediction_request import PredictionRequest
from napari_tiled_unet.tile_engine import check_eval_mode, plan_tiles, predict_with_layout, predict_with_retry
from napari_tiled_unet.tile_input import as_channel_first

__all__ = ["check_eval_mode", "plan_tiles", "predict_tiled", "predict_with_layout", "predict_with_retry"]


def predict_tiled(
    net: UNet,
    image: Any,
    tile_shape: int | Sequence[int] | None = None,
    batch_size: int | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelLike = None,
    amp: bool | None = False,
) -> np.ndarray:
    """Predict logits for a whole image, tile by tile, with a result equal to one pass over it.

    Parameters
    ----------
    net : UNet
        The network, in eval mode, on the device to run on.
    image : array-like
        ``(*spatial)`` for a single-channel model or ``(in_channels, *spatial)``; numpy, zarr or dask (read
        tile by tile). Any numeric dtype; cast to float32 as given (normalise before if the model needs it).
    tile_shape : int, sequence of int or None
        Wanted input tile per spatial axis. It is rounded down to a valid size, grown to the smallest useful
        tile and shrunk to the smallest tile that covers the image. None picks one from a memory budget.
    batch_size : int or None
        Tiles per forward pass; None picks from the memory budget.
    progress : callable, optional
        Called as ``progress(done, total)`` after every tile.
    cancel : threading.Event-like or callable, optional
        Checked before every batch; when set, :class:`~napari_tiled_unet.errors.Cancelled` is raised.
    amp : bool or None
        Mixed precision on CUDA (None: on CUDA only); the default False keeps float32 everywhere.

    Returns
    -------
    numpy.ndarray or dask.array.Array
        float32 logits of shape ``(n_classes, *spatial)``. A dask input gives a lazy dask array with the same
        values (see :func:`napari_tiled_unet.lazy.predict_dask`; ``progress`` and ``cancel`` do not apply,
        use dask's own progress bars); zarr and other array-likes are read tile by tile.

    Raises
    ------
    ValueError
        If the net is in train mode, the image does not fit the model, or it holds NaN or infinite values.
    Cancelled
        If ``cancel`` was set.

    """
    if not isinstance(net, UNet):
        raise TypeError(f"predict_tiled needs a UNet, got {type(net).__name__}")
    check_eval_mode(net)
    tile = int(tile_shape) if isinstance(tile_shape, (int, np.integer)) else tile_shape
    request = PredictionRequest(tile_shape=tile, batch_size=batch_size, amp=amp, progress=progress, cancel=cancel)
    if is_dask(image):
        return predict_dask(net, image, request)
    image = as_channel_first(image, net.config.in_channels, net.config.dims)
    layout, batch = plan_tiles(net, image.shape[1:], request.tile_shape, request.batch_size)
    return predict_with_retry(net, image, layout, request.replace(batch_size=batch))
