"""Scribbles for an instance model: an object stroke stands for the start model's object it passes through.

People scribble: a stroke through some of the nuclei (2), strokes in the background (1), nothing else. A semantic
model learns that well but cannot separate touching nuclei (dense stand-in for real nuclei, 120 s: held-out F1
0.44-0.57 with clumps split by shape, foreground IoU 0.87-0.90). Fine-tuned from a model that separates objects
(``builtin:nuclei``), the strokes instead say which of its objects are right and where it is wrong, and its
outlines, boundaries and centre distance do the rest (same data, three runs: F1 0.89-0.91, foreground IoU 0.96;
``benchmarks/bench_real.py --only builtin-standin-c``). Before fine-tuning, the start
model predicts the training images once (as it predicts for a user, test-time augmentation and shrinking of large
objects included), and:

- an object of the start model that an object stroke passes through, and no background stroke, becomes a
  painted object (its outline is the start model's);
- an object a background stroke crosses is wrong there: it is left unannotated, the stroke stays background;
- an object stroke where the start model finds no object (a nucleus it missed) is taught as "some object" only
  (:data:`~napari_tiled_unet.training.labels.ANY_OBJECT`: not background, interior or boundary and the centre
  distance left to the network);
- objects no stroke touches stay unannotated.

The result is in the painted convention of :mod:`~napari_tiled_unet.training.sparse_instances` (1 = background,
2.. = objects), so the band just outside the objects and the flat far background are added as for painted
objects. This is used only when the start model fits the strokes (:func:`stroke_fit`): at least
:data:`OBJECT_STROKES_INSIDE` of the object strokes lie in its objects. On the maize section of the real-data
set (two tissue types scribbled with 1 and 2, no nuclei) builtin:nuclei holds 73-75% of the 2-strokes: not a fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from napari_tiled_unet.training.label_shapes import piece_elongations
from napari_tiled_unet.training.sparse_instances import PAINTED_BACKGROUND

FIRST_OBJECT = 2
STROKE_ELONGATION = 3.0
"""Object values whose pieces are longer than this many inscribed disks (median) are strokes: objects painted
completely measure 1.1-2.2, strokes through them 3-9 (see
:func:`~napari_tiled_unet.training.label_shapes.piece_elongations`)."""
OBJECT_STROKES_INSIDE = 0.8
"""Least share of the object-stroke pixels that must lie in the start model's objects for it to fit (synthetic and
real nuclei here: 0.97-1.00; background strokes crossing its objects are corrections, and do not count against
it)."""


@dataclass(frozen=True)
class StrokeFit:
    """How well a start model's objects agree with scribbles.

    Attributes
    ----------
    object_share : float
        Share of the object-stroke pixels (values 2..) that lie in its objects.
    background_share : float
        Share of the background-stroke pixels (value 1) that lie in its objects (0 without background strokes).

    """

    object_share: float
    background_share: float

    @property
    def fits(self) -> bool:
        """True when the start model's objects are what the object strokes mark."""
        return self.object_share >= OBJECT_STROKES_INSIDE

    def in_words(self, model: str = "the model to start from") -> str:
        """One line for the user, e.g. "builtin:nuclei finds objects under 97% of the object strokes ..."."""
        return (f"{model} finds objects under {self.object_share:.0%} of the object strokes and "
                f"{self.background_share:.0%} of the background strokes")


def stroke_fit(start_ids: Sequence[np.ndarray], labels: Sequence[np.ndarray]) -> StrokeFit:
    """How well the start model's objects (``start_ids``, one per label image) agree with the scribbles."""
    on_objects = objects_total = on_background = background_total = 0
    for ids, lab in zip(start_ids, labels, strict=True):
        inside, lab = np.asarray(ids) > 0, np.asarray(lab)
        strokes, background = lab >= FIRST_OBJECT, lab == PAINTED_BACKGROUND
        on_objects += int(np.count_nonzero(inside & strokes))
        objects_total += int(np.count_nonzero(strokes))
        on_background += int(np.count_nonzero(inside & background))
        background_total += int(np.count_nonzero(background))
    return StrokeFit(on_objects / max(objects_total, 1), on_background / max(background_total, 1))


@dataclass(frozen=True)
class StrokeObjects:
    """Painted-convention labels made from scribbles and the start model's objects.

    Attributes
    ----------
    labels : numpy.ndarray
        0 = not annotated, 1 = background strokes, 2.. = the start model's objects the object strokes confirm.
    loose : numpy.ndarray
        Object-stroke pixels outside those objects (in no object of the start model, or in one a background
        stroke crosses): "some object", taught without outline.
    confirmed : int
        Start objects taken as painted objects.
    crossed : int
        Start objects an object stroke passes through that a background stroke crosses too (left unannotated).

    """

    labels: np.ndarray
    loose: np.ndarray
    confirmed: int
    crossed: int


def objects_from_strokes(labels: np.ndarray, start_ids: np.ndarray) -> StrokeObjects:
    """The start model's objects that the object strokes pass through, as painted objects (see the module).

    Parameters
    ----------
    labels : np.ndarray
        Scribbles: 0 = not annotated, 1 = background strokes, 2.. = strokes inside objects (any value).
    start_ids : np.ndarray
        The start model's object ids on the same image.

    """
    labels = np.asarray(labels)
    start_ids = np.asarray(start_ids, dtype=np.int64)
    n_ids = int(start_ids.max(initial=0)) + 1
    strokes, background = labels >= FIRST_OBJECT, labels == PAINTED_BACKGROUND
    stroked = np.bincount(start_ids[strokes], minlength=n_ids) > 0
    crossed = np.bincount(start_ids[background], minlength=n_ids) > 0
    stroked[0] = crossed[0] = False
    confirmed = stroked & ~crossed
    new_ids = np.where(confirmed, np.cumsum(confirmed) + FIRST_OBJECT - 1, 0)
    result = np.where(background, PAINTED_BACKGROUND, new_ids[start_ids]).astype(np.int64)
    loose = strokes & (result < FIRST_OBJECT)
    return StrokeObjects(result, loose, int(confirmed.sum()), int((stroked & crossed).sum()))


def objects_mode(mode: str, labels: Sequence[np.ndarray]) -> tuple[bool, str]:
    """Whether sparse instance labels are strokes through objects (True) or objects painted completely.

    ``mode`` is :attr:`~napari_tiled_unet.training.config.TrainingConfig.sparse_objects`; under "auto" the
    labels are strokes when their object values (2..) form pieces whose median elongation is above
    :data:`STROKE_ELONGATION` (:func:`~napari_tiled_unet.training.label_shapes.piece_elongations`). Returns the
    answer and its reason in words.
    """
    if mode != "auto":
        return mode == "strokes", f"sparse_objects={mode!r}"
    elongations = np.concatenate([piece_elongations(lab, FIRST_OBJECT) for lab in labels])
    if elongations.size == 0 or float(np.median(elongations)) <= STROKE_ELONGATION:
        return False, "the objects (2..) are painted as filled shapes"
    return True, (f"the objects (2..) are drawn as strokes (median elongation {float(np.median(elongations)):.1f}; "
                  "sparse_objects='painted' if they are whole objects)")
