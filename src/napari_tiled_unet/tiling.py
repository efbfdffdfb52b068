"""Overlap-tile layout (Ronneberger et al. 2015, Fig. 2) that stitches exactly.

Vocabulary, per spatial axis (all in pixels):

- ``context``: input pixels a tile reads before the first output pixel it keeps. For a valid-padding net
  with up-convolutions it is the margin ``m`` of the axis; bilinear upsampling needs one pooling cell more;
  a same-padding net gets a halo of about the valid margin so that its zero padding stays out of what is kept.
- ``crop``: output pixels of every tile that are thrown away before the kept ones (``context - m``).
- ``step``: output pixels a tile keeps, a multiple of the axis's pooling grid (the product of its pooling
  factors, ``2**(depth-1)`` for the default net), so every tile origin lies on that grid and every
  max-pooling sees the same pixel pairs as one pass over the whole image. Abutting raw outputs are *not*
  enough: a valid output size is ``4 mod 2**(depth-1)`` for depth >= 4.

An anisotropic net (per-axis ``pooling`` and ``kernels``) has its own margin, grid and context on every axis;
every function here takes the axis (``axis=``) and may omit it only for an isotropic net.

Tile ``k`` reads image coordinates ``[k*step - context, k*step - context + tile)``, mirror-extended
(numpy ``'reflect'``) outside the image, and writes image coordinates ``[k*step, (k+1)*step)``. The
result equals one pass over the image mirror-padded by ``context`` on every side, cropped by ``crop``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from napari_tiled_unet import geometry
from napari_tiled_unet.config import UNetConfig

BLOCK_EDGE = {2: 2048, 3: 192}
"""Default output block edge (pixels) for block-wise and lazy prediction: bounded memory per block."""


@dataclass(frozen=True)
class AxisLayout:
    """How one spatial axis of an image is cut into tiles.

    Attributes
    ----------
    size : int
        Image size along the axis.
    tile : int
        Input tile size (a valid input size of the net).
    context : int
        Input pixels read before the first kept output pixel.
    crop : int
        Output pixels discarded at the start of every tile's output.
    step : int
        Output pixels kept per tile (the last tile keeps what remains of the image).

    """

    size: int
    tile: int
    context: int
    crop: int
    step: int

    @property
    def n_tiles(self) -> int:
        """Number of tiles along the axis."""
        return max(1, math.ceil(self.size / self.step))

    def input_start(self, k: int) -> int:
        """Image coordinate of the first input pixel of tile ``k`` (negative: mirror-extended)."""
        return k * self.step - self.context

    def kept(self, k: int) -> tuple[slice, slice]:
        """Slice of the image written by tile ``k`` and the matching slice of the tile's output."""
        start = k * self.step
        length = min(self.step, self.size - start)
        return slice(start, start + length), slice(self.crop, self.crop + length)


@dataclass(frozen=True)
class Tile:
    """One tile: where it reads, where it writes, and which part of its output it keeps."""

    index: tuple[int, ...]
    input_start: tuple[int, ...]
    image_slices: tuple[slice, ...]
    output_slices: tuple[slice, ...]


@dataclass(frozen=True)
class TileLayout:
    """Tiles covering an image exactly once; see the module docstring for the vocabulary."""

    axes: tuple[AxisLayout, ...]

    @property
    def tile_shape(self) -> tuple[int, ...]:
        """Input tile shape."""
        return tuple(a.tile for a in self.axes)

    @property
    def grid(self) -> tuple[int, ...]:
        """Number of tiles per axis."""
        return tuple(a.n_tiles for a in self.axes)

    @property
    def n_tiles(self) -> int:
        """Total number of tiles."""
        return math.prod(self.grid)

    @property
    def overhead(self) -> float:
        """Input pixels processed per output pixel (1.0 would be free tiling)."""
        processed = math.prod(a.tile * a.n_tiles for a in self.axes)
        return processed / max(1, math.prod(a.size for a in self.axes))

    def __iter__(self) -> Iterator[Tile]:
        for index in itertools.product(*(range(n) for n in self.grid)):
            kept = [a.kept(k) for a, k in zip(self.axes, index)]
            yield Tile(
                index=index,
                input_start=tuple(a.input_start(k) for a, k in zip(self.axes, index)),
                image_slices=tuple(k[0] for k in kept),
                output_slices=tuple(k[1] for k in kept),
            )


def tile_context(config: UNetConfig, axis: int | None = None) -> int:
    """Input context per side that a tile needs before its first kept output pixel, along ``axis``.

    ``axis`` (0 = slowest spatial axis) may be omitted for an isotropic net; see :func:`tile_contexts`.
    """
    a = config.resolve_axis(axis, "tile_context(config)")
    if config.padding == "valid":
        return config.margins[a] + config.upsample_halos[a]
    halo = geometry.axis_margin(config.axis_pooling(a), config.axis_kernels(a))
    return math.ceil(halo / config.alignments[a]) * config.alignments[a]


def tile_contexts(config: UNetConfig) -> tuple[int, ...]:
    """:func:`tile_context` of every spatial axis."""
    return tuple(tile_context(config, a) for a in range(config.dims))


def step_for_tile(config: UNetConfig, tile: int, axis: int | None = None) -> int:
    """Output pixels a tile of input size ``tile`` may keep so that every tile origin stays aligned."""
    a = config.resolve_axis(axis, "step_for_tile(config, tile)")
    crop = tile_context(config, a) - config.margins[a]
    useful = config.output_size(tile, a) - 2 * crop
    return max(0, (useful // config.alignments[a]) * config.alignments[a])


def smallest_tile_for_step(config: UNetConfig, step: int, axis: int | None = None) -> int:
    """Smallest valid input tile that keeps at least ``step`` output pixels along ``axis``."""
    a = config.resolve_axis(axis, "smallest_tile_for_step(config, step)")
    crop = tile_context(config, a) - config.margins[a]
    tile = config.nearest_valid_sizes(max(1, step + 2 * crop + 2 * config.margins[a]), a)[1]
    while step_for_tile(config, tile, a) < step:
        tile += config.alignments[a]
    return tile


def min_useful_tile(config: UNetConfig, axis: int | None = None) -> int:
    """Smallest tile worth running: it keeps at least as many pixels as its context (and one pooling cell)."""
    a = config.resolve_axis(axis, "min_useful_tile(config)")
    context = tile_context(config, a)
    cell = config.alignments[a]
    return smallest_tile_for_step(config, max(cell, math.ceil(context / cell) * cell), a)


def min_useful_tiles(config: UNetConfig) -> tuple[int, ...]:
    """:func:`min_useful_tile` of every spatial axis."""
    return tuple(min_useful_tile(config, a) for a in range(config.dims))


def axis_layout(config: UNetConfig, size: int, wanted_tile: int, axis: int | None = None) -> AxisLayout:
    """Lay out one axis of an image (``axis`` may be omitted for an isotropic net).

    The wanted tile is rounded down to a valid size, grown to the smallest useful tile, and shrunk to the
    smallest tile that covers the whole axis at once. Then the tiles are balanced: with ``n`` tiles needed
    anyway, each is shrunk to the smallest tile that still covers ``size / n`` pixels, so that the last tile
    is not mostly wasted work.
    """
    a = config.resolve_axis(axis, "axis_layout(config, size, wanted_tile)")
    if size < 1:
        raise ValueError(f"image axis of size {size} cannot be predicted: every axis needs at least 1 pixel")
    covering = smallest_tile_for_step(config, size, a)
    smallest = min_useful_tile(config, a)
    below, above = config.nearest_valid_sizes(max(1, int(wanted_tile)), a)
    tile = below if below is not None else above
    tile = min(max(tile, smallest), covering)
    n_tiles = math.ceil(size / step_for_tile(config, tile, a))
    tile = max(smallest_tile_for_step(config, math.ceil(size / n_tiles), a), min(smallest, covering))
    context = tile_context(config, a)
    return AxisLayout(size=size, tile=tile, context=context, crop=context - config.margins[a],
                      step=step_for_tile(config, tile, a))


def make_layout(config: UNetConfig, image_shape: Sequence[int], tile_shape: Sequence[int]) -> TileLayout:
    """Lay out tiles over a spatial image shape, one wanted tile size per axis (each with its own geometry)."""
    if len(image_shape) != len(tile_shape):
        raise ValueError(f"tile shape {tuple(tile_shape)} must have one size per image axis {tuple(image_shape)}")
    if len(image_shape) != config.dims:
        raise ValueError(f"image shape {tuple(image_shape)} has {len(image_shape)} axes but the model is "
                         f"{config.dims}D: give {config.dims} sizes")
    return TileLayout(tuple(axis_layout(config, int(n), int(t), a)
                            for a, (n, t) in enumerate(zip(image_shape, tile_shape))))


def blocks_of(layout: TileLayout, dims: int, block_edge: int | None = None) -> np.ndarray:
    """Cut a layout's output into blocks of whole steps, about ``block_edge`` pixels per axis.

    Every block's tiles sit on the same grid as the whole layout's, so predicting block by block (with real
    context read across block edges) gives the same values while holding only one block of logits.

    Returns
    -------
    numpy.ndarray
        An object array over the block grid; each entry is ``(origin, block TileLayout)``.

    """
    wanted = block_edge or BLOCK_EDGE[dims]
    edges = []
    for axis in layout.axes:
        per_block = axis.step * max(1, round(wanted / axis.step))
        n = math.ceil(axis.size / per_block)
        edges.append([min(per_block, axis.size - i * per_block) for i in range(n)])
    grid = np.empty([len(e) for e in edges], dtype=object)
    for index in np.ndindex(*grid.shape):
        origin = tuple(sum(edges[axis][:i]) for axis, i in enumerate(index))
        axes = tuple(AxisLayout(size=edges[k][i], tile=a.tile, context=a.context, crop=a.crop, step=a.step)
                     for k, (a, i) in enumerate(zip(layout.axes, index)))
        grid[index] = (origin, TileLayout(axes))
    return grid


def reflect_indices(start: int, length: int, size: int) -> np.ndarray:
    """Image indices of ``length`` pixels from ``start`` on a mirror-extended axis (numpy ``'reflect'``).

    Mirroring excludes the edge pixel (``-1 -> 1``) and repeats with period ``2 * (size - 1)``, exactly as
    ``np.pad(..., mode='reflect')`` does for any pad width.
    """
    idx = np.arange(start, start + length)
    if size == 1:
        return np.zeros_like(idx)
    period = 2 * (size - 1)
    idx = np.mod(idx, period)
    return np.where(idx >= size, period - idx, idx)
