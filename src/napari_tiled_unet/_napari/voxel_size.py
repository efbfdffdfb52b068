"""A layer's pixel or voxel size in micrometres from its scale and units, and per-axis pooling in words (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from napari_tiled_unet.anisotropy import PoolingPlan
from napari_tiled_unet.calibration import LENGTH_UNITS, canonical_unit, convert_length
from napari_tiled_unet.config import UNetConfig
from napari_tiled_unet.per_axis import axis_names

#: The unit of a scale given without one (napari's default unit is the pixel; microscopy scales are um).
DEFAULT_UNIT = "um"


def _length_unit(unit: Any) -> str | None:
    try:
        name = canonical_unit(None if unit is None else str(unit))
    except ValueError:
        return None
    return name if name in LENGTH_UNITS else None


def voxel_size_um(scale: Sequence[float], units: Sequence[Any] | None,
                  spatial: Sequence[int]) -> tuple[float, ...] | None:
    """The size of a pixel (Y, X) or voxel (Z, Y, X) in micrometres, or None when the layer is not calibrated.

    Parameters
    ----------
    scale : sequence of float
        The layer's scale (one entry per data axis).
    units : sequence, optional
        The layer's units (napari >= 0.6; pint units or names); pixels or unknown units count as micrometres
        when the scale is not 1, the usual unit of microscopy scales.
    spatial : sequence of int
        The data axes that are the model's spatial axes, slowest first.

    Returns
    -------
    tuple of float or None
        None when every spatial scale is 1 and no length unit is given (an uncalibrated layer).

    """
    units = list(units) if units is not None and len(units) == len(scale) else [None] * len(scale)
    named = [_length_unit(units[i]) for i in spatial]
    values = [float(scale[i]) for i in spatial]
    if all(name is None for name in named) and all(v == 1.0 for v in values):
        return None
    if not all(v > 0 for v in values):
        return None
    return tuple(round(convert_length(v, name or DEFAULT_UNIT, "um"), 9) for v, name in zip(values, named))


def _steps(table: Sequence[Sequence[int]]) -> str:
    return ", ".join("×".join(str(v) for v in row) for row in table)


def plan_in_words(plan: PoolingPlan, voxel_size: Sequence[float]) -> str:
    """``"voxel 2×0.5×0.5 µm (Z×Y×X): pooling 1×2×2, 2×2×2; kernels 1×3×3, 3×3×3, 3×3×3"``."""
    names = "×".join(axis_names(len(voxel_size)))
    size = "×".join(f"{v:g}" for v in voxel_size)
    return f"voxel {size} µm ({names}): pooling {_steps(plan.pooling)}; kernels {_steps(plan.kernels)}"


def geometry_in_words(config: UNetConfig) -> str:
    """The margin (one number, or one per axis) and, for anisotropic nets, the pooling and kernels per axis."""
    margins = config.margins
    if config.isotropic:
        return f"margin {margins[0]} px"
    names = "/".join(axis_names(config.dims))
    return (f"margins {'/'.join(map(str, margins))} px ({names}); pooling {_steps(config.pool_factors)}; "
            f"kernels {_steps(config.kernel_sizes)}")
