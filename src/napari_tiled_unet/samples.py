"""Synthetic fluorescence-nuclei sample data shipped with the package.

The TIFF files are produced by ``sample_data/generate.py`` (deterministic, see ``sample_data/README.md``)
and located with :mod:`importlib.resources`. This module is part of the core: it imports no napari,
Qt or magicgui. The ``*_sample`` functions return napari layer data tuples ``(data, kwargs, layer_type)``
so that they can be registered as napari sample-data contributions.

Label conventions
-----------------
- ground truth: ``uint16`` instance ids, 0 = background, 1..N = nuclei (touching nuclei differ);
- scribbles (ilastik convention): ``uint8``, 0 = not annotated, 1 = background, 2 = nucleus.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

#: Names accepted by :func:`sample_path` (file names without the ``.tif`` suffix).
SAMPLE_NAMES: tuple[str, ...] = (
    "nuclei_2d",
    "nuclei_2d_labels",
    "nuclei_2d_scribbles",
    "nuclei_2d_test",
    "nuclei_2d_test_labels",
    "nuclei_3d",
    "nuclei_3d_labels",
)
#: Lateral pixel size of the 2D samples in micrometres.
PIXEL_SIZE_UM = 0.5
#: Voxel size ``(z, y, x)`` of the 3D sample in micrometres: a confocal stack with a Z step 2.5x its pixel size.
VOXEL_SIZE_3D_UM: tuple[float, float, float] = (1.0, 0.4, 0.4)
#: napari ``scale`` of the 3D sample: voxel size relative to its lateral pixel size.
SCALE_3D: tuple[float, float, float] = (2.5, 1.0, 1.0)
#: Scribble value of annotated background pixels.
SCRIBBLE_BACKGROUND = 1
#: Scribble value of annotated nucleus pixels.
SCRIBBLE_NUCLEUS = 2

LayerDataTuple = tuple[np.ndarray, dict[str, Any], str]


def _data_dirs() -> list[Path]:
    """Return candidate folders holding the sample files, preferred first."""
    candidates = [Path(str(resources.files("napari_tiled_unet") / "sample_data"))]
    # source checkout without a working symlink (e.g. on Windows): <repo>/sample_data
    candidates.append(Path(__file__).resolve().parents[2] / "sample_data")
    return candidates


def sample_path(name: str) -> Path:
    """Return the path of a sample TIFF file.

    Parameters
    ----------
    name : str
        One of :data:`SAMPLE_NAMES`, with or without the ``.tif`` suffix.

    Returns
    -------
    pathlib.Path
        Path of the existing file.

    Raises
    ------
    ValueError
        If ``name`` is not a known sample.
    FileNotFoundError
        If the sample files are missing from the installation.

    """
    stem = name.removesuffix(".tif")
    if stem not in SAMPLE_NAMES:
        raise ValueError(f"unknown sample {name!r}: choose one of {', '.join(SAMPLE_NAMES)}")
    for folder in _data_dirs():
        path = folder / f"{stem}.tif"
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"sample file {stem}.tif not found in {_data_dirs()[0]}: "
        "regenerate it with `python sample_data/generate.py` in a source checkout"
    )


def _read(name: str) -> np.ndarray:
    """Read one sample file into memory."""
    return tifffile.imread(sample_path(name))


def load_nuclei_2d() -> dict[str, np.ndarray]:
    """Load the 512x512 2D nuclei training sample.

    Returns
    -------
    dict of str to np.ndarray
        ``"image"`` (``uint16``), ``"labels"`` (``uint16`` instance ids, 0 = background) and
        ``"scribbles"`` (``uint8``: 0 = not annotated, 1 = background, 2 = nucleus).

    """
    return {
        "image": _read("nuclei_2d"),
        "labels": _read("nuclei_2d_labels"),
        "scribbles": _read("nuclei_2d_scribbles"),
    }


def load_nuclei_2d_test() -> dict[str, np.ndarray]:
    """Load the held-out 256x256 2D nuclei sample used for evaluation.

    Returns
    -------
    dict of str to np.ndarray
        ``"image"`` (``uint16``) and ``"labels"`` (``uint16`` instance ids, 0 = background).

    """
    return {"image": _read("nuclei_2d_test"), "labels": _read("nuclei_2d_test_labels")}


def load_nuclei_3d() -> dict[str, np.ndarray]:
    """Load the confocal-like 3D nuclei stack ``(Z, Y, X)``, voxel size :data:`VOXEL_SIZE_3D_UM`.

    32 x 192 x 192 voxels; nuclei are about 10 planes tall and 25 pixels wide.

    Returns
    -------
    dict of str to np.ndarray
        ``"image"`` (``uint16``) and ``"labels"`` (``uint16`` instance ids, 0 = background).

    """
    return {"image": _read("nuclei_3d"), "labels": _read("nuclei_3d_labels")}


def _contrast_limits(image: np.ndarray) -> tuple[float, float]:
    """Return display contrast limits from robust percentiles of ``image``."""
    lo, hi = np.percentile(image, (0.1, 99.9))
    return float(lo), float(max(hi, lo + 1))


def nuclei_2d_sample() -> list[LayerDataTuple]:
    """Return the 2D sample as napari layer data tuples.

    Returns
    -------
    list of tuple
        Image layer ``"nuclei 2D"``, hidden labels layer ``"nuclei 2D ground truth"`` and labels layer
        ``"nuclei 2D scribbles"`` (1 = background, 2 = nucleus).

    """
    data = load_nuclei_2d()
    meta = {"pixel_size_um": PIXEL_SIZE_UM}
    image_kwargs = {
        "name": "nuclei 2D",
        "colormap": "gray",
        "contrast_limits": _contrast_limits(data["image"]),
        "metadata": dict(meta),
    }
    labels_kwargs = {"name": "nuclei 2D ground truth", "visible": False, "metadata": dict(meta)}
    return [
        (data["image"], image_kwargs, "image"),
        (data["labels"], labels_kwargs, "labels"),
        (data["scribbles"], {"name": "nuclei 2D scribbles", "metadata": dict(meta)}, "labels"),
    ]


def nuclei_3d_sample() -> list[LayerDataTuple]:
    """Return the 3D sample as napari layer data tuples with anisotropic ``scale`` :data:`SCALE_3D`.

    Returns
    -------
    list of tuple
        Image layer ``"nuclei 3D"`` and hidden labels layer ``"nuclei 3D ground truth"``; both carry
        ``scale=SCALE_3D`` and the voxel size in micrometres in ``metadata["voxel_size_um"]``.

    """
    data = load_nuclei_3d()
    meta = {"voxel_size_um": VOXEL_SIZE_3D_UM}
    image_kwargs = {
        "name": "nuclei 3D",
        "colormap": "gray",
        "contrast_limits": _contrast_limits(data["image"]),
        "scale": SCALE_3D,
        "metadata": dict(meta),
    }
    labels_kwargs = {
        "name": "nuclei 3D ground truth",
        "visible": False,
        "scale": SCALE_3D,
        "metadata": dict(meta),
    }
    return [(data["image"], image_kwargs, "image"), (data["labels"], labels_kwargs, "labels")]
