"""napari writer: Labels layers as zlib-compressed, ImageJ-readable TIFF files with the layer's calibration."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from napari_tiled_unet.calibration import (
    LENGTH_UNITS,
    SPATIAL_LETTERS,
    TIME_UNITS,
    Calibration,
    canonical_unit,
    convert_length,
)
from napari_tiled_unet.image_io import write_tiff

logger = logging.getLogger(__name__)

_AXES = {2: "YX", 3: "ZYX", 4: "TZYX", 5: "QTZYX"}
#: Unit assumed for a scale given without one (napari's default unit is the pixel; microscopy scales are um).
DEFAULT_UNIT = "um"


def _compact(data: np.ndarray) -> np.ndarray:
    """Labels in the smallest unsigned type ImageJ reads (uint8 or uint16) when their values allow it."""
    if data.dtype.kind not in "biu" or data.size == 0:
        return data
    low, high = int(data.min()), int(data.max())
    if low < 0 or high >= 65536:
        return data
    return data.astype(np.uint8 if high < 256 else np.uint16, copy=False)


def layer_axes(ndim: int, axis_labels: Sequence[str] | None = None) -> str:
    """Axis letters of a layer: its axis labels when they are t/z/y/x letters ending in y, x, else by count."""
    letters = "".join(str(label).strip().upper() for label in (axis_labels or ()))
    if len(letters) == ndim and len(set(letters)) == ndim and set(letters) <= set("TZYX") and letters.endswith("YX"):
        return letters
    return _AXES[ndim]


def _unit_name(unit: Any) -> str | None:
    """Our name of a napari (pint) unit, or None for pixels and units we do not know."""
    try:
        return canonical_unit(None if unit is None else str(unit))
    except ValueError:
        return None


def layer_calibration(ndim: int, meta: dict[str, Any]) -> Calibration:
    """The calibration of a layer from its ``scale``, ``units`` and ``axis_labels`` (npe2 writer metadata).

    Every spatial axis keeps its scale (Z as the ImageJ spacing), in the layer's unit of X when it has
    one (napari >= 0.6 layers have ``units``); a scale given in napari's default unit, the pixel, is taken
    as micrometres, the usual unit of microscopy scales. Scales of 1 in pixels mean "uncalibrated".
    """
    axes = layer_axes(ndim, meta.get("axis_labels"))
    scale = [float(s) for s in (meta.get("scale") or [1.0] * ndim)][-ndim:]
    units = list(meta.get("units") or [None] * ndim)[-ndim:]
    if len(scale) != ndim:
        return Calibration.uncalibrated(axes)
    names = [_unit_name(u) for u in units] if len(units) == ndim else [None] * ndim
    spatial = [i for i, a in enumerate(axes) if a in SPATIAL_LETTERS]
    lengths = [names[i] for i in spatial if names[i] in LENGTH_UNITS]
    unit = names[axes.index("X")] if names[axes.index("X")] in LENGTH_UNITS else (lengths[0] if lengths else None)
    sizes: dict[str, float] = {}
    if unit is not None or any(scale[i] != 1.0 for i in spatial):
        unit = unit or DEFAULT_UNIT
        for i in spatial:
            own = names[i] if names[i] in LENGTH_UNITS else unit
            sizes[axes[i]] = convert_length(scale[i], own, unit)
    time_unit = None
    if "T" in axes:
        t = axes.index("T")
        time_unit = names[t] if names[t] in TIME_UNITS else None
        if time_unit is not None:
            sizes["T"] = scale[t]
    return Calibration(axes, sizes, unit if sizes else None, time_unit)


def write_labels(path: str, data: Any, meta: dict[str, Any]) -> list[str]:
    """Write one Labels layer to a TIFF file (npe2 single-layer writer).

    Parameters
    ----------
    path : str
        Destination ending in ``.tif`` or ``.tiff``.
    data : array-like
        The layer's data (2D to 5D labels).
    meta : dict
        The layer's attributes: ``scale`` (every spatial axis is kept: Y/X as the TIFF resolution, Z as the
        ImageJ spacing), ``units`` and ``axis_labels`` when napari gives them (see :func:`layer_calibration`).

    Returns
    -------
    list of str
        The path written.

    """
    array = np.asarray(data)
    if array.ndim not in _AXES:
        raise ValueError(f"labels with {array.ndim} axes cannot be written as TIFF: give 2 to 5 axes")
    calibration = layer_calibration(array.ndim, meta)
    written = write_tiff(path, _compact(array), calibration.axes, calibration=calibration)
    logger.info("wrote labels %s %s to %s (%s)", array.shape, array.dtype, written, calibration.describe())
    return [str(written)]
