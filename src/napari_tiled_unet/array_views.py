"""Array adapters that let the tile reader work on big and lazy images without copying them.

:func:`~napari_tiled_unet.tile_input.read_tile` reads ``image[(slice(None), *box)]`` from a channel-first
array. These adapters provide that indexing on top of other things: an image normalised on the fly with
whole-image statistics (:class:`NormalizedView`), and a box cut out of a larger image that keeps the larger
image's coordinates (:class:`OffsetArray`, used by the lazy and distributed paths).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from napari_tiled_unet.normalization import ImageNormalizer


def is_dask(image: Any) -> bool:
    """True for a dask array (checked without importing dask)."""
    return type(image).__module__.startswith("dask.") and hasattr(image, "dask")


class NormalizedView:
    """A channel-first array whose reads come back normalised with fixed whole-image statistics.

    Parameters
    ----------
    data : array-like
        Channel-first image (numpy, zarr, dask, or another view).
    normalizer : ImageNormalizer
        The model's normalisation bound to the statistics of the whole image
        (:meth:`~napari_tiled_unet.normalization.PercentileNormalization.for_image`).

    """

    def __init__(self, data: Any, normalizer: ImageNormalizer) -> None:
        self.data = data
        self.normalizer = normalizer
        self.shape = tuple(int(s) for s in data.shape)
        self.ndim = len(self.shape)
        self.dtype = np.dtype(np.float32)

    def __getitem__(self, key: Any) -> np.ndarray:
        if not isinstance(key, tuple) or not key or key[0] != slice(None):
            raise IndexError("NormalizedView reads all channels at once: index it as view[(slice(None), ...)]")
        region = np.asarray(self.data[key])
        return self.normalizer(region)


class OffsetArray:
    """A box of a larger channel-first image that answers reads in the larger image's coordinates.

    Parameters
    ----------
    data : numpy.ndarray
        The box ``(C, *box_shape)``.
    start : sequence of int
        Image coordinates of the box's first pixel.
    full_shape : sequence of int
        Spatial shape of the whole image (mirroring happens at its edges).

    """

    def __init__(self, data: np.ndarray, start: Sequence[int], full_shape: Sequence[int]) -> None:
        self.data = data
        self.start = tuple(int(s) for s in start)
        self.shape = (int(data.shape[0]), *(int(s) for s in full_shape))
        self.ndim = len(self.shape)
        self.dtype = data.dtype

    def __getitem__(self, key: Any) -> np.ndarray:
        if not isinstance(key, tuple) or not key or key[0] != slice(None):
            raise IndexError("OffsetArray reads all channels at once: index it as box[(slice(None), ...)]")
        local = []
        for s, offset, size in zip(key[1:], self.start, self.data.shape[1:]):
            lo, hi = s.start - offset, s.stop - offset
            if lo < 0 or hi > size:
                raise IndexError(f"read [{s.start}, {s.stop}) outside the box [{offset}, {offset + size})")
            local.append(slice(lo, hi))
        return self.data[(slice(None), *local)]
