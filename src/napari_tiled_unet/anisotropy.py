"""Per-axis pooling and kernels planned from the voxel size, the way nnU-Net plans them.

Confocal and light-sheet stacks have a Z step 2-5 times the pixel size. Pooling Z as often as X and Y then
leaves a nucleus 8 planes tall with 2 planes after two poolings, and a 3x3x3 kernel over such coarse planes
mostly mixes unrelated structures. nnU-Net (Isensee et al. 2021, ``get_pool_and_conv_props``) plans each
pooling step from the current voxel spacing instead, and so does :func:`plan_pooling`:

- **pooling**: an axis is pooled (factor 2) at a step only while its current spacing is less than ``ratio``
  (2) times the finest current spacing; the finest axis is always pooled. Pooling doubles the spacing of the
  pooled axes, so a coarse axis joins once the others have caught up;
- **kernels**: a level convolves with 3 along an axis once that axis's current spacing is less than
  ``ratio`` times the finest one, and with 1 (within planes only) before; once 3, it stays 3. The bottom
  level always uses 3 on every axis (it sees the coarsest, near-isotropic features).

Ratios within 1e-6 of ``ratio`` count as equal to it (so 0.6 / 0.3 is 2, not 1.9999999999999998). The depth
is given, not derived from a patch size as nnU-Net does: every step pools at least the finest axis.

:func:`planned_config` is what training applies (``TrainingConfig.anisotropy="auto"``): the plan for an
anisotropic voxel size, unless the architecture already says how to pool and convolve. :func:`relative_spacing`
(the voxel size in units of its finest axis) is the unit the training targets and augmentations measure in.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from napari_tiled_unet.checks import is_number
from napari_tiled_unet.config import UNetConfig
from napari_tiled_unet.per_axis import PerAxis, axis_names

#: Axes closer than this factor of the finest spacing are treated as comparable (nnU-Net's threshold).
ANISOTROPY_RATIO = 2.0
_TOLERANCE = 1e-6
#: Voxel sizes whose axes differ by less than this share are isotropic (file calibrations carry rounding).
ISOTROPY_TOLERANCE = 0.01
MODES = ("auto", "isotropic")
"""``auto``: plan the architecture and training patches from the voxel size; ``isotropic``: the classic net."""


@dataclass(frozen=True)
class PoolingPlan:
    """Per-axis pooling and kernels for a voxel size (see :func:`plan_pooling`).

    Attributes
    ----------
    pooling : tuple of tuples of int
        Per pooling step, the factor (1 or 2) of every spatial axis: ``UNetConfig.pooling``.
    kernels : tuple of tuples of int
        Per level, the kernel size (1 or 3) along every spatial axis: ``UNetConfig.kernels``.
    spacings : tuple of tuples of float
        The voxel size each level sees, per level (the first is the input's).

    """

    pooling: PerAxis
    kernels: PerAxis
    spacings: tuple[tuple[float, ...], ...]

    @property
    def isotropic(self) -> bool:
        """True when the plan is the classic net: every axis pooled by 2 and convolved by 3 everywhere."""
        return all(f == 2 for step in self.pooling for f in step) and all(k == 3 for lv in self.kernels for k in lv)

    def config_kwargs(self) -> dict[str, Any]:
        """``pooling`` and ``kernels`` as keyword arguments of :class:`~napari_tiled_unet.UNetConfig`."""
        return {"pooling": self.pooling, "kernels": self.kernels}


def check_voxel_size(voxel_size: Any, dims: int | None = None) -> tuple[float, ...]:
    """Validate a voxel size (one positive finite number per spatial axis, slowest first) and return it.

    Raises
    ------
    ValueError
        If it is not 2 or 3 (or ``dims``) positive finite numbers.

    """
    wanted = f"{dims}" if dims is not None else "2 or 3"
    example = "(2.0, 0.5, 0.5)" if dims != 2 else "(0.5, 0.5)"
    names = axis_names(dims) if dims is not None else "ZYX"
    fix = f"give {wanted} positive sizes, one per spatial axis ({', '.join(names)}), e.g. {example}"
    if isinstance(voxel_size, (str, bytes)) or not isinstance(voxel_size, Sequence):
        raise ValueError(f"voxel_size={voxel_size!r} is invalid: {fix}")
    if len(voxel_size) not in ((dims,) if dims is not None else (2, 3)) or not all(
        is_number(v) and math.isfinite(v) and v > 0 for v in voxel_size
    ):
        raise ValueError(f"voxel_size={tuple(voxel_size)!r} is invalid: {fix}")
    return tuple(float(v) for v in voxel_size)


def plan_pooling(voxel_size: Sequence[float], depth: int, ratio: float = ANISOTROPY_RATIO) -> PoolingPlan:
    """Plan per-axis pooling and kernel sizes of a U-Net of ``depth`` levels for a voxel size.

    Parameters
    ----------
    voxel_size : sequence of float
        Physical size of a pixel along every spatial axis, slowest first (Z, Y, X), in any one unit.
    depth : int
        Number of resolution levels (``depth - 1`` pooling steps), 1 to 8.
    ratio : float
        An axis is pooled, and convolved with 3, while its spacing is less than ``ratio`` times the finest
        (default 2, nnU-Net's rule; must be above 1).

    Returns
    -------
    PoolingPlan
        ``pooling`` (``depth - 1`` steps) and ``kernels`` (``depth`` levels) for ``UNetConfig``; isotropic voxels
        give the classic net (2 and 3 everywhere).

    Raises
    ------
    ValueError
        If the voxel size, the depth or the ratio is invalid.

    Examples
    --------
    >>> plan = plan_pooling((2.0, 1.0, 1.0), depth=4)
    >>> plan.pooling
    ((1, 2, 2), (2, 2, 2), (2, 2, 2))
    >>> plan.kernels
    ((1, 3, 3), (3, 3, 3), (3, 3, 3), (3, 3, 3))

    """
    spacing = list(check_voxel_size(voxel_size))
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= 8:
        raise ValueError(f"depth={depth!r} is invalid: use an integer from 1 to 8")
    if not is_number(ratio) or not math.isfinite(ratio) or ratio <= 1:
        raise ValueError(f"ratio={ratio!r} is invalid: use a number above 1 (nnU-Net uses 2)")
    limit = float(ratio) * (1.0 - _TOLERANCE)
    kernel = [1] * len(spacing)
    pooling, kernels, spacings = [], [], [tuple(spacing)]
    for _ in range(depth - 1):
        finest = min(spacing)
        comparable = [s / finest < limit for s in spacing]
        kernel = [3 if k == 3 or near else 1 for k, near in zip(kernel, comparable)]
        kernels.append(tuple(kernel))
        pooling.append(tuple(2 if near else 1 for near in comparable))
        spacing = [s * f for s, f in zip(spacing, pooling[-1])]
        spacings.append(tuple(spacing))
    kernels.append((3,) * len(spacing))
    return PoolingPlan(pooling=tuple(pooling), kernels=tuple(kernels), spacings=tuple(spacings))


def config_for_voxel_size(config: UNetConfig, voxel_size: Sequence[float],
                          ratio: float = ANISOTROPY_RATIO) -> UNetConfig:
    """``config`` with the pooling and kernels :func:`plan_pooling` plans for its depth and this voxel size.

    Raises
    ------
    ValueError
        If the voxel size does not have one positive size per spatial axis of the config.

    """
    check_voxel_size(voxel_size, config.dims)
    plan = plan_pooling(voxel_size, config.depth, ratio)
    return dataclasses.replace(config, **plan.config_kwargs())


def relative_spacing(voxel_size: Sequence[float]) -> tuple[float, ...]:
    """The voxel size in units of its finest axis: ``(1.0, 0.5, 0.5)`` gives ``(2.0, 1.0, 1.0)``.

    Raises
    ------
    ValueError
        If the voxel size is invalid.

    """
    sizes = check_voxel_size(voxel_size)
    finest = min(sizes)
    return tuple(s / finest for s in sizes)


def is_anisotropic(voxel_size: Sequence[float] | None) -> bool:
    """True when some axis of the voxel size is more than :data:`ISOTROPY_TOLERANCE` coarser than the finest."""
    return voxel_size is not None and max(relative_spacing(voxel_size)) > 1.0 + ISOTROPY_TOLERANCE


def spatial_voxel_size(voxel_size: Sequence[float] | None, dims: int) -> tuple[float, ...] | None:
    """The voxel size of a model's ``dims`` spatial axes: the trailing ones (a 2D model on a stack takes Y, X).

    Raises
    ------
    ValueError
        If it has fewer sizes than the model has spatial axes (a 3D model with a 2D pixel size).

    """
    if voxel_size is None:
        return None
    sizes = check_voxel_size(voxel_size)
    if len(sizes) < dims:
        raise ValueError(f"voxel_size={sizes!r} has {len(sizes)} sizes but the model is {dims}D: give "
                         f"{dims} sizes ({', '.join(axis_names(dims))}), e.g. (2.0, 0.5, 0.5)")
    return sizes[len(sizes) - dims:]


def anisotropic_spacing(voxel_size: Sequence[float] | None, dims: int) -> tuple[float, ...] | None:
    """:func:`relative_spacing` of a model's spatial axes when they are anisotropic, else None (pixel units).

    What training measures distances in: None keeps every distance in pixels, as for isotropic voxels.

    Raises
    ------
    ValueError
        As :func:`spatial_voxel_size`.

    """
    sizes = spatial_voxel_size(voxel_size, dims)
    return relative_spacing(sizes) if is_anisotropic(sizes) else None


def planned_config(config: UNetConfig, voxel_size: Sequence[float] | None, mode: str = "auto",
                   ratio: float = ANISOTROPY_RATIO) -> UNetConfig:
    """The architecture training uses for images of this voxel size.

    ``mode="auto"`` with an anisotropic voxel size gives :func:`config_for_voxel_size`, unless ``config``
    already sets ``pooling`` or ``kernels`` (the user's choice wins). No voxel size, isotropic voxels or
    ``mode="isotropic"`` give ``config`` unchanged.

    Raises
    ------
    ValueError
        If the mode is unknown or the voxel size does not fit the model's spatial axes.

    """
    if mode not in MODES:
        raise ValueError(f"anisotropy={mode!r} is unknown: use one of {', '.join(MODES)}")
    sizes = spatial_voxel_size(voxel_size, config.dims)
    if mode == "isotropic" or not is_anisotropic(sizes) or config.pooling is not None or config.kernels is not None:
        return config
    return config_for_voxel_size(config, sizes, ratio)
