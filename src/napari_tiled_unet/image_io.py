"""Reading images and writing results as TIFF (compressed, ImageJ-readable), with clear errors."""

from __future__ import annotations

import os
import shutil
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


LAZY_CHUNK_EDGE = {"Y": 1024, "X": 1024, "Z": 64}


def tiff_info(path: str | Path) -> tuple[tuple[int, ...], np.dtype, str]:
    """Shape, pixel type and axis letters of a TIFF's first series, from its header only."""
    path = Path(path)
    if not path.exists():
        raise ImageFileError(f"image file {path} does not exist: check the path")
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


def write_zarr(path: str | Path, data: object, axes: str) -> Path:
    """Write a (lazy or in-memory) array to a zarr store, atomically: a temporary store renamed at the end."""
    import dask.array as da
    import zarr

    path = Path(path)
    if path.exists():
        raise ValueError(f"output {path} exists: remove it or choose another name (zarr stores are not overwritten)")
    if not path.parent.is_dir():
        raise ValueError(f"cannot write {path}: folder {path.parent} does not exist; create it first")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    lazy = data if isinstance(data, da.Array) else da.from_array(np.asarray(data))
    chunks = tuple(min(512 if a in "YX" else 64 if a == "Z" else 1, s) if a != "C" else s
                   for a, s in zip(axes, lazy.shape))
    try:
        target = zarr.open_array(str(tmp), mode="w", shape=lazy.shape, chunks=chunks, dtype=lazy.dtype)
        target.attrs["axes"] = axes
        da.store(lazy.rechunk(chunks), target, lock=False)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path
