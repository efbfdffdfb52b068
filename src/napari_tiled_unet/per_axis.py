"""Per-axis tables of a U-Net architecture (pooling factors per step, kernel sizes per level) and axis names."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

PerAxis = tuple[tuple[int, ...], ...]
"""One row per pooling step (or level), one entry per spatial axis, slowest first."""


def axis_names(dims: int) -> str:
    """Names of the spatial axes, slowest first: ``"YX"`` or ``"ZYX"``."""
    return "ZYX"[-dims:]


_EXAMPLE = {"pooling": "((1, 2, 2), (2, 2, 2), (2, 2, 2))", "kernels": "((1, 3, 3), (3, 3, 3), (3, 3, 3), (3, 3, 3))"}


_TABLES = {"pooling": ("pooling step", (1, 2), -1), "kernels": ("level", (1, 3), 0)}


def check_per_axis_table(name: str, value: Any, depth: int, dims: int) -> PerAxis | None:
    """Validate ``UNetConfig.pooling`` or ``UNetConfig.kernels`` and return it as a tuple of tuples.

    A table of the default value everywhere (2 for pooling, 3 for kernels) becomes None, the isotropic default.

    Raises
    ------
    ValueError
        One line naming the value and the table to give instead.

    """
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        value = value.tolist()
    what, allowed, extra_rows = _TABLES[name]
    rows = depth + extra_rows
    fix = (f"give {rows} {what}s of {dims} values ({', '.join(axis_names(dims))}), each {allowed[0]} or "
           f"{allowed[1]}, e.g. {_EXAMPLE[name]} for depth 4 in 3D, or None for {allowed[1]} on every axis")
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != rows:
        count = f" ({len(value)} entries)" if isinstance(value, Sequence) and not isinstance(value, str) else ""
        raise ValueError(f"UNetConfig.{name}={value!r}{count} is invalid for depth {depth}: {fix}")
    table = []
    for row in value:
        if isinstance(row, (str, bytes)) or not isinstance(row, Sequence) or len(row) != dims or any(
            isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or int(v) not in allowed
            for v in row
        ):
            raise ValueError(f"UNetConfig.{name}={value!r} is invalid at {what} {len(table)} ({row!r}) for a "
                             f"{dims}D net: {fix}")
        table.append(tuple(int(v) for v in row))
    return None if all(v == allowed[1] for row in table for v in row) else tuple(table)
