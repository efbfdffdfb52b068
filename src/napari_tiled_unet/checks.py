"""Validation of configuration values, with one-line messages that name the value and the range to use.

Shared by every frozen configuration of the package (training, augmentation, post-processing...), so that a
bad value is reported the same way wherever it is set.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def is_number(value: Any) -> bool:
    """True for an int or float (numpy scalars included), False for bools and everything else."""
    return not isinstance(value, (bool, np.bool_)) and isinstance(value, (int, float, np.integer, np.floating))


def check_int(name: str, value: Any, low: int, high: int) -> None:
    """Raise ValueError unless ``value`` is an integer (not a bool) in ``[low, high]``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise ValueError(f"{name}={value!r} is invalid: use an integer from {low} to {high}")


def check_float(name: str, value: Any, low: float, high: float) -> None:
    """Raise ValueError unless ``value`` is a finite number in ``[low, high]``."""
    if not is_number(value) or not math.isfinite(value) or not low <= value <= high:
        raise ValueError(f"{name}={value!r} is invalid: use a number from {low:g} to {high:g}")


def check_fraction(name: str, value: Any) -> None:
    """Raise ValueError unless ``value`` is a probability in ``[0, 1)``."""
    if not is_number(value) or not 0.0 <= value < 1.0:
        raise ValueError(f"{name}={value!r} is invalid: use a probability in [0, 1)")
