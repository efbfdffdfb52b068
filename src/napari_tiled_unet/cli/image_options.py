"""Options that say what a TIFF does not: ``--axes``, ``--voxel-size Z Y X`` and ``--channel-axis N``.

Shared by ``train`` and ``predict``.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path

from napari_tiled_unet.calibration import Calibration
from napari_tiled_unet.inference import CHANNEL_LETTERS


def add_image_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup, training: bool = False) -> None:
    """Add ``--axes``, ``--voxel-size`` and ``--channel-axis`` (``training``: of the training images)."""
    parser.add_argument("--axes", default=None,
                        help="axis letters of the input, e.g. YX, ZYX, TYX, CYX, YXS (default: from the TIFF)")
    parser.add_argument("--voxel-size", type=float, nargs="+", default=None, metavar="SIZE",
                        help="pixel size in micrometres: Y X, or Z Y X for stacks; overrides what the TIFF says"
                        + ("" if training else " (the results are written with it)"))
    parser.add_argument("--channel-axis", type=int, default=None, metavar="N",
                        help="axis of the input that holds the channels (0 = first, -1 = last), where the TIFF "
                        "does not say (e.g. a plain 3-channel TIFF of shape (3, H, W): --channel-axis 0)")


def checked_voxel_size(values: Sequence[float] | None) -> tuple[float, ...] | None:
    """``--voxel-size`` as a tuple, after checking its count and values.

    Raises
    ------
    ValueError
        For a count other than 2 or 3 or a size that is not a positive number.

    """
    if values is None:
        return None
    shown = " ".join(f"{v:g}" for v in values)
    if len(values) not in (2, 3):
        raise ValueError(f"--voxel-size {shown} gives {len(values)} values: give 2 (Y X) or 3 (Z Y X) pixel sizes "
                         "in micrometres")
    if not all(math.isfinite(v) and v > 0 for v in values):
        raise ValueError(f"--voxel-size {shown} is invalid: pixel sizes must be positive numbers (micrometres)")
    return tuple(float(v) for v in values)


def resolve_axes(path: Path, shape: Sequence[int], file_axes: str, axes: str | None = None,
                 channel_axis: int | None = None) -> str:
    """The axis letters to use for an image: ``--axes``, else the file's, with ``--channel-axis`` marked ``'C'``.

    Raises
    ------
    ValueError
        If ``channel_axis`` is out of range, conflicts with ``axes`` or with a channel axis the file names
        elsewhere, or would leave fewer than two spatial axes.

    """
    letters = (axes or file_axes).upper()
    if channel_axis is None:
        return letters
    n = len(shape)
    if not -n <= channel_axis < n:
        raise ValueError(f"--channel-axis {channel_axis} is out of range for {path} with {n} axes (shape "
                         f"{tuple(shape)}): use 0 to {n - 1} (or -1 for the last)")
    index = channel_axis % n
    if axes is not None:
        if len(letters) == n and letters[index] not in CHANNEL_LETTERS:
            raise ValueError(f"--channel-axis {channel_axis} conflicts with --axes {axes}: axis {index} is "
                             f"{letters[index]!r} there; put C at position {index} of --axes, or give only one")
        return letters
    named = [i for i, a in enumerate(letters) if a in CHANNEL_LETTERS]
    if named and named != [index]:
        raise ValueError(f"{path} has its channel axis at {named[0]} (axes {letters}) but --channel-axis is "
                         f"{channel_axis}: drop --channel-axis, or name every axis with --axes")
    if n < 3:
        raise ValueError(f"{path} has {n} axes (shape {tuple(shape)}): it has no room for a channel axis besides Y "
                         "and X; drop --channel-axis")
    others = [a for i, a in enumerate(letters) if i != index]
    if letters[index] in "YX":  # the file's Y/X were wrong: the last two other axes are Y and X
        leading = [a for a in letters if a not in "YX" + CHANNEL_LETTERS][: len(others) - 2]
        others = [*leading, *("Q" * (len(others) - 2 - len(leading))), "Y", "X"]
    result = others[:index] + ["C"] + others[index:]
    return "".join(result)


def input_calibration(path: Path, file_calibration: Calibration, axes: str,
                      voxel_size: tuple[float, ...] | None) -> Calibration:
    """The calibration of an input with axes ``axes``: the file's, with ``--voxel-size`` (micrometres) applied."""
    calibration = file_calibration.for_axes(axes)
    if voxel_size is None:
        return calibration
    try:
        return calibration.with_voxel_size(voxel_size, unit="um")
    except ValueError as err:
        hint = "; or name its axes with --axes (e.g. ZYX)" if "Q" in axes else ""
        raise ValueError(f"--voxel-size for {path}: {err}{hint}") from None
