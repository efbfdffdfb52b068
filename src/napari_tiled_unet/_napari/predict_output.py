"""Putting a prediction into the viewer: a Labels (or Image) layer aligned with its source, updated in place."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .layer_axes import kept_axes, loop_axes, result_transforms


def result_name(source_name: str, output: str) -> str:
    """Name of the layer that holds ``output`` predicted from the layer ``source_name``."""
    return f"{source_name} [{output}]"


def source_transforms(layer: Any, keep: Sequence[int], leading: int = 0) -> dict[str, Any]:
    """Scale, translate, rotate, shear and affine of ``layer`` for the dimensions ``keep`` (see result_transforms)."""
    affine = getattr(layer, "affine", None)
    return result_transforms(layer.scale, layer.translate, getattr(layer, "rotate", None),
                             getattr(layer, "shear", None), None if affine is None else affine.affine_matrix,
                             keep, leading)


def full_result(result: np.ndarray, axes: str, model_dims: int, data_shape: Sequence[int], output: str,
                plane: Sequence[int] | None, previous: np.ndarray | None) -> np.ndarray:
    """The result over the whole source: class axis first for probabilities; one plane written into the rest.

    Parameters
    ----------
    result : numpy.ndarray
        What :func:`~napari_tiled_unet.inference.predict_image` returned (loop axes, [class axis], spatial).
    axes : str
        Axis letters of the source data.
    model_dims : int
        The model's spatial dimensions.
    data_shape : sequence of int
        Shape of the source data.
    output : str
        "labels", "instances" or "probabilities".
    plane : sequence of int or None
        The plane that was predicted (one index per loop axis), or None for all of them.
    previous : numpy.ndarray or None
        The data of the layer from an earlier run; a plane is written into it when its shape fits.

    """
    loops = loop_axes(axes, model_dims)
    if output == "probabilities":
        result = np.moveaxis(result, len(loops), 0)
    if plane is None:
        return result
    keep = kept_axes(axes)
    lead = 1 if output == "probabilities" else 0
    shape = tuple(result.shape[:lead]) + tuple(int(data_shape[i]) for i in keep)
    if previous is not None and previous.shape == shape and np.can_cast(result.dtype, previous.dtype):
        full = previous
    else:
        dtype = result.dtype if previous is None else np.result_type(result.dtype, previous.dtype)
        full = np.zeros(shape, dtype=dtype)
        if previous is not None and previous.shape == shape:
            full[...] = previous
    index: list[Any] = [slice(None)] * full.ndim
    for axis, value in zip(loops, plane):
        index[lead + keep.index(axis)] = slice(int(value), int(value) + 1)
    full[tuple(index)] = result
    return full


def hide_background(layer: Any, label_values: Sequence[int]) -> None:
    """Show the background class of a Labels layer transparent when its value is not 0.

    Models trained on scribbles write 1 for background, like the scribbles themselves; the other classes keep
    napari's usual colours.
    """
    from napari.utils.colormaps import DirectLabelColormap, label_colormap

    background = int(label_values[0])
    if background == 0:
        return
    cyclic = label_colormap(49, 0.5)
    colors: dict[Any, Any] = {None: "white", 0: "transparent", background: "transparent"}
    colors.update({int(v): cyclic.map(int(v)) for v in label_values[1:]})
    layer.colormap = DirectLabelColormap(color_dict=colors)


def show_result(viewer: Any, source: Any, result: np.ndarray, axes: str, model_dims: int, output: str,
                plane: Sequence[int] | None = None, label_values: Sequence[int] = (0,)) -> Any:
    """Add the result next to ``source`` or update the layer of an earlier run (same name); return the layer.

    Labels and instances become a Labels layer, probabilities an Image layer with the classes on a first axis.
    The layer gets the source's scale, translate, rotation, shear and affine for the axes it shares with it.
    ``label_values`` are the model's values per class: a background class other than 0 is shown transparent.
    """
    layer = _add_or_update(viewer, source, result, axes, model_dims, output, plane)
    if output == "labels":
        hide_background(layer, label_values)
    return layer


def _add_or_update(viewer: Any, source: Any, result: np.ndarray, axes: str, model_dims: int, output: str,
                   plane: Sequence[int] | None) -> Any:
    from napari.layers import Image, Labels

    name = result_name(source.name, output)
    layer_type = Image if output == "probabilities" else Labels
    existing = viewer.layers[name] if name in viewer.layers else None
    if existing is not None and not isinstance(existing, layer_type):
        viewer.layers.remove(existing)
        existing = None
    data_shape = source.data[0].shape if getattr(source, "multiscale", False) else source.data.shape
    previous = None if existing is None or plane is None else existing.data
    data = full_result(result, axes, model_dims, data_shape, output, plane, previous)
    transforms = source_transforms(source, kept_axes(axes), leading=1 if output == "probabilities" else 0)
    if existing is not None and existing.ndim == data.ndim:
        for key, value in transforms.items():
            setattr(existing, key, value)
        if existing.data is data:
            existing.refresh()
        else:
            existing.data = data
        return existing
    if existing is not None:
        viewer.layers.remove(existing)
    if output == "probabilities":
        return viewer.add_image(data, name=name, colormap="magma", contrast_limits=(0.0, 1.0), blending="additive",
                                **transforms)
    return viewer.add_labels(data, name=name, **transforms)
