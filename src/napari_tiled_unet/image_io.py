"""Reading images and writing results as TIFF (compressed, ImageJ-readable) or OME-Zarr, with clear errors.

Results keep the calibration of their input (pixel size, Z spacing, frame interval, unit, axes): read it with
:func:`read_image_and_calibration` or :func:`tiff_calibration` and give it to :func:`write_tiff` or
:func:`write_zarr`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tifffile

from napari_tiled_unet.atomic import atomic_path
from napari_tiled_unet.calibration import (
    Calibration,
    imagej_calibration_arguments,
    read_calibration,
    shaped_calibration_arguments,
)
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
    data, calibration = read_image_and_calibration(path)
    return data, calibration.axes


def read_image_and_calibration(path: str | Path) -> tuple[np.ndarray, Calibration]:
    """Read a TIFF image with its calibration: axis letters, pixel size per axis and unit.

    The calibration comes from the OME-XML (``PhysicalSizeX/Y/Z``, ``TimeIncrement``), the ImageJ
    description (resolution, ``spacing``, ``finterval``, ``unit``) or the resolution tags; see
    :func:`napari_tiled_unet.calibration.read_calibration`.

    Raises
    ------
    ImageFileError
        If the file is missing, not a TIFF, unreadable, or holds no numeric image.

    """
    path = _existing_file(path)
    try:
        with tifffile.TiffFile(path) as tif:
            if not tif.series:
                raise ImageFileError(f"{path} holds no image: give a TIFF with image data")
            series = tif.series[0]
            data = series.asarray()
            axes = _normalise_axes(series.axes, data.ndim)
            calibration = read_calibration(tif, axes)
    except ImageFileError:
        raise
    except MemoryError:
        raise
    except Exception as err:
        raise ImageFileError(f"{path} is not a readable TIFF image ({type(err).__name__}: {err}): "
                             "give a .tif/.tiff file (convert other formats with Fiji or napari)") from None
    if data.dtype.kind not in "biuf":
        raise ImageFileError(f"{path} has pixel type {data.dtype} which is not numeric: give a grey-scale or RGB TIFF")
    return data, calibration


def tiff_calibration(path: str | Path) -> Calibration:
    """The calibration of a TIFF's first series, from its header only (nothing of the image is read)."""
    path = _existing_file(path)
    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            return read_calibration(tif, _normalise_axes(series.axes, len(series.shape)))
    except Exception as err:
        raise ImageFileError(f"{path} is not a readable TIFF image ({type(err).__name__}): give a .tif file") from None


def _existing_file(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise ImageFileError(f"image file {path} does not exist: check the path")
    if path.is_dir():
        raise ImageFileError(f"image path {path} is a folder: give a .tif file")
    return path


def _normalise_axes(axes: str, ndim: int) -> str:
    """Map tifffile's axis letters to ours: 'S' (samples, RGB) stays, 'Q'/'I' (unknown) become leading axes."""
    axes = axes.upper()
    if len(axes) != ndim:
        return "YX" if ndim == 2 else ("Q" * (ndim - 2)) + "YX"
    return axes


def write_tiff(path: str | Path, data: np.ndarray, axes: str, resolution: Sequence[float] | None = None,
               calibration: Calibration | None = None) -> Path:
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
        Pixel size (Y, X) in micrometres (a shorthand for a ``calibration`` with these two sizes).
    calibration : Calibration, optional
        Pixel size per axis letter and unit (of the input, usually): stored as the TIFF resolution, the
        ImageJ ``spacing`` (Z), ``finterval`` (T) and ``unit``; non-ImageJ files (uint32 labels) keep it in
        their tifffile metadata, where :func:`read_image_and_calibration` finds it again.

    """
    path = Path(path)
    if path.suffix.lower() not in TIFF_SUFFIXES:
        raise ValueError(f"output {path} must end in .tif or .tiff: rename it")
    if len(axes) != data.ndim:
        raise ValueError(f"axes {axes!r} do not match the {data.ndim} axes of the data")
    if resolution is not None and calibration is not None:
        raise ValueError("give the pixel size as resolution or as calibration, not both")
    if resolution is not None:
        calibration = Calibration(axes, {"Y": float(resolution[-2]), "X": float(resolution[-1])}, "um")
    calibration = (calibration or Calibration.uncalibrated(axes)).for_axes(axes.upper())
    axes = _imagej_axes(axes)
    imagej = data.dtype in _IMAGEJ_DTYPES and len(set(axes)) == len(axes) and set(axes) <= set("TZCYXS")
    if imagej:
        order = sorted(range(len(axes)), key=lambda i: "TZCYXS".index(axes[i]))
        data = np.transpose(data, order)
        axes = "".join(axes[i] for i in order)
    extra, calibration_metadata = (imagej_calibration_arguments if imagej else shaped_calibration_arguments)(
        calibration.for_axes(axes))
    kwargs: dict = {"compression": "zlib", "photometric": "minisblack", **extra}
    metadata: dict = {"axes": axes, **calibration_metadata}
    try:
        with atomic_path(path) as tmp:
            tifffile.imwrite(tmp, data, imagej=imagej, metadata=metadata, **kwargs)
    except OSError as err:
        raise ValueError(f"cannot write {path}: {err.strerror or err}; choose a writable location") from None
    return path


def _imagej_axes(axes: str) -> str:
    """ImageJ has no 'Q' axis; treat unknown leading axes as time."""
    return "".join("T" if a in "QI" else a for a in axes)


LAZY_CHUNK_EDGE = {"Y": 1024, "X": 1024, "Z": 64}


def tiff_info(path: str | Path) -> tuple[tuple[int, ...], np.dtype, str]:
    """Shape, pixel type and axis letters of a TIFF's first series, from its header only."""
    path = _existing_file(path)
    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            shape, dtype, axes = tuple(int(s) for s in series.shape), np.dtype(series.dtype), series.axes
    except Exception as err:
        raise ImageFileError(f"{path} is not a readable TIFF image ({type(err).__name__}): give a .tif file") from None
    return shape, dtype, _normalise_axes(axes, len(shape))


def _read_region(path: str, region: tuple[slice, ...]) -> np.ndarray:
    """Read one region of a TIFF.

    Through a memory map when the TIFF is uncompressed and contiguous (only the pages touched are read),
    else through tifffile's zarr interface (only the strips or tiles touched are decoded).
    """
    try:
        mapped = tifffile.memmap(path, mode="r")
    except (ValueError, OSError):
        mapped = None
    if mapped is not None:
        return np.array(mapped[region])
    import zarr

    with tifffile.imread(path, aszarr=True) as store:
        array = zarr.open(store, mode="r")
        if not hasattr(array, "shape"):  # a multi-resolution group: level 0 is the full image
            array = array["0"]
        return np.asarray(array[region])


def open_tiff_lazy(path: str | Path) -> tuple[object, str]:
    """A lazy dask array over a TIFF of any size, read region by region, and its axis letters.

    The graph holds only the path, so a dask.distributed cluster whose workers share the file system reads
    the file where the work runs (nothing is shipped from the client).
    """
    import dask.array as da

    shape, dtype, axes = tiff_info(path)
    chunks = tuple(min(LAZY_CHUNK_EDGE.get(a, 1 if a in "TQ" else s), s) for a, s in zip(axes, shape))
    source = str(Path(path).resolve())

    def read(block_info: dict | None = None) -> np.ndarray:
        location = block_info[None]["array-location"]
        return _read_region(source, tuple(slice(a, b) for a, b in location))

    lazy = da.map_blocks(read, chunks=da.core.normalize_chunks(chunks, shape), dtype=dtype,
                         meta=np.empty((0,) * len(shape), dtype=dtype), name=f"tiff-{tokenize_path(source)}")
    return lazy, axes


def tokenize_path(path: str) -> str:
    """A stable token for a file's path, size and modification time (dask task names)."""
    from dask.base import tokenize

    stat = os.stat(path)
    return tokenize(path, stat.st_size, stat.st_mtime_ns)


def write_zarr(path: str | Path, data: object, axes: str, calibration: Calibration | None = None) -> Path:
    """Write a (lazy or in-memory) array as an OME-Zarr image (NGFF 0.4), atomically.

    The store is a zarr (format 2) group whose ``multiscales`` metadata names every axis with its type and
    unit and gives the pixel size as the ``scale`` transformation, so napari (napari-ome-zarr), Fiji and
    other OME-Zarr readers show it at its physical size. The array is the group's dataset ``"0"``, in the
    order NGFF asks for (time, channel, space); the group attribute ``"axes"`` gives its letters. A
    temporary store is renamed at the end.

    Raises
    ------
    ValueError
        If the store exists, its folder does not, or the axes cannot be written as OME-Zarr (more than 5,
        or an unknown axis next to a channel axis): write a TIFF instead.

    """
    import dask.array as da

    from napari_tiled_unet.ome_zarr import create_image_array, ngff_multiscales, ngff_order

    path = Path(path)
    if path.exists():
        raise ValueError(f"output {path} exists: remove it or choose another name (zarr stores are not overwritten)")
    if not path.parent.is_dir():
        raise ValueError(f"cannot write {path}: folder {path.parent} does not exist; create it first")
    axes = axes.upper()
    order = ngff_order(axes)
    stored_axes = "".join(axes[i] for i in order)
    calibration = (calibration or Calibration.uncalibrated(axes)).for_axes(stored_axes)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    lazy = data if isinstance(data, da.Array) else da.from_array(np.asarray(data))
    lazy = lazy.transpose(order)
    chunks = tuple(min(512 if a in "YX" else 64 if a == "Z" else 1, s) if a not in "CS" else s
                   for a, s in zip(stored_axes, lazy.shape))
    try:
        group, target = create_image_array(tmp, lazy.shape, chunks, lazy.dtype)
        group.attrs.update({"multiscales": ngff_multiscales(calibration, name=path.stem), "axes": stored_axes})
        da.store(lazy.rechunk(chunks), target, lock=False)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path
