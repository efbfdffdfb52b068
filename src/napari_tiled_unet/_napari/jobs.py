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
from napari_tiled_unet.inference import predict_image
from napari_tiled_unet.model import UNet
from napari_tiled_unet.training.config import TrainingConfig
from napari_tiled_unet.training.loop import TrainingFailed, train


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
    init_model: UNet | None = None
    cancel: threading.Event = field(default_factory=threading.Event)


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
    cancel: threading.Event = field(default_factory=threading.Event)


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
    result, axes = predict_image(job.net, image, axes=job.axes, output=job.output,  # type: ignore[arg-type]
                                 tile_shape=job.tile_shape)
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

    Returns
    -------
    Outcome
        ``result`` is ``(array, axes)`` from :func:`~napari_tiled_unet.inference.predict_image`.

    """
    try:
        if isinstance(job.image, np.ndarray):
            result = predict_image(job.net, job.image, axes=job.axes, output=job.output,  # type: ignore[arg-type]
                                   tile_shape=job.tile_shape, progress=lambda done, total: emit((done, total)),
                                   cancel=job.cancel)
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
