"""A model described in the user's words: its task, its classes as painted, and what its held-out scores measure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from napari_tiled_unet.model import UNet
from napari_tiled_unet.model_meta import classes_in_words

from .voxel_size import geometry_in_words

#: Training metrics (keys of the training summary's ``best_metrics``) as a biologist reads them.
METRIC_NAMES = {"foreground_iou": "foreground IoU", "instance_f1": "instance F1"}


def metric_name(key: str) -> str:
    """The readable name of a training metric (``instance_f1`` -> ``instance F1``)."""
    return METRIC_NAMES.get(key, key.replace("_", " "))


def held_out_words(sparse: bool, task: str = "semantic", strokes: bool = False) -> str:
    """What validation measures on: held-out scribbles, held-out painted objects, or a held-out region.

    ``strokes``: an instance model learnt from scribbles (object strokes), whose held-out part is scribbles too.
    """
    if not sparse:
        return "held-out region"
    return "held-out painted objects" if task == "instances" and not strokes else "held-out scribbles"


def metrics_in_words(metrics: Mapping[str, float], sparse: bool, task: str = "semantic",
                     strokes: bool = False) -> str:
    """``"held-out region: instance F1 0.910, foreground IoU 0.880"``; empty without metrics.

    Parameters
    ----------
    metrics : mapping
        Metric name -> value, as in :class:`~napari_tiled_unet.training.events.EpochEvent` or the summary's
        ``best_metrics``.
    sparse : bool
        The model was trained on sparse labels (validation then scores the held-out annotated pixels only).
    task : str
        "semantic" (sparse: scribbles) or "instances" (sparse: a few objects painted completely).
    strokes : bool
        An instance model learnt from scribbles (see :func:`held_out_words`).

    Returns
    -------
    str
        The scores with what they were measured on.

    """
    if not metrics:
        return ""
    order = sorted(metrics, key=lambda k: (k != "instance_f1", k))
    values = ", ".join(f"{metric_name(k)} {float(metrics[k]):.3f}" for k in order)
    return f"{held_out_words(sparse, task, strokes)}: {values}"


def _training_line(meta: Mapping[str, Any]) -> str | None:
    training = meta.get("training") or {}
    if not training:
        return None
    seconds = training.get("seconds")
    time = f" in {float(seconds):.0f} s" if isinstance(seconds, (int, float)) else ""
    line = f"trained {training.get('steps', '?')} steps{time}"
    scores = metrics_in_words(training.get("best_metrics") or {}, bool(meta.get("sparse")), str(meta.get("task")),
                              bool(training.get("objects_from_strokes")))
    if scores:
        return f"{line}; {scores}"
    val_fraction = (training.get("config") or {}).get("val_fraction")
    return f"{line}; not checked on held-out data" + (" (validation fraction 0)" if val_fraction == 0 else "")


def describe_model(net: UNet) -> str:
    """One line per fact about a model: task, classes, architecture, training and held-out scores.

    Parameters
    ----------
    net : UNet
        A trained or loaded model.

    Returns
    -------
    str
        A short multi-line description for a widget label.

    """
    config, meta = net.config, net.metadata
    task = meta.get("task") or "unknown"
    if meta.get("sparse") and (meta.get("training") or {}).get("objects_from_strokes"):
        source = ", from scribbles (its start model's objects the strokes pass through)"
    elif meta.get("sparse"):
        source = ", from painted objects (sparse)" if task == "instances" else ", from scribbles"
    else:
        source = ", from masks" if task == "instances" else ""
    names = (meta.get("channels") or {}).get("names") or []
    channels = f"{config.in_channels} input channel{'s' if config.in_channels != 1 else ''}"
    if names:
        channels += f" ({', '.join(map(str, names))})"
    lines = [
        f"task: {task}{source}",
        f"classes: {classes_in_words(net)}",
        f"{config.dims}D, depth {config.depth}, {2 ** config.wf} filters, {config.padding} padding, "
        f"{geometry_in_words(config)}, {channels}",
    ]
    voxel = meta.get("voxel_size")
    if voxel:
        size = "×".join(f"{float(v):g}" for v in voxel)
        lines.append(f"trained on {size} µm {'voxels' if len(voxel) == 3 else 'pixels'}")
    training = _training_line(meta)
    if training:
        lines.append(training)
    return "\n".join(lines)
