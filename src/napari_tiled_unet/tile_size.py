"""Choosing a tile shape and a batch size from a memory budget."""

from __future__ import annotations

import math
from collections.abc import Sequence

from napari_tiled_unet.config import UNetConfig
from napari_tiled_unet.tiling import min_useful_tile, smallest_tile_for_step

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
            spatial = [max(1, (s - 4) // 2) for s in spatial]
    return skips + 3 * largest


def tile_bytes(config: UNetConfig, tile_shape: Sequence[int]) -> int:
    """Estimated bytes one float32 tile needs in inference, with a safety factor."""
    return int(feature_map_elements(config, tile_shape) * 4 * _SAFETY)


def auto_tile_shape(
    config: UNetConfig, image_shape: Sequence[int], budget_bytes: int, gpu: bool = False
) -> tuple[int, ...]:
    """The tile shape for an image: as large as the budget and the device's sweet spot allow.

    Axes the image covers in one tile not much larger than the target get exactly that tile (a 1024 image is
    one 1116 tile, not four 1020 tiles); the others share the budget with equal edges, shrinking by the
    pooling grid until the estimate fits (never below the smallest useful tile). The layout then balances
    the tiles (see :func:`~napari_tiled_unet.tiling.axis_layout`).
    """
    kind = "gpu" if gpu else "cpu"
    target = _TARGET_EDGE[(kind, config.dims)]
    covering = [smallest_tile_for_step(config, int(n)) for n in image_shape]
    floor = min_useful_tile(config)
    edge = config.nearest_valid_sizes(max(target, floor))[0] or floor
    while True:
        shape = tuple(c if c <= edge * _COVER_SLACK else min(edge, c) for c in covering)
        if tile_bytes(config, shape) <= budget_bytes or edge <= floor:
            if tile_bytes(config, shape) > budget_bytes:
                shape = tuple(min(edge, c) for c in covering)
            return shape
        edge -= config.alignment


def auto_batch_size(config: UNetConfig, tile_shape: Sequence[int], budget_bytes: int, n_tiles: int,
                    gpu: bool = False) -> int:
    """How many tiles to run at once: as many as the budget holds, within a per-device cap.

    On a CPU batching only amortises the per-call overhead of small tiles, so a batch holds at most about
    a 512x512 (or 64x64x64) tile's worth of pixels.
    """
    fits = max(1, budget_bytes // max(1, tile_bytes(config, tile_shape)))
    cap = _MAX_BATCH["gpu"] if gpu else max(1, min(_MAX_BATCH["cpu"], _CPU_BATCH_PIXELS // math.prod(tile_shape)))
    return int(max(1, min(fits, cap, n_tiles)))
