"""Say what a labels image looks like before training, and whether it matches the task and sparse settings.

:func:`inspect_labels` classifies labels as one of:

- "instance ids": many values, each one filled object, covering most objects (dense instance masks);
- "painted objects": a few values, each one filled object, most of the image 0 (a few objects painted
  completely, the rest not annotated: sparse instances);
- "scribbles": a few values drawn as strokes or scattered pieces, most of the image 0 (sparse semantic);
- "classes": a few values covering most of the image (dense semantic masks);

proposes the task and sparse setting for it, and reports contradictions with the settings given. Errors are
contradictions that cannot be intended (the command line refuses them with exit code 2, the widget shows them
before training); warnings are likely mistakes. When the images are given, the share of bright (object-like)
pixels that carry a label tells "all objects labelled" from "a few objects painted".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from skimage.filters import threshold_otsu

from napari_tiled_unet.training.label_shapes import sample_for_shapes, value_shapes
from napari_tiled_unet.training.sparse_instances import background_mode

MANY_CLASSES = 50
"""Semantic labels with this many values are taken for instance ids."""


@dataclass(frozen=True)
class Finding:
    """One thing worth saying about the labels.

    Attributes
    ----------
    code : str
        Stable identifier (the widget words its own message from it).
    severity : {"error", "warning", "info"}
        "error": cannot be intended, training is refused; "warning": likely a mistake; "info": what will happen.
    message : str
        One line with the fix, in the terms of the Python API and the command line.

    """

    code: str
    severity: str
    message: str


@dataclass(frozen=True)
class LabelReport:
    """What labels look like and what they suggest.

    Attributes
    ----------
    kind : str
        "empty", "instance ids", "painted objects", "scribbles", "classes" or "binary mask".
    n_values : int
        Number of distinct non-zero values.
    values : tuple of int
        The first non-zero values (at most 12).
    zero_fraction : float
        Share of pixels that are 0.
    compact_share : float
        Share of values that form one filled blob.
    coverage : float or None
        Share of bright (object-like) pixels of the images that carry a label; None without images.
    suggested_task : str
        "semantic" or "instances".
    suggested_sparse : bool
        Whether 0 means "not annotated".
    findings : tuple of Finding
        Contradictions with the settings given, and notes.

    """

    kind: str
    n_values: int
    values: tuple[int, ...]
    zero_fraction: float
    compact_share: float
    coverage: float | None
    suggested_task: str
    suggested_sparse: bool
    findings: tuple[Finding, ...] = ()

    @property
    def errors(self) -> tuple[Finding, ...]:
        """Findings that stop training."""
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        """Findings that are probably mistakes."""
        return tuple(f for f in self.findings if f.severity == "warning")

    def summary(self) -> str:
        """One line: what the labels look like and what that suggests."""
        if self.kind == "empty":
            return "nothing is painted yet (every pixel is 0)"
        shown = ", ".join(map(str, self.values)) + (", ..." if self.n_values > len(self.values) else "")
        return (f"{self.n_values} value(s) ({shown}); 0 covers {self.zero_fraction:.0%}: looks like {self.kind} "
                f"-> task {self.suggested_task}, {'sparse' if self.suggested_sparse else 'dense'}")


def _coverage(images: Sequence[np.ndarray], labels: Sequence[np.ndarray]) -> float | None:
    """Share of the bright side of the images' Otsu threshold that is labelled."""
    covered = total = 0
    for image, lab in zip(images, labels):
        image = np.asarray(image, dtype=np.float32)
        lab = np.asarray(lab)
        if image.shape == lab.shape:
            intensity = image
        elif image.ndim == lab.ndim + 1 and image.shape[1:] == lab.shape:
            intensity = image.mean(axis=0)
        elif image.ndim == lab.ndim + 1 and image.shape[:-1] == lab.shape:
            intensity = image.mean(axis=-1)
        else:
            return None  # the pair does not cover the same pixels: training says so itself
        if not np.isfinite(intensity).all() or intensity.min() == intensity.max():
            return None
        bright = intensity > threshold_otsu(sample_for_shapes(intensity))
        if (lab[bright] > 0).mean() < 0.5 and (lab[~bright] > 0).mean() > (lab[bright] > 0).mean():
            bright = ~bright  # dark objects on a bright background
        covered += int((lab[bright] > 0).sum())
        total += int(bright.sum())
    return None if total == 0 else covered / total


def _kind(n: int, zero: float, compact: float, pieces_of_one: int, coverage: float | None) -> str:
    if n == 0:
        return "empty"
    if n == 1 and pieces_of_one > 1 and zero < 0.9:
        return "binary mask"
    if compact >= 0.8 and (n >= 2 or zero >= 0.9):
        sparse = coverage < 0.5 if coverage is not None else zero >= 0.9 and n < 30
        return "painted objects" if sparse else "instance ids"
    if n >= MANY_CLASSES:
        return "instance ids"
    return "scribbles" if zero >= 0.5 else "classes"


SUGGESTIONS = {"empty": ("semantic", False), "instance ids": ("instances", False),
               "painted objects": ("instances", True), "scribbles": ("semantic", True),
               "classes": ("semantic", False), "binary mask": ("semantic", False)}


def inspect_labels(labels: Sequence[np.ndarray] | np.ndarray, task: str | None = None, sparse: bool | None = None,
                   images: Sequence[np.ndarray] | None = None) -> LabelReport:
    """Classify labels, propose the task and sparse setting, and report contradictions with the given ones.

    Parameters
    ----------
    labels : array or sequence of arrays
        The label images (integers, 0 = background or not annotated).
    task : {"semantic", "instances"} or None
        The task that will be trained (None: only classify).
    sparse : bool or None
        Whether 0 will be read as "not annotated".
    images : sequence of arrays, optional
        The images the labels belong to (same spatial shape, channels first allowed): used to tell dense
        instance masks from a few painted objects.

    """
    labels = [np.asarray(labels)] if hasattr(labels, "shape") else [np.asarray(lab) for lab in labels]
    samples = [sample_for_shapes(lab) for lab in labels]
    values = np.unique(np.concatenate([np.unique(s) for s in samples]))
    values = values[values != 0]
    n = int(values.size)
    zero = float(np.mean(np.concatenate([(s == 0).ravel() for s in samples])))
    shapes = [shape for s in samples for shape in value_shapes(s)]
    compact = float(np.mean([s.compact for s in shapes])) if shapes else 0.0
    pieces_of_one = max((s.pieces for s in shapes), default=0) if n == 1 else 0
    coverage = _coverage(images, labels) if images is not None and n else None
    kind = _kind(n, zero, compact, pieces_of_one, coverage)
    suggested_task, suggested_sparse = SUGGESTIONS[kind]
    findings = _findings(kind, n, zero, task, sparse, labels, shapes)
    return LabelReport(kind, n, tuple(int(v) for v in values[:12]), round(zero, 4), round(compact, 3),
                       None if coverage is None else round(coverage, 3), suggested_task, suggested_sparse,
                       tuple(findings))


def _findings(kind: str, n: int, zero: float, task: str | None, sparse: bool | None,
              labels: list[np.ndarray], shapes: list) -> list[Finding]:
    out: list[Finding] = []
    if kind == "empty":
        return [Finding("empty", "error", "the labels are all 0: paint some labels before training")]
    if task is None:
        return out
    if task == "semantic" and n >= MANY_CLASSES and (not sparse or kind == "instance ids"):
        out.append(Finding("instance_ids_as_classes", "error",
                           f"the labels have {n} values, each one object: these look like instance ids, not "
                           "classes: use task='instances' (--task instances)"))
    if task == "semantic" and not sparse and kind == "scribbles" and zero >= 0.9:
        out.append(Finding("scribbles_not_sparse", "error",
                           f"0 covers {zero:.0%} of the pixels and the labels are drawn as strokes: these look like "
                           "scribbles; use sparse=True (--sparse) so that 0 means 'not annotated'"))
    elif task == "semantic" and not sparse and kind in ("scribbles", "painted objects"):
        out.append(Finding("zero_as_background", "warning",
                           f"0 covers {zero:.0%} of the pixels and will be learnt as background; if 0 means 'not "
                           "annotated', use sparse=True (--sparse)"))
    if task == "semantic" and sparse and kind == "painted objects" and n >= 3:
        out.append(Finding("objects_as_classes", "error" if n >= 5 else "warning",
                           f"each of the {n} values is one filled object: this would train {n} classes; for "
                           "objects painted one by one use task='instances' with sparse=True "
                           "(--task instances --sparse)"))
    if task == "instances" and not sparse and kind == "painted objects":
        out.append(Finding("painted_objects_dense", "error" if zero >= 0.9 else "warning",
                           f"only {n} objects are painted and 0 covers {zero:.0%}: as dense instance masks every "
                           "unpainted object would be learnt as background; use sparse=True (--sparse)"))
    if task == "instances" and not sparse and kind in ("scribbles", "classes", "binary mask"):
        split = max((s.pieces for s in shapes), default=1)
        if split > 1:
            out.append(Finding("pieces_as_objects", "warning",
                               f"a label value forms {split} separate pieces: each piece is used as one object, and "
                               "touching objects with the same value cannot be separated; give every object its "
                               "own id"))
    if task == "instances" and sparse:
        mode, reason = background_mode(labels)
        out.append(Finding("background_" + mode, "info", reason))
    return out
