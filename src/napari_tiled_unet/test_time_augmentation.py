"""Test-time augmentation: the 8 flips and rotations of the image plane, each predicted with the exact tiling.

Every transformed copy of a plane runs through the same overlap-tile engine (so each pass equals one pass over
the whole transformed image), its logits are transformed back and the logits of all passes are averaged. In 3D
the transforms act on the Y and X axes (the plane of the microscope, where a volume is symmetric), never on Z.
It costs one prediction per transform (8x), so it is off by default, except where a model file recommends it
(``metadata["prediction"]["tta"]``, set for builtin:nuclei, where it was measured to pay: zero-shot F1@0.5 on
the stand-in for real nuclei 0.854 -> 0.899 (without shrinking large objects), ImageJ blobs 0.610 -> 0.660, the
synthetic sample 0.973 -> 0.987, BBBC007 painted recall 0.905 either way) and only for one 2D image in memory
(a stack would cost 8x per plane). A model fine-tuned from builtin:nuclei does not inherit the recommendation:
on 13 such models (120 s each, the annotation habits of ``benchmarks/bench_real.py``) TTA changed held-out F1
by -0.026 to +0.030, a mean of 0.00.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

TRANSFORMS: tuple[tuple[int, bool], ...] = tuple((k, flip) for k in range(4) for flip in (False, True))
"""``(quarter turns, flip of X after turning)``: the dihedral group of the square, identity first."""


def tta_recommended(net: Any) -> bool:
    """Whether the model file recommends test-time augmentation (``metadata["prediction"]["tta"]`` is true)."""
    prediction = (getattr(net, "metadata", None) or {}).get("prediction") or {}
    return prediction.get("tta") is True


def tta_applies(tta: bool | None, net: Any, n_loop: int, lazy: bool) -> bool:
    """Whether a prediction runs with test-time augmentation.

    Parameters
    ----------
    tta : bool or None
        The caller's choice; None: the model's recommendation (:func:`tta_recommended`), for a single 2D
        image in memory only (``n_loop == 0`` planes or time points around it, not ``lazy``).
    net : UNet
        The model.
    n_loop : int
        Number of loop axes (Z planes of a 2D model, time points) around the model's spatial axes.
    lazy : bool
        The image is read region by region (dask).

    """
    if tta is not None:
        return bool(tta)
    return tta_recommended(net) and n_loop == 0 and not lazy and net.config.dims == 2


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
