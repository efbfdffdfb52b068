"""OME-Zarr (OME-NGFF 0.4) image metadata: axes with their types and units, and the pixel size as a scale.

NGFF 0.4 stores an image as a zarr format 2 group: the ``multiscales`` attribute lists the axes (2 to 5; at
most one time axis first, then at most one channel or custom axis, then 2 or 3 space axes) and, for each
resolution level, the path of its array with a ``scale`` coordinate transformation. Arrays use ``/`` as the
chunk key separator.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from napari_tiled_unet.calibration import NGFF_UNITS, SPATIAL_LETTERS, Calibration

NGFF_VERSION = "0.4"
#: NGFF axis type of each of our axis letters ('Q' is an axis of unknown meaning: a custom type).
AXIS_TYPES: dict[str, str | None] = {"T": "time", "C": "channel", "S": "channel", "Z": "space", "Y": "space",
                                     "X": "space", "Q": None}
_TYPE_RANK = {"time": 0, "channel": 1, None: 1, "space": 2}


def ngff_order(axes: str) -> list[int]:
    """The permutation that puts ``axes`` in NGFF order (time, channel or custom, space), space axes as given.

    Raises
    ------
    ValueError
        If the axes cannot form an NGFF 0.4 image, with the reason and what to do.

    """
    unknown = [a for a in axes if a not in AXIS_TYPES]
    if unknown:
        raise ValueError(f"axes {axes!r} hold letters {unknown} that OME-Zarr cannot name: use T, C, Z, Y, X")
    types = [AXIS_TYPES[a] for a in axes]
    space = types.count("space")
    if not 2 <= len(axes) <= 5 or not 2 <= space <= 3 or types.count("time") > 1 or len(axes) - space - \
            types.count("time") > 1 or len(set(axes)) != len(axes):
        raise ValueError(f"an array with axes {axes!r} cannot be written as OME-Zarr 0.4 (2 to 5 axes: at most one "
                         "time axis, one channel axis and 2 or 3 space axes): write a .tif instead")
    return sorted(range(len(axes)), key=lambda i: (_TYPE_RANK[types[i]], i))


def ngff_axes(calibration: Calibration) -> list[dict[str, str]]:
    """The ``axes`` entries of a calibration's axes (names are the lower-case letters), with their units."""
    entries = []
    for letter in calibration.axes:
        kind = AXIS_TYPES[letter]
        entry: dict[str, str] = {"name": "c" if letter == "S" else letter.lower()}
        if kind is not None:
            entry["type"] = kind
        if letter in SPATIAL_LETTERS and calibration.unit is not None:
            entry["unit"] = NGFF_UNITS[calibration.unit]
        if letter == "T" and calibration.time_unit is not None:
            entry["unit"] = NGFF_UNITS[calibration.time_unit]
        entries.append(entry)
    return entries


def ngff_multiscales(calibration: Calibration, name: str, path: str = "0") -> list[dict[str, Any]]:
    """The ``multiscales`` attribute of a one-level OME-Zarr image with this calibration (in NGFF axis order)."""
    ngff_order(calibration.axes)  # raises for axes NGFF cannot hold
    scale = [float(s) for s in calibration.layer_scale()]
    return [{
        "version": NGFF_VERSION,
        "name": name,
        "axes": ngff_axes(calibration),
        "datasets": [{"path": path, "coordinateTransformations": [{"type": "scale", "scale": scale}]}],
    }]


def create_image_array(path: Path, shape: tuple[int, ...], chunks: tuple[int, ...], dtype: Any,
                       name: str = "0") -> tuple[Any, Any]:
    """Create an empty zarr format 2 group at ``path`` with one array ``name`` (``/`` chunk keys); return both."""
    import zarr

    dtype = np.dtype(dtype)
    if int(zarr.__version__.split(".")[0]) >= 3:
        group = zarr.open_group(str(path), mode="w", zarr_format=2)
        array = group.create_array(name, shape=shape, chunks=chunks, dtype=dtype,
                                   chunk_key_encoding={"name": "v2", "separator": "/"})
    else:  # zarr 2
        group = zarr.open_group(str(path), mode="w")
        array = group.create_dataset(name, shape=shape, chunks=chunks, dtype=dtype, dimension_separator="/")
    return group, array
