"""What the widgets run in worker threads: plain functions that call the core and never touch Qt.

Each returns an outcome object instead of raising, so that the GUI thread decides how to show the error
(nothing is swallowed: the widgets log and notify every error they get back).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from napari_tiled_unet.array_views import is_dask
from napari_tiled_unet.errors import Cancelled
from napari_tiled_unet.inference import predict_image, prepared_normalizer
from napari_tiled_unet.model import UNet
from napari_tiled_unet.normalization import ImageNormalizer
from napari_tiled_unet.postprocess import InstanceSettings
from napari_tiled_unet.stitching import DEFAULT_STITCH_THRESHOLD
from napari_tiled_unet.training.config import TrainingConfig
from napari_tiled_unet.training.label_report import LabelReport
from napari_tiled_unet.training.loop import TrainingFailed, train

from .label_check import check_labels


def snapshot(layer: Any) -> np.ndarray:
    """A private copy of a layer's data (full resolution), safe from painting while training runs."""
    data = layer.data[0] if getattr(layer, "multiscale", False) else layer.data
    return np.array(data, copy=True)


@dataclass
class TrainingJob:
    """A snapshot of everything one training run needs (copies of the layer data, taken in the GUI thread)."""

    images: list[np.ndarray]
    labels: list[np.ndarray]
    config: TrainingConfig
    init_model: UNet | str | None = None
    check_labels: bool = True
    suggest: bool = False
    shipped_start: bool = False
    """``init_model`` is a shipped model picked to start from (scribbles through its objects suggest instances)."""
    ignore_label_check: bool = False
    cancel: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class LabelsChecked:
    """The event a training job emits first: what its labels look like (see :func:`inspect_before_training`)."""

    report: LabelReport


IGNORE_HINT = " (or pass --ignore-label-check to train anyway)"


def inspect_before_training(job: TrainingJob, emit: Callable[[Any], Any]) -> None:
    """Check the labels against the task and sparse setting; raise ValueError for a contradiction.

    With ``job.suggest`` (the user has not set the task and sparse box by hand), the job first takes the task and
    sparse setting the labels suggest (``job.config`` is replaced). The report goes to ``emit``; an error
    ("instance ids trained as classes"...) stops the job before any training unless ``job.ignore_label_check``.
    Labels with nothing painted are left to training's own message.
    """
    fits = all(i.shape == lab.shape or i.shape[1:] == lab.shape for i, lab in zip(job.images, job.labels))
    images = job.images if fits else None  # images of another size: training's own message names both shapes
    checked = check_labels(job.labels, images, job.config.task, job.config.sparse, job.suggest,
                           job.config.unet.dims, job.shipped_start)
    job.config = job.config.replace(task=checked.task, sparse=checked.sparse)
    report = checked.report
    emit(LabelsChecked(report))
    errors = [f for f in report.errors if f.code != "empty"]
    if errors and not job.ignore_label_check:
        raise ValueError(errors[0].message + IGNORE_HINT)


@dataclass
class Outcome:
    """What a job produced: a result (a model, or a prediction and its axes), an error, or a cancellation."""

    result: Any = field(default=None, repr=False)
    error: BaseException | None = None
    cancelled: bool = False


def run_training(job: TrainingJob, emit: Callable[[Any], Any]) -> Outcome:
    """Train with the core; ``emit`` receives every training event (it must be thread-safe, e.g. a Qt signal).

    Returns
    -------
    Outcome
        ``result`` is the best model (also after a cancel, and after a failure when a best model existed).

    """
    try:
        if job.check_labels:
            inspect_before_training(job, emit)
        model = train(job.images, job.labels, job.config, callback=emit, cancel=job.cancel,
                      init_model=job.init_model)
    except TrainingFailed as err:
        return Outcome(result=err.best_model, error=err)
    except Exception as err:  # handed back to the GUI thread, which logs and shows it
        return Outcome(error=err)
    return Outcome(result=model, cancelled=job.cancel.is_set())


@dataclass
class PredictionJob:
    """One prediction: the model (on its device), the image (or one plane of it) and the settings."""

    net: UNet
    image: Any
    axes: str
    output: str
    tile_shape: int | None = None
    normalizer: ImageNormalizer | None = None
    whole_image: Any = field(default=None, repr=False)
    whole_axes: str | None = None
    stitch_threshold: float = DEFAULT_STITCH_THRESHOLD
    instance_settings: InstanceSettings | None = None
    tta: bool = False
    rescale: str = "auto"
    #: ``(factor, median radius)`` when the image was predicted scaled (see :mod:`napari_tiled_unet.object_scale`)
    rescaled: list[tuple[float, float | None]] = field(default_factory=list)
    flatten: str = "auto"
    #: ``(variation, limit)`` when the background was flattened (see :mod:`napari_tiled_unet.uneven_background`)
    flattened: list[tuple[float, float | None]] = field(default_factory=list)
    cancel: threading.Event = field(default_factory=threading.Event)

    def options(self) -> dict[str, Any]:
        """The keyword arguments of :func:`~napari_tiled_unet.inference.predict_image` besides net and image."""
        return {"axes": self.axes, "output": self.output, "tile_shape": self.tile_shape,
                "normalizer": self.normalizer, "stitch_threshold": self.stitch_threshold,
                "instance_settings": self.instance_settings, "tta": self.tta, "rescale": self.rescale,
                "on_rescale": lambda factor, radius: self.rescaled.append((factor, radius)),
                "flatten": self.flatten,
                "on_flatten": lambda variation, limit: self.flattened.append((variation, limit))}


LAZY_RESULT_BYTES = 1 << 30
"""A lazy (dask or zarr) layer's result larger than this stays lazy: napari computes what it shows."""


def _predict_lazy_layer(job: PredictionJob, emit: Callable[[Any], Any]) -> tuple[Any, str]:
    """Predict a dask or zarr layer without loading it whole: block by block, with progress and cancel.

    The result is computed here (in the worker thread) unless it is larger than :data:`LAZY_RESULT_BYTES`; a
    larger result is handed back lazy, so the new layer computes only what the viewer shows.
    """
    import dask.array as da
    from dask.callbacks import Callback

    image = job.image if is_dask(job.image) else da.from_array(job.image, chunks="auto")
    result, axes = predict_image(job.net, image, **job.options())
    if not is_dask(result) or result.nbytes > LAZY_RESULT_BYTES:
        return result, axes

    class Progress(Callback):
        def _start_state(self, dsk: Any, state: Any) -> None:
            self.total = sum(len(state[k]) for k in ("ready", "waiting", "running"))

        def _posttask(self, key: Any, value: Any, dsk: Any, state: Any, worker_id: Any) -> None:
            if job.cancel.is_set():
                raise Cancelled("prediction cancelled")
            emit((len(state["finished"]), max(self.total, 1)))

    with Progress():
        return np.asarray(result.compute(scheduler="threads")), axes


def run_prediction(job: PredictionJob, emit: Callable[[Any], Any]) -> Outcome:
    """Predict with the core; ``emit((done, total))`` reports the tiles done.

    A job for one plane of a stack (``whole_image`` set, no ``normalizer``) first binds the model's
    normalisation to the whole image (flattened where the whole stack is: ``job.flatten`` becomes "on" or
    "off"), so that the plane comes out as in a prediction of the whole stack; the normaliser and that decision
    are left in the job for the next preview of the same layer.

    Returns
    -------
    Outcome
        ``result`` is ``(array, axes)`` from :func:`~napari_tiled_unet.inference.predict_image`.

    """
    try:
        if job.normalizer is None and job.whole_image is not None:
            job.normalizer, flattened = prepared_normalizer(job.net, job.whole_image, job.whole_axes, job.flatten)
            job.flatten = "on" if flattened else "off"
        if isinstance(job.image, np.ndarray):
            result = predict_image(job.net, job.image, **job.options(),
                                   progress=lambda done, total: emit((done, total)), cancel=job.cancel)
        else:
            result = _predict_lazy_layer(job, emit)
    except Cancelled:
        return Outcome(cancelled=True)
    except Exception as err:  # handed back to the GUI thread, which logs and shows it
        return Outcome(error=err)
    return Outcome(result=result)


@dataclass
class ExportJob:
    """One bioimage.io export: the model, the zip to write, and what the package says (name, authors...)."""

    net: UNet
    path: Any
    info: dict[str, Any] = field(default_factory=dict)
    cancel: threading.Event = field(default_factory=threading.Event)  # an export runs to its end


def run_export(job: ExportJob, emit: Callable[[Any], Any] | None = None) -> Outcome:
    """Export a model to a bioimage.io zip; ``result`` is the path written (complete, or nothing at all)."""
    from napari_tiled_unet.bioimageio import export_bioimageio

    try:
        return Outcome(result=export_bioimageio(job.net, job.path, **job.info))
    except Exception as err:  # handed back to the GUI thread, which logs and shows it
        return Outcome(error=err)
