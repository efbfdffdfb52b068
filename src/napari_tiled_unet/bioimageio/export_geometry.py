"""The input and output sizes of an exported model, as a bioimage.io description states them.

A valid-padding net accepts ``min + n * step`` pixels per spatial axis (``step = 2**(depth-1)``) and returns
``2 * margin`` fewer. A bilinear-upsampling net is exact only ``2**(depth-1)`` pixels further in, so the
exported network crops that many more from every side. A same-padding net keeps the size; its outputs near the
edge of a block see zero padding, which the description states as an output ``halo``.
"""

from __future__ import annotations

from dataclasses import dataclass

from napari_tiled_unet.config import UNetConfig
from napari_tiled_unet.tiling import tile_context


@dataclass(frozen=True)
class ExportGeometry:
    """Sizes per spatial axis of an exported model.

    Attributes
    ----------
    min_size : int
        Smallest input size (bioimage.io ``ParameterizedSize.min``).
    step : int
        Input sizes grow in steps of this (``ParameterizedSize.step``), ``2**(depth-1)``.
    output_crop : int
        Output pixels the exported network removes from every side beyond the valid margin.
    offset : int
        Output size minus input size (``SizeReference.offset``): ``-2 * (margin + output_crop)``.
    halo : int
        Output pixels per side to discard when tiling (same padding only; 0 for valid padding).
    context : int
        Input pixels per side between the input border and the first output pixel.

    """

    min_size: int
    step: int
    output_crop: int
    offset: int
    halo: int
    context: int

    def output_size(self, size: int) -> int:
        """Output size of the exported model for a valid input ``size``."""
        return size + self.offset

    def test_size(self, target: int) -> int:
        """Smallest valid input size that is at least ``target``."""
        if target <= self.min_size:
            return self.min_size
        return self.min_size + -(-(target - self.min_size) // self.step) * self.step


def export_geometry(config: UNetConfig) -> ExportGeometry:
    """The sizes a bioimage.io description states for a network."""
    step = config.alignment
    if config.padding == "same":
        halo = tile_context(config)
        return ExportGeometry(min_size=2 * halo + step, step=step, output_crop=0, offset=0, halo=halo, context=0)
    crop = config.upsample_halo
    size = config.min_input_size
    while config.output_size(size) - 2 * crop < 1:
        size += step
    return ExportGeometry(min_size=size, step=step, output_crop=crop, offset=-2 * (config.margin + crop), halo=0,
                          context=config.margin + crop)
