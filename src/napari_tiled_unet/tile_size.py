"""Choosing a tile shape and a batch size from a memory budget."""

from __future__ import annotations

import math
from collections.abc import Sequence

from napari_tiled_unet.config import UNetConfig
from napari_tiled_unet.tiling import min_useful_tiles, smallest_tile_for_step

# Largest useful tile edge per dimensionality and device kind. On a CPU a 508 tile runs faster per pixel
# than a 1020 one (cache), so bigger is not better there; GPUs like big tiles.
_TARGET_EDGE = {("cpu", 2): 1020, ("cpu", 3): 164, ("gpu", 2): 2044, ("gpu", 3): 260}
_MAX_BATCH = {"cpu": 4, "gpu": 32}
_SAFETY = 1.5
_COVER_SLACK = 1.25
_CPU_BATCH_PIXELS = 512 * 512


def feature_map_elements(config: UNetConfig, tile_shape: Sequence[int]) -> int:
    """Estimate the peak number of activation elements of one tile in inference.

    The skip connections of the contracting path stay alive while the expanding path runs; on top of them
    a convolution holds its input, its output and the concatenation that feeds it.
    """
    spatial = [int(s) for s in tile_shape]
    skips = 0
    largest = 0
    for level in range(config.depth):
        channels = 2 ** (config.wf + level)
        size = math.prod(max(1, s) for s in spatial) * channels
        largest = max(largest, size)
        if level < config.depth - 1:
            skips += size
            lost = [2 * (k - 1) for k in config.kernel_sizes[level]]
            spatial = [max(1, (s - c) // p) for s, c, p in zip(spatial, lost, config.pool_factors[level])]
    return skips + 3 * largest


def tile_bytes(config: UNetConfig, tile_shape: Sequence[int]) -> int:
    """Estimated bytes one float32 tile needs in inference, with a safety factor."""
    return int(feature_map_elements(config, tile_shape) * 4 * _SAFETY)


def auto_tile_shape(
    config: UNetConfig, image_shape: Sequence[int], budget_bytes: int, gpu: bool = False
) -> tuple[int, ...]:
    """The tile shape for an image: as large as the budget and the device's sweet spot allow.

    Axes the image covers in one tile not much larger than the target get exactly that tile (a 1024 image is
    one 1116 tile, not four 1020 tiles); the others share the budget with about equal edges (each rounded down
    to a valid size of its axis), shrinking by the coarsest pooling grid until the estimate fits (never below
    the smallest useful tile of an axis). The layout then balances the tiles (see
    :func:`~napari_tiled_unet.tiling.axis_layout`).
    """
    kind = "gpu" if gpu else "cpu"
    target = _TARGET_EDGE[(kind, config.dims)]
    covering = [smallest_tile_for_step(config, int(n), a) for a, n in enumerate(image_shape)]
    floors = min_useful_tiles(config)
    edge = max(target, *floors)
    while True:
        edges = [max(floor, config.nearest_valid_sizes(edge, a)[0] or floor) for a, floor in enumerate(floors)]
        shape = tuple(c if c <= e * _COVER_SLACK else min(e, c) for c, e in zip(covering, edges))
        at_floor = all(e <= floor for e, floor in zip(edges, floors))
        if tile_bytes(config, shape) <= budget_bytes or at_floor:
            if tile_bytes(config, shape) > budget_bytes:
                shape = tuple(min(e, c) for e, c in zip(edges, covering))
            return shape
        edge -= max(config.alignments)


def auto_batch_size(config: UNetConfig, tile_shape: Sequence[int], budget_bytes: int, n_tiles: int,
                    gpu: bool = False) -> int:
    """How many tiles to run at once: as many as the budget holds, within a per-device cap.

    On a CPU batching only amortises the per-call overhead of small tiles, so a batch holds at most about
    a 512x512 (or 64x64x64) tile's worth of pixels.
    """
    fits = max(1, budget_bytes // max(1, tile_bytes(config, tile_shape)))
    cap = _MAX_BATCH["gpu"] if gpu else max(1, min(_MAX_BATCH["cpu"], _CPU_BATCH_PIXELS // math.prod(tile_shape)))
    return int(max(1, min(fits, cap, n_tiles)))
