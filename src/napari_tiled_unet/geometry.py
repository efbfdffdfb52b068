"""Size arithmetic of a valid-padding U-Net (two 3x3 convolutions per level, 2x2 pooling, x2 upsampling).

Every level loses 2 pixels per side per convolution at its own resolution, so the context lost per side is
``3 * 2**depth - 4`` input pixels. An input size is valid when every max-pooling sees an even size and the
output is not empty; valid sizes are ``min_input_size(depth) + k * 2**(depth - 1)``.
"""

from __future__ import annotations

from functools import cache


def margin(depth: int) -> int:
    """Context lost per side by a valid-padding U-Net of ``depth`` levels, in input pixels."""
    return 3 * 2**depth - 4


def valid_output_size(size: int, depth: int) -> int | None:
    """Output size along one axis of a valid-padding U-Net, or None if ``size`` is not a valid input size.

    The size is followed through the network: two 3x3 convolutions (-4) before every pooling, which needs an
    even size, two at the bottom, and on the way up a x2 upsampling then two convolutions.
    """
    if size < 1:
        return None
    x = size
    for _ in range(depth - 1):
        x -= 4
        if x <= 0 or x % 2:
            return None
        x //= 2
    x -= 4
    if x <= 0:
        return None
    for _ in range(depth - 1):
        x = 2 * x - 4
        if x <= 0:
            return None
    return x


@cache
def min_input_size(depth: int) -> int:
    """Smallest valid input size of a valid-padding U-Net of ``depth`` levels."""
    size = 1
    while valid_output_size(size, depth) is None:
        size += 1
    return size
