"""Correct and retrain: a prediction as an editable annotation, and what of a corrected stack counts.

The loop people use to get a good model: predict, fix the mistakes, train again. :func:`annotation_from_prediction`
turns a prediction into labels in the training conventions of the model that made it:

- an instance model's objects become a sparse instance annotation: 1 = background, 2.. = objects, so painting
  with 1 removes an object, a new id adds one, 0 (the eraser) marks "not sure" (ignored);
- a semantic model's classes are its own label values (scribble models: 1 = background, 2.. = classes, where
  the eraser again means "not annotated"; dense models: 0 = background).

:func:`corrected_planes` decides what counts when training continues: in a 2D image the whole corrected layer
counts; in a stack only the planes the user changed (unchanged planes repeat the model's own answer and would
only teach it what it already predicts).
"""

from __future__ import annotations

import numpy as np

from napari_tiled_unet.instance_output import is_instance_model
from napari_tiled_unet.model import UNet


def annotation_settings(net: UNet) -> dict[str, object]:
    """The :class:`TrainingConfig` fields that read an annotation made by :func:`annotation_from_prediction`."""
    if is_instance_model(net):
        return {"task": "instances", "sparse": True, "sparse_background": "painted"}
    return {"task": "semantic", "sparse": bool(net.metadata.get("sparse"))}


def annotation_from_prediction(net: UNet, prediction: np.ndarray, output: str) -> np.ndarray:
    """An editable annotation, in the model's training conventions, from what ``net`` predicted.

    Parameters
    ----------
    net : UNet
        The model that made the prediction.
    prediction : numpy.ndarray
        Its "instances" or "labels" output.
    output : {"instances", "labels"}
        Which output ``prediction`` is.

    Returns
    -------
    numpy.ndarray
        uint32 labels (see the module docstring).

    """
    prediction = np.asarray(prediction)
    if output not in ("instances", "labels"):
        raise ValueError(f"an annotation is made from instances or labels, not {output!r}: predict those first")
    if is_instance_model(net):
        if output != "instances":
            raise ValueError("corrections of an instance model are made on its instances: predict instances first")
        return np.where(prediction > 0, prediction.astype(np.uint32) + 1, 1).astype(np.uint32)
    if output == "instances":
        raise ValueError("corrections of a semantic model are made on its labels: predict labels first")
    return prediction.astype(np.uint32)


def corrected_planes(original: np.ndarray, corrected: np.ndarray, n_loop: int) -> np.ndarray:
    """The corrected annotation with the planes the user did not change set to 0 (not used for training).

    Parameters
    ----------
    original : numpy.ndarray
        The annotation as made from the prediction.
    corrected : numpy.ndarray
        The same after the user's edits (same shape).
    n_loop : int
        Number of leading axes predicted plane by plane (0 for a 2D image with a 2D model: all of it counts).

    """
    original, corrected = np.asarray(original), np.asarray(corrected)
    if original.shape != corrected.shape:
        raise ValueError(f"the corrected layer has shape {corrected.shape} but the annotation it came from "
                         f"{original.shape}: correct the layer made from the prediction")
    if n_loop == 0:
        return corrected
    changed = (original != corrected).reshape(*corrected.shape[:n_loop], -1).any(axis=-1)
    if not changed.any():
        raise ValueError("no plane was corrected: fix some mistakes in the annotation layer first")
    result = np.zeros_like(corrected)
    result[changed] = corrected[changed]
    return result
