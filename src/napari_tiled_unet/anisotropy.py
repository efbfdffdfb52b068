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
