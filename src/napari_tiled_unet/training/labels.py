"""Checking training labels and turning them into per-pixel class targets.

Conventions (those of ilastik and APOC for scribbles):

- semantic, dense: every pixel is annotated; 0 is the background class, other values are classes.
- semantic, sparse: 0 = not annotated (ignored by the loss), 1 = background, 2.. = classes.
- instances, dense: 0 = background, every object has its own id (touching objects different ids); the net
  learns background / interior / boundary and the centre distance of every object.
- instances, sparse: 0 = not annotated, 1 = background, 2.. = objects, each painted completely with its own id
  (see :mod:`~napari_tiled_unet.training.sparse_instances` for annotations that paint no background).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from napari_tiled_unet.training.targets import instance_targets

IGNORE = -1
ANY_OBJECT = -2
"""Instance target of a pixel known to lie in an object whose outline nobody drew (an object stroke where the start
model finds no object, see :mod:`~napari_tiled_unet.training.stroke_objects`): the loss only says "not background"
there (interior or boundary, whichever the network prefers) and the centre distance is not taught."""
INSTANCE_CLASSES = ("background", "interior", "boundary")


def is_object(targets: np.ndarray) -> np.ndarray:
    """Pixels whose target is a class other than background, or :data:`ANY_OBJECT`."""
    return (targets > 0) | (targets == ANY_OBJECT)


@dataclass(frozen=True)
class LabelEncoding:
    """How label values map to network classes.

    Attributes
    ----------
    label_values : tuple of int
        ``label_values[k]`` is the label value of class ``k`` (what prediction writes back).
    class_names : tuple of str
        A name per class.
    regression : tuple of str
        Names of the output channels after the classes (the instance task's centre distance).

    """

    label_values: tuple[int, ...]
    class_names: tuple[str, ...]
    regression: tuple[str, ...] = ()

    @property
    def n_classes(self) -> int:
        """Number of class outputs."""
        return len(self.label_values)

    @property
    def n_outputs(self) -> int:
        """Number of network outputs: the classes, then the regression channels."""
        return len(self.label_values) + len(self.regression)


def as_integer_labels(labels: np.ndarray, name: str = "labels") -> np.ndarray:
    """Return labels as int64, refusing fractions, NaN and negative values with a clear message."""
    array = np.asarray(labels)
    if array.dtype == bool:
        return array.astype(np.int64)
    if array.dtype.kind == "f":
        if not np.isfinite(array).all():
            raise ValueError(f"{name} contain NaN or infinite values: labels must be whole numbers")
        if not np.array_equal(array, np.round(array)):
            raise ValueError(f"{name} are floats with fractions (e.g. {_first_fraction(array)}): labels must be "
                             "whole numbers; use a Labels layer or an integer TIFF")
    elif array.dtype.kind not in "iu":
        raise ValueError(f"{name} have type {array.dtype}: labels must be integers")
    if array.size and array.min() < 0:
        raise ValueError(f"{name} contain negative values ({array.min()}): use 0 and positive integers")
    return array.astype(np.int64, copy=False)


def _first_fraction(array: np.ndarray) -> float:
    flat = array.ravel()
    return float(flat[np.flatnonzero(flat != np.round(flat))[0]])


def class_name(value: int, background: int, values: Sequence[int], names: Mapping[int, str] | None = None) -> str:
    """The name of a label value: the user's, else "background", "objects" (the only other class) or "class N"."""
    if names and int(value) in names:
        return names[int(value)]
    if value == background:
        return "background"
    return "objects" if len(values) == 2 else f"class {value}"


def label_encoding(labels: Sequence[np.ndarray], task: str, sparse: bool,
                   names: Mapping[int, str] | None = None, regression: Sequence[str] = ()) -> LabelEncoding:
    """Find the classes of a set of label images and check that there is something to learn.

    ``names`` maps label values to class names (see :attr:`TrainingConfig.class_names`); sparse instance labels
    must be in the painted convention (1 = background, 2.. = objects) already.
    """
    if task == "instances":
        first = 2 if sparse else 1
        if not any(np.any(lab >= first) for lab in labels):
            raise ValueError("instance labels have no object: paint at least one object "
                             f"(ids {first}, {first + 1}, ...)")
        return LabelEncoding((0, 1, 2), INSTANCE_CLASSES, tuple(regression))
    values = sorted(set().union(*(np.unique(lab).tolist() for lab in labels)))
    if sparse:
        annotated = [v for v in values if v != 0]
        if not annotated:
            raise ValueError("sparse labels have no annotated pixel: paint background with 1 and objects with 2")
        if len(annotated) < 2:
            missing = "objects with 2" if annotated == [1] else "background with 1"
            raise ValueError(f"sparse labels only contain the value {annotated[0]}: paint {missing} as well")
        if 1 not in annotated:
            raise ValueError(f"sparse labels have no background (value 1), only {annotated}: paint some background "
                             "with 1 (0 means not annotated)")
        return LabelEncoding(tuple(annotated), tuple(class_name(v, 1, annotated, names) for v in annotated))
    if len(values) < 2:
        raise ValueError(f"labels contain only the value {values[0] if values else 'nothing'}: dense labels need "
                         "at least two classes (0 = background and 1 = objects); for scribbles use sparse=True")
    if len(values) > 255:
        raise ValueError(f"labels have {len(values)} different values: these look like instance ids; use "
                         "task='instances' (or fewer classes)")
    return LabelEncoding(tuple(values), tuple(class_name(v, 0, values, names) for v in values))


def class_targets(labels: np.ndarray, encoding: LabelEncoding, task: str, sparse: bool,
                  boundary_width: int = 2) -> np.ndarray:
    """Per-pixel class index (int16), :data:`IGNORE` where a pixel is not annotated."""
    if task == "instances":
        targets = instance_targets(instance_ids(labels, sparse), boundary_width=boundary_width).astype(np.int16)
        if sparse:
            targets[labels == 0] = IGNORE
        return targets
    lut_size = max(int(labels.max()) + 1, max(encoding.label_values) + 1)
    lut = np.full(lut_size, IGNORE, dtype=np.int16)
    for k, value in enumerate(encoding.label_values):
        lut[value] = k
    if sparse:
        lut[0] = IGNORE
    return lut[labels]


def instance_ids(labels: np.ndarray, sparse: bool) -> np.ndarray:
    """The object ids of instance labels, 0 elsewhere (sparse: values 2.., dense: every non-zero value)."""
    return np.where(labels >= 2, labels, 0) if sparse else labels
