"""Size arithmetic of a valid-padding U-Net, one spatial axis at a time.

Along one axis the net is described by its pooling factors (one per pooling step, 1 or 2) and its kernel
sizes (one per level, 1 or 3). Following a size ``x`` through the net along that axis:

- level ``l`` of the contracting path: two convolutions of kernel ``k_l`` lose ``c_l = 2 * (k_l - 1)``
  pixels (4 for a 3-kernel, 0 for a 1-kernel); the max-pooling of factor ``p_l`` then needs a multiple of
  ``p_l`` and divides by it (a factor 1 keeps the size and its parity);
- the bottom level loses ``c_{D-1}``; on the way up, level ``l`` multiplies by ``p_l`` and loses ``c_l``.

Writing ``L_l`` for the pixels lost by the sub-network that starts at level ``l`` (counted at that level's
resolution), ``L_{D-1} = c_{D-1}`` and ``L_l = 2 * c_l + p_l * L_{l+1}``; the margin per side is ``L_0 / 2``.
For the isotropic net (every ``p = 2``, every ``k = 3``) this is ``3 * 2**depth - 4``. The divisibility
conditions fix the input size modulo ``prod(p_l)``, and every intermediate size grows with the input, so the
valid sizes are ``min_input_size + n * prod(p_l)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cache


def _conv_loss(kernel: int) -> int:
    """Pixels two convolutions of this kernel size remove along an axis (both sides together)."""
    return 2 * (kernel - 1)


def axis_margin(factors: Sequence[int], kernels: Sequence[int]) -> int:
    """Context lost per side along one axis, in input pixels.

    Parameters
    ----------
    factors : sequence of int
        Pooling factor of the axis at every pooling step (``depth - 1`` entries, 1 or 2).
    kernels : sequence of int
        Convolution kernel size of the axis at every level (``depth`` entries, 1 or 3).

    """
    lost = _conv_loss(kernels[-1])
    for factor, kernel in zip(reversed(factors), reversed(kernels[:-1])):
        lost = 2 * _conv_loss(kernel) + factor * lost
    return lost // 2


def axis_alignment(factors: Sequence[int]) -> int:
    """Grid of valid sizes and of tile origins along one axis: the product of its pooling factors."""
    return math.prod(int(f) for f in factors)


def axis_output_size(size: int, factors: Sequence[int], kernels: Sequence[int]) -> int | None:
    """Output size along one axis, or None if ``size`` is not a valid input size along it.

    The size is followed through the network: convolutions before every pooling (which needs a multiple of
    its factor), convolutions at the bottom, and on the way up an upsampling by the factor then convolutions.
    Every intermediate size must stay positive.
    """
    if size < 1:
        return None
    x = size
    for factor, kernel in zip(factors, kernels):
        x -= _conv_loss(kernel)
        if x <= 0 or x % factor:
            return None
        x //= factor
    x -= _conv_loss(kernels[-1])
    if x <= 0:
        return None
    for factor, kernel in zip(reversed(factors), reversed(kernels[:-1])):
        x = factor * x - _conv_loss(kernel)
        if x <= 0:
            return None
    return x


@cache
def axis_min_input_size(factors: tuple[int, ...], kernels: tuple[int, ...]) -> int:
    """Smallest valid input size along one axis (arguments as in :func:`axis_margin`, as tuples)."""
    size = 1
    while axis_output_size(size, factors, kernels) is None:
        size += 1
    return size


def axis_upsample_halo(factors: Sequence[int]) -> int:
    """Extra context per side that bilinear upsampling needs along one axis for exact tiling.

    Upsampling by 2 with ``align_corners=False`` clamps at the edge of every feature map: the first output
    pixel misses its outer neighbour. A corrupted width ``w`` becomes ``2 * w + 1`` at every factor-2
    upsampling and stays ``w`` through a factor-1 one (an identity) and through valid convolutions, so
    ``prod(factors) - 1`` output pixels per side are wrong. One pooling cell, ``prod(factors)``, covers them
    and keeps tile origins on the grid; an axis that is never pooled needs nothing.
    """
    cell = axis_alignment(factors)
    return cell if cell > 1 else 0


def isotropic_axis(depth: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Pooling factors and kernel sizes of one axis of the classic net: 2 at every step, 3 at every level."""
    return (2,) * (depth - 1), (3,) * depth


def margin(depth: int) -> int:
    """Context lost per side by an isotropic valid-padding U-Net of ``depth`` levels: ``3 * 2**depth - 4``."""
    return axis_margin(*isotropic_axis(depth))


def valid_output_size(size: int, depth: int) -> int | None:
    """Output size along one axis of an isotropic valid-padding U-Net, or None for an invalid input size."""
    return axis_output_size(size, *isotropic_axis(depth))


def min_input_size(depth: int) -> int:
    """Smallest valid input size of an isotropic valid-padding U-Net of ``depth`` levels."""
    return axis_min_input_size(*isotropic_axis(depth))
