"""napari writer: Labels layers as zlib-compressed, ImageJ-readable TIFF files with the pixel size."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from napari_tiled_unet.image_io import write_tiff

logger = logging.getLogger(__name__)

_AXES = {2: "YX", 3: "ZYX", 4: "TZYX", 5: "QTZYX"}


def _compact(data: np.ndarray) -> np.ndarray:
    """Labels in the smallest unsigned type ImageJ reads (uint8 or uint16) when their values allow it."""
    if data.dtype.kind not in "biu" or data.size == 0:
        return data
    low, high = int(data.min()), int(data.max())
    if low < 0 or high >= 65536:
        return data
    return data.astype(np.uint8 if high < 256 else np.uint16, copy=False)


def write_labels(path: str, data: Any, meta: dict[str, Any]) -> list[str]:
    """Write one Labels layer to a TIFF file (npe2 single-layer writer).

    Parameters
    ----------
    path : str
        Destination ending in ``.tif`` or ``.tiff``.
    data : array-like
        The layer's data (2D to 5D labels).
    meta : dict
        The layer's attributes; ``meta['scale']`` gives the pixel size (Y, X) stored as the TIFF resolution.

    Returns
    -------
    list of str
        The path written.

    """
    array = np.asarray(data)
    if array.ndim not in _AXES:
        raise ValueError(f"labels with {array.ndim} axes cannot be written as TIFF: give 2 to 5 axes")
    scale = meta.get("scale")
    resolution = None if scale is None or len(scale) < 2 else (float(scale[-2]), float(scale[-1]))
    written = write_tiff(path, _compact(array), _AXES[array.ndim], resolution)
    logger.info("wrote labels %s %s to %s", array.shape, array.dtype, written)
    return [str(written)]
