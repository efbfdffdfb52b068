"""Test-time augmentation: the 8 flips and rotations of the image plane, each predicted with the exact tiling.

Every transformed copy of a plane runs through the same overlap-tile engine (so each pass equals one pass over
the whole transformed image), its logits are transformed back and the logits of all passes are averaged. In 3D
the transforms act on the Y and X axes (the plane of the microscope, where a volume is symmetric), never on Z.
It costs one prediction per transform (8x); on a CPU it is off by default.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

TRANSFORMS: tuple[tuple[int, bool], ...] = tuple((k, flip) for k in range(4) for flip in (False, True))
"""``(quarter turns, flip of X after turning)``: the dihedral group of the square, identity first."""


def forward(array: np.ndarray, transform: tuple[int, bool]) -> np.ndarray:
    """Apply a transform to the last two (Y, X) axes."""
    turns, flip = transform
    out = np.rot90(array, turns, axes=(-2, -1)) if turns else array
    return out[..., ::-1] if flip else out


def inverse(array: np.ndarray, transform: tuple[int, bool]) -> np.ndarray:
    """Undo :func:`forward` on the last two axes."""
    turns, flip = transform
    out = array[..., ::-1] if flip else array
    return np.rot90(out, -turns, axes=(-2, -1)) if turns else out


def predict_with_tta(predict: Callable[[np.ndarray], np.ndarray], plane: np.ndarray,
                     transforms: tuple[tuple[int, bool], ...] = TRANSFORMS) -> np.ndarray:
    """Mean logits of ``predict`` over transformed copies of a channel-first ``plane``.

    Parameters
    ----------
    predict : callable
        Maps a channel-first array ``(C, *spatial)`` to logits ``(K, *spatial)`` (the exact tiled engine).
    plane : numpy.ndarray
        The normalised plane ``(C, *spatial)``.
    transforms : tuple
        The transforms to average over (default: all 8).

    """
    if not transforms:
        raise ValueError("test-time augmentation needs at least one transform")
    total = np.array(inverse(predict(np.ascontiguousarray(forward(plane, transforms[0]))), transforms[0]),
                     dtype=np.float32, copy=True)
    for transform in transforms[1:]:
        total += inverse(predict(np.ascontiguousarray(forward(plane, transform))), transform)
    total /= np.float32(len(transforms))
    return total
