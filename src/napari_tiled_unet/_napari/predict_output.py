"""Putting a prediction into the viewer: layers aligned with their source, updated in place unless the user edited them.

Labels and instances become one Labels layer, probabilities one Image layer per class (foreground classes on
top with a colour each, the background class below them and hidden). Predicting the same source again updates
the layers of the last run in place, unless the user has edited them (see :mod:`.result_layers`): then the
result goes to new layers (``"nuclei [labels] (2)"``) and the edited ones are left as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .layer_axes import kept_axes, loop_axes, result_transforms
from .result_layers import free_name, tracker

#: Colours of the foreground classes' probability layers, in class order (napari colormap names).
CLASS_COLORMAPS = ("green", "magenta", "cyan", "yellow", "red", "blue", "bop orange", "bop purple")
PROBABILITY_OPACITY = 0.7


def result_name(source_name: str, output: str, class_name: str | None = None) -> str:
    """Name of the layer that holds ``output`` predicted from ``source_name``: ``"nuclei [labels]"``.

    Probabilities get one layer per class, ``"nuclei [p(nucleus)]"`` (short, so that napari's layer list shows
    the class name).
    """
    if output == "probabilities" and class_name is not None:
        return f"{source_name} [p({class_name})]"
    return f"{source_name} [{output}]"


def source_transforms(layer: Any, keep: Sequence[int], leading: int = 0) -> dict[str, Any]:
    """Scale, translate, rotate, shear, affine, axis labels and units of ``layer`` for the dimensions ``keep``.

    See :func:`~.layer_axes.result_transforms`; the axis labels ("t", "z"...) and units go with the axes kept,
    so that a time-lapse result is a time-lapse too.
    """
    affine = getattr(layer, "affine", None)
    kwargs = result_transforms(layer.scale, layer.translate, getattr(layer, "rotate", None),
                               getattr(layer, "shear", None), None if affine is None else affine.affine_matrix,
                               keep, leading)
    labels = list(getattr(layer, "axis_labels", None) or ())
    if len(labels) == len(layer.scale) and not leading:
        kwargs["axis_labels"] = tuple(str(labels[i]) for i in keep)
    units = list(getattr(layer, "units", None) or ())
    if len(units) == len(layer.scale) and not leading:
        kwargs["units"] = tuple(units[i] for i in keep)
    return kwargs


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


@dataclass
class Shown:
    """The layers a prediction went to, and the edited layers it left alone."""

    layers: list[Any]
    kept_edited: list[str] = field(default_factory=list)

    @property
    def layer(self) -> Any:
        """The main layer (labels, or the first foreground class of probabilities)."""
        return self.layers[0]

    def why_new(self) -> str:
        """Why the result went to a new layer: the old one has the user's edits ("" when it did not)."""
        if not self.kept_edited:
            return ""
        names = ", ".join(f"'{name}'" for name in self.kept_edited)
        one = len(self.kept_edited) == 1
        return (f"The new result is in '{self.layer.name}': {names} {'has' if one else 'have'} your edits and "
                f"{'was' if one else 'were'} not overwritten")


@dataclass(frozen=True)
class Prediction:
    """A result of :func:`~napari_tiled_unet.inference.predict_image` and what is needed to place it."""

    result: np.ndarray
    axes: str
    model_dims: int
    output: str
    plane: tuple[int, ...] | None = None
    label_values: tuple[int, ...] = (0,)
    class_names: tuple[str, ...] = ()
    data_shape: tuple[int, ...] = ()
    placement: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Pending:
    """Where a running prediction goes: its source layer and how to place the result.

    ``data_shape`` is the shape of the predicted data (the channel layers stacked, in "layers" mode) and
    ``placement`` the source layer's axes the result keeps (default: every axis but the channel axis).
    """

    layer: Any
    axes: str
    model_dims: int
    output: str
    plane: tuple[int, ...] | None = None
    label_values: tuple[int, ...] = (0,)
    class_names: tuple[str, ...] = ()
    data_shape: tuple[int, ...] = ()
    placement: tuple[int, ...] | None = None

    def with_result(self, result: np.ndarray) -> Prediction:
        """The prediction to show, once the worker has computed ``result``."""
        return Prediction(result, self.axes, self.model_dims, self.output, self.plane, self.label_values,
                          self.class_names, self.data_shape, self.placement)


def show_result(viewer: Any, source: Any, prediction: Prediction) -> Shown:
    """Add the prediction next to ``source``, or update the layers of the last run if the user did not edit them.

    The layers get the source's scale, translate, rotation, shear and affine for the axes they share with it.
    """
    previous, edited = tracker.latest(viewer, source, prediction.output)
    reusable = [] if edited else previous
    if prediction.output == "probabilities":
        shown = _show_probabilities(viewer, source, prediction, reusable)
    else:
        shown = _show_labels(viewer, source, prediction, reusable[0] if reusable else None)
    shown.kept_edited = [layer.name for layer in edited]
    tracker.remember(source, prediction.output, shown.layers)
    return shown


def _data_shape(source: Any, prediction: Prediction) -> tuple[int, ...]:
    if prediction.data_shape:
        return tuple(prediction.data_shape)
    return tuple(source.data[0].shape if getattr(source, "multiscale", False) else source.data.shape)


def _placement(prediction: Prediction) -> list[int]:
    """The source layer's axes the result keeps."""
    return list(prediction.placement) if prediction.placement is not None else kept_axes(prediction.axes)


def _write(layer: Any, data: np.ndarray, transforms: dict[str, Any]) -> None:
    """Update a layer the plugin wrote (its own edit: not counted as the user's)."""
    with tracker.writing():
        for key, value in transforms.items():
            setattr(layer, key, value)
        if layer.data is data:
            layer.refresh()
        else:
            layer.data = data
    tracker.mark_written(layer)


def _show_labels(viewer: Any, source: Any, prediction: Prediction, reuse: Any) -> Shown:
    from napari.layers import Labels

    p = prediction
    if reuse is not None and not isinstance(reuse, Labels):
        reuse = None
    previous = None if reuse is None or p.plane is None else np.asarray(reuse.data)
    data = full_result(p.result, p.axes, p.model_dims, _data_shape(source, p), p.output, p.plane, previous)
    transforms = source_transforms(source, _placement(p))
    if reuse is not None and reuse.ndim == data.ndim:
        _write(reuse, data, transforms)
        layer = reuse
    else:
        with tracker.writing():
            layer = viewer.add_labels(data, name=free_name(viewer, result_name(source.name, p.output)), **transforms)
        tracker.mark_written(layer)
    if p.output == "labels":
        hide_background(layer, p.label_values)
    return Shown([layer])


def _probability_names(prediction: Prediction, n_classes: int) -> list[str]:
    names = list(prediction.class_names)
    return [names[k] if k < len(names) else f"class {k}" for k in range(n_classes)]


def _show_probabilities(viewer: Any, source: Any, prediction: Prediction, previous: list[Any]) -> Shown:
    """One Image layer per class: foreground classes first (each in its colour), the background last and hidden."""
    from napari.layers import Image

    p = prediction
    shape = _data_shape(source, p)
    classes = np.moveaxis(p.result, len(loop_axes(p.axes, p.model_dims)), 0)
    names = _probability_names(p, classes.shape[0])
    transforms = source_transforms(source, _placement(p))
    order = [*range(1, classes.shape[0]), 0] if classes.shape[0] > 1 else [0]
    if len(previous) != len(order):  # another model: other classes
        previous = [None] * len(order)
    layers = []
    for position in reversed(range(len(order))):  # added bottom-up: the background first, below the classes
        k = order[position]
        name = result_name(source.name, "probabilities", names[k])
        reuse = previous[position] if isinstance(previous[position], Image) else None
        before = None if reuse is None or p.plane is None else np.asarray(reuse.data)
        data = full_result(classes[k], p.axes, p.model_dims, shape, "labels", p.plane, before)
        if reuse is not None and reuse.ndim == data.ndim:
            _write(reuse, data, transforms)
            layers.append(reuse)
            continue
        background = k == 0 and classes.shape[0] > 1
        colormap = "gray" if background else CLASS_COLORMAPS[position % len(CLASS_COLORMAPS)]
        with tracker.writing():
            layer = viewer.add_image(data, name=free_name(viewer, name), colormap=colormap,
                                     contrast_limits=(0.0, 1.0), blending="additive", opacity=PROBABILITY_OPACITY,
                                     visible=not background, **transforms)
        tracker.mark_written(layer)
        layers.append(layer)
    return Shown(list(reversed(layers)))
