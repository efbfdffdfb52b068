"""Reading images and writing results as TIFF (compressed, ImageJ-readable), with clear errors."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tifffile

from napari_tiled_unet.atomic import atomic_path
from napari_tiled_unet.errors import ImageFileError

TIFF_SUFFIXES = (".tif", ".tiff")
_IMAGEJ_DTYPES = (np.uint8, np.uint16, np.float32)


def read_image(path: str | Path) -> tuple[np.ndarray, str]:
    """Read a TIFF image and its axis letters (``'YX'``, ``'ZYX'``, ``'CYX'``, ``'YXS'`` for RGB...).

    Raises
    ------
    ImageFileError
        If the file is missing, not a TIFF, unreadable, or holds no numeric image.

    """
    path = Path(path)
    if not path.exists():
        raise ImageFileError(f"image file {path} does not exist: check the path")
    if path.is_dir():
        raise ImageFileError(f"image path {path} is a folder: give a .tif file")
    try:
        with tifffile.TiffFile(path) as tif:
            if not tif.series:
                raise ImageFileError(f"{path} holds no image: give a TIFF with image data")
            series = tif.series[0]
            data = series.asarray()
            axes = series.axes
    except ImageFileError:
        raise
    except MemoryError:
        raise
    except Exception as err:
        raise ImageFileError(f"{path} is not a readable TIFF image ({type(err).__name__}: {err}): "
                             "give a .tif/.tiff file (convert other formats with Fiji or napari)") from None
    if data.dtype.kind not in "biuf":
        raise ImageFileError(f"{path} has pixel type {data.dtype} which is not numeric: give a grey-scale or RGB TIFF")
    return data, _normalise_axes(axes, data.ndim)


def _normalise_axes(axes: str, ndim: int) -> str:
    """Map tifffile's axis letters to ours: 'S' (samples, RGB) stays, 'Q'/'I' (unknown) become leading axes."""
    axes = axes.upper()
    if len(axes) != ndim:
        return "YX" if ndim == 2 else ("Q" * (ndim - 2)) + "YX"
    return axes


def write_tiff(path: str | Path, data: np.ndarray, axes: str, resolution: Sequence[float] | None = None) -> Path:
    """Write ``data`` as a zlib-compressed TIFF, atomically, ImageJ-readable when the pixel type allows.

    Parameters
    ----------
    path : str or Path
        Destination ``.tif`` file.
    data : numpy.ndarray
        The array; uint8, uint16 and float32 are written as ImageJ hyperstacks.
    axes : str
        Axis letters of ``data`` (e.g. ``'YX'``, ``'ZYX'``, ``'CYX'``, ``'TZCYX'``).
    resolution : sequence of float, optional
        Pixel size (Y, X) in micrometres, stored as the TIFF resolution.

    """
    path = Path(path)
    if path.suffix.lower() not in TIFF_SUFFIXES:
        raise ValueError(f"output {path} must end in .tif or .tiff: rename it")
    if len(axes) != data.ndim:
        raise ValueError(f"axes {axes!r} do not match the {data.ndim} axes of the data")
    axes = _imagej_axes(axes)
    imagej = data.dtype in _IMAGEJ_DTYPES and len(set(axes)) == len(axes) and set(axes) <= set("TZCYXS")
    if imagej:
        order = sorted(range(len(axes)), key=lambda i: "TZCYXS".index(axes[i]))
        data = np.transpose(data, order)
        axes = "".join(axes[i] for i in order)
    kwargs: dict = {"compression": "zlib", "photometric": "minisblack"}
    metadata: dict = {"axes": axes}
    if resolution is not None:
        kwargs["resolution"] = (1.0 / float(resolution[-1]), 1.0 / float(resolution[-2]))
        metadata["unit"] = "um"
    try:
        with atomic_path(path) as tmp:
            tifffile.imwrite(tmp, data, imagej=imagej, metadata=metadata, **kwargs)
    except OSError as err:
        raise ValueError(f"cannot write {path}: {err.strerror or err}; choose a writable location") from None
    return path


def _imagej_axes(axes: str) -> str:
    """ImageJ has no 'Q' axis; treat unknown leading axes as time."""
    return "".join("T" if a in "QI" else a for a in axes)
