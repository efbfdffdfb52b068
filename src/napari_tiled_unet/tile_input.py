"""Reading tile inputs: the channel axis, and one tile of a (possibly lazy) image with mirror extrapolation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from napari_tiled_unet.tiling import reflect_indices


def as_channel_first(image: Any, in_channels: int, dims: int) -> Any:
    """Return the image with a leading channel axis, validating the number of axes and channels.

    ``(*spatial)`` is accepted for single-channel models, ``(C, *spatial)`` always. Lazy arrays stay lazy.
    """
    shape = tuple(int(s) for s in image.shape)
    if len(shape) == dims:
        if in_channels != 1:
            raise ValueError(
                f"image of shape {shape} has no channel axis but the model expects {in_channels} channels: "
                f"give ({in_channels}, {', '.join('ZYX'[-dims:])})"
            )
        return image[None]
    if len(shape) == dims + 1:
        if shape[0] != in_channels:
            raise ValueError(
                f"image of shape {shape} has {shape[0]} channels on its first axis but the model expects "
                f"{in_channels}: give an image with {in_channels} channel(s) first"
            )
        return image
    raise ValueError(
        f"image of shape {shape} does not fit a {dims}D model: give ({', '.join('ZYX'[-dims:])}) or "
        f"({in_channels}, {', '.join('ZYX'[-dims:])})"
    )


def read_tile(image: Any, start: Sequence[int], shape: Sequence[int]) -> np.ndarray:
    """Read one input tile ``(C, *shape)`` from a channel-first array, mirror-extending outside it.

    Only the bounding box of the pixels needed is read, so numpy, zarr and dask arrays all work and a lazy
    array is read tile by tile.
    """
    spatial = image.shape[1:]
    indices = [reflect_indices(s, n, int(size)) for s, n, size in zip(start, shape, spatial)]
    box = tuple(slice(int(i.min()), int(i.max()) + 1) for i in indices)
    region = np.asarray(image[(slice(None),) + box])
    local = [i - b.start for i, b in zip(indices, box)]
    if all(np.array_equal(li, np.arange(li[0], li[0] + len(li))) for li in local):
        return region[(slice(None),) + tuple(slice(int(li[0]), int(li[0]) + len(li)) for li in local)]
    return region[(slice(None),) + np.ix_(*local)]
