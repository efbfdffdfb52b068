"""Correct and retrain in napari: a prediction as an editable Labels layer, and what of it training learns from.

"Make annotation for corrections" (Predict widget) turns a result layer into a new Labels layer in the
training conventions of the model that made it
(:func:`napari_tiled_unet.training.corrections.annotation_from_prediction`): an instance model's objects as
2.. with 1 = background, a semantic model's classes as its label values. The layer remembers, in its
``metadata``, the annotation as it was made, the model's name, the settings to read it with
(:func:`~napari_tiled_unet.training.corrections.annotation_settings`) and how many leading axes were predicted
plane by plane. "Continue training" (Train widget) then learns from the corrected layer; in a stack only the
planes the user changed count (:func:`~napari_tiled_unet.training.corrections.corrected_planes`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from napari_tiled_unet.model import UNet
from napari_tiled_unet.training.corrections import annotation_from_prediction, annotation_settings, corrected_planes

from .result_layers import free_name

CORRECTIONS_KEY = "napari_tiled_unet_corrections"
#: Layer attributes copied from the result layer, so that the annotation lies exactly over the image.
PLACEMENT = ("scale", "translate", "rotate", "shear", "affine", "axis_labels", "units")
#: napari's Labels layer opacity for an annotation that is painted on (the image stays visible below).
OPACITY = 0.6
#: Painted background (1) is shown as a faint grey, so that the image shows through and 0 ("not sure") stands out.
BACKGROUND_COLOR = (0.6, 0.6, 0.6, 0.18)
#: New ids beyond the annotation's largest get colours too (painting new objects).
SPARE_IDS = 2048


def annotation_colormap(max_id: int) -> Any:
    """Label colours for an annotation: ids 2.. as napari colours them, 0 transparent, the background (1) faint."""
    from napari.utils.colormaps import DirectLabelColormap, label_colormap

    cyclic = label_colormap(49, 0.5)
    ids = np.arange(2, int(max_id) + SPARE_IDS)
    colors: dict[Any, Any] = {None: "yellow", 0: "transparent", 1: BACKGROUND_COLOR}
    colors.update(zip(ids.tolist(), cyclic.map(ids)))
    return DirectLabelColormap(color_dict=colors)


@dataclass(frozen=True)
class CorrectionInfo:
    """What a corrections layer remembers about where it came from.

    Attributes
    ----------
    original : numpy.ndarray
        The annotation as it was made from the prediction (before any correction).
    model_name : str
        The model (in the session's model list) whose prediction it is.
    settings : dict
        ``task``, ``sparse`` (and ``sparse_background``) to train on it with.
    n_loop : int
        Leading axes that were predicted plane by plane (0: the whole layer counts when training).
    source_name : str
        The image layer it was predicted from.

    """

    original: np.ndarray
    model_name: str
    settings: dict[str, Any]
    n_loop: int
    source_name: str

    def as_metadata(self) -> dict[str, Any]:
        """The layer metadata entry."""
        return {"original": self.original, "model": self.model_name, "settings": dict(self.settings),
                "n_loop": int(self.n_loop), "source": self.source_name}


def corrections_info(layer: Any) -> CorrectionInfo | None:
    """What ``layer`` remembers as a corrections layer, or None for any other layer."""
    entry = (getattr(layer, "metadata", None) or {}).get(CORRECTIONS_KEY)
    if not isinstance(entry, dict) or not isinstance(entry.get("original"), np.ndarray):
        return None
    return CorrectionInfo(entry["original"], str(entry.get("model", "")), dict(entry.get("settings") or {}),
                          int(entry.get("n_loop", 0)), str(entry.get("source", "")))


def corrections_name(source_name: str) -> str:
    """``"nuclei [corrections]"``."""
    return f"{source_name} [corrections]"


def add_corrections_layer(viewer: Any, result_layer: Any, net: UNet, output: str, model_name: str, n_loop: int,
                          source_name: str) -> Any:
    """Add an editable annotation made from ``result_layer``'s prediction, placed exactly over it.

    Raises
    ------
    ValueError
        When the result is not the output the model's annotation is made from (instances of an instance
        model, labels of a semantic model); the message says what to predict.

    """
    data = np.asarray(result_layer.data)
    annotation = annotation_from_prediction(net, data, output)
    info = CorrectionInfo(annotation.copy(), model_name, annotation_settings(net), n_loop, source_name)
    placement = {name: getattr(result_layer, name) for name in PLACEMENT if hasattr(result_layer, name)}
    if "affine" in placement:
        placement["affine"] = placement["affine"].affine_matrix
    layer = viewer.add_labels(annotation, name=free_name(viewer, corrections_name(source_name)),
                              metadata={CORRECTIONS_KEY: info.as_metadata()}, opacity=OPACITY, **placement)
    if info.settings.get("task") == "instances" or bool(info.settings.get("sparse")):
        layer.colormap = annotation_colormap(int(annotation.max()))
    if info.settings.get("task") == "instances":
        layer.selected_label = int(annotation.max()) + 1  # a new object is ready to be painted
    layer.mode = "paint"
    return layer


def labels_to_learn(layer: Any, data: np.ndarray, continuing: bool) -> np.ndarray:
    """What training learns from a labels layer's ``data``: a continued corrections layer only its edited planes."""
    info = corrections_info(layer)
    if info is None or not continuing:
        return data
    return corrected_planes(info.original, data, info.n_loop)


def edited(layer: Any) -> bool:
    """True when a corrections layer differs from the annotation it was made as."""
    info = corrections_info(layer)
    return info is not None and not np.array_equal(info.original, np.asarray(layer.data))
