"""The input and output sizes of an exported model, per spatial axis, as a bioimage.io description states them.

A valid-padding net accepts ``min + n * step`` pixels along every spatial axis (``step`` is the product of
that axis's pooling factors, ``2**(depth-1)`` for the default net) and returns ``2 * margin`` fewer. A
bilinear-upsampling net is exact only one pooling cell further in, so the exported network crops that many
more from every side. A same-padding net keeps the size; its outputs near the edge of a block see zero
padding, which the description states as an output ``halo``. An anisotropic net has its own numbers on
every axis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from napari_tiled_unet.config import UNetConfig
from napari_tiled_unet.tiling import tile_context


@dataclass(frozen=True)
class ExportGeometry:
    """Sizes per spatial axis (slowest first) of an exported model.

    Attributes
    ----------
    min_sizes : tuple of int
        Smallest input size (bioimage.io ``ParameterizedSize.min``).
    steps : tuple of int
        Input sizes grow in steps of this (``ParameterizedSize.step``): the axis's pooling grid.
    output_crops : tuple of int
        Output pixels the exported network removes from every side beyond the valid margin.
    offsets : tuple of int
        Output size minus input size (``SizeReference.offset``): ``-2 * (margin + output_crop)``.
    halos : tuple of int
        Output pixels per side to discard when tiling (same padding only; 0 for valid padding).
    contexts : tuple of int
        Input pixels per side between the input border and the first output pixel.

    """

    min_sizes: tuple[int, ...]
    steps: tuple[int, ...]
    output_crops: tuple[int, ...]
    offsets: tuple[int, ...]
    halos: tuple[int, ...]
    contexts: tuple[int, ...]

    @property
    def uniform(self) -> bool:
        """True when every spatial axis has the same sizes (an isotropic net)."""
        per_axis = zip(self.min_sizes, self.steps, self.output_crops, self.offsets, self.halos, self.contexts)
        return len(set(per_axis)) == 1

    def output_shape(self, shape: Sequence[int]) -> tuple[int, ...]:
        """Output spatial shape of the exported model for a valid input spatial shape."""
        return tuple(int(s) + o for s, o in zip(shape, self.offsets))

    def test_shape(self, target: int) -> tuple[int, ...]:
        """Per axis, the smallest valid input size that is at least ``target``."""
        return tuple(low if target <= low else low + -(-(target - low) // step) * step
                     for low, step in zip(self.min_sizes, self.steps))


def export_geometry(config: UNetConfig) -> ExportGeometry:
    """The sizes a bioimage.io description states for a network, per spatial axis."""
    axes = [_axis(config, a) for a in range(config.dims)]
    return ExportGeometry(*(tuple(values) for values in zip(*axes)))


def _axis(config: UNetConfig, axis: int) -> tuple[int, int, int, int, int, int]:
    """``(min_size, step, output_crop, offset, halo, context)`` of one spatial axis."""
    step = config.alignments[axis]
    if config.padding == "same":
        halo = tile_context(config, axis)
        return 2 * halo + step, step, 0, 0, halo, 0
    crop = config.upsample_halos[axis]
    size = config.min_input_sizes[axis]
    while config.output_size(size, axis) - 2 * crop < 1:
        size += step
    margin = config.margins[axis]
    return size, step, crop, -2 * (margin + crop), 0, margin + crop
