"""Prediction of whole images with a model: axes, normalisation, planes of a stack, and the output kind.

:func:`predict_image` is what the command line and the napari widget call. It works on any array with axis
letters (``'YX'``, ``'ZYX'``, ``'TZYX'``, ``'CYX'``, ``'YXS'`` for RGB...): the model's spatial axes are
predicted with the exact overlap-tile engine, the remaining axes (time, or Z for a 2D model) plane by plane.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from napari_tiled_unet.array_views import NormalizedView, is_dask, whole_image_stats
from napari_tiled_unet.cancel import CancelLike, ProgressCallback
from napari_tiled_unet.model import UNet
from napari_tiled_unet.model_meta import class_to_label
from napari_tiled_unet.normalization import PercentileNormalization
from napari_tiled_unet.postprocess import instances_from_probabilities, semantic_instances
from napari_tiled_unet.predict import plan_tiles, predict_with_retry
from napari_tiled_unet.tiling import blocks_of

OutputKind = Literal["labels", "instances", "probabilities"]
OUTPUT_KINDS: tuple[str, ...] = ("labels", "instances", "probabilities")
CHANNEL_LETTERS = "CS"


def _leading_axes(count: int, dims: int) -> str:
    """Names for axes before the channel and spatial ones: a 2D model's stack is Z (then T), a 3D model's is T."""
    if count == 0:
        return ""
    names = "TZ" if dims == 2 else "T"
    if count <= len(names):
        return names[-count:]
    return "Q" * (count - len(names)) + names


def default_axes(shape: Sequence[int], dims: int, in_channels: int) -> str:
    """Guess axis letters for a bare array: trailing spatial axes, and a channel axis where one matches.

    A last axis of 3 or 4 matching the model's channels is RGB(A) (``'S'``); otherwise the axis just before
    the spatial ones is the channel axis when its size matches a multi-channel model.
    """
    spatial = "ZYX"[-dims:]
    extra = len(shape) - dims
    if extra < 0:
        raise ValueError(f"image of shape {tuple(shape)} has fewer axes than a {dims}D model needs")
    if in_channels > 1 and extra >= 1:
        if shape[-1] == in_channels and in_channels in (3, 4):
            return _leading_axes(extra - 1, dims) + spatial + "S"
        if shape[-dims - 1] == in_channels:
            return _leading_axes(extra - 1, dims) + "C" + spatial
    return _leading_axes(extra, dims) + spatial


def check_axes(axes: str, shape: Sequence[int], dims: int) -> None:
    """Raise ValueError unless ``axes`` names every axis of ``shape`` once and ends in the model's spatial axes."""
    if len(axes) != len(shape):
        raise ValueError(f"axes {axes!r} name {len(axes)} axes but the image has {len(shape)} {tuple(shape)}")
    if len(set(axes.replace("Q", ""))) != len(axes.replace("Q", "")):
        raise ValueError(f"axes {axes!r} repeat a letter: name each axis once")
    spatial = [a for a in axes if a not in CHANNEL_LETTERS]
    if len(spatial) < dims:
        raise ValueError(f"image with axes {axes!r} has fewer than {dims} spatial axes for a {dims}D model")
    if sum(a in CHANNEL_LETTERS for a in axes) > 1:
        raise ValueError(f"image with axes {axes!r} has two channel axes: merge them into one")


def _to_planes(image: Any, axes: str, dims: int) -> tuple[Any, str, tuple[int, ...]]:
    """Reorder to (*loop axes, C, *spatial) and return the loop shape; a missing channel axis becomes size 1."""
    check_axes(axes, image.shape, dims)
    if not any(a in CHANNEL_LETTERS for a in axes):
        image = image[None]
        axes = "C" + axes
    channel = next(i for i, a in enumerate(axes) if a in CHANNEL_LETTERS)
    others = [i for i in range(len(axes)) if i != channel]
    spatial = others[-dims:]
    loop = others[:-dims]
    order = loop + [channel] + spatial
    arranged = image.transpose(order) if hasattr(image, "transpose") else np.transpose(image, order)
    loop_axes = "".join(axes[i] for i in loop)
    return arranged, loop_axes, tuple(int(image.shape[i]) for i in loop)


def _label_dtype(max_value: int) -> np.dtype:
    return np.dtype(np.uint8 if max_value < 256 else np.uint16 if max_value < 65536 else np.uint32)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the class axis (axis 0) of float32 logits; sigmoid for a single class."""
    if logits.shape[0] == 1:
        return 1.0 / (1.0 + np.exp(-logits))
    shifted = logits - logits.max(axis=0, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=0, keepdims=True)
    return shifted


def logits_to_output(net: UNet, logits: np.ndarray, output: OutputKind) -> np.ndarray:
    """Turn ``(n_classes, *spatial)`` logits into labels, instances or probabilities."""
    if output == "probabilities":
        return softmax(logits)
    if output == "labels":
        return _labels_block(logits, class_to_label(net))
    if net.metadata.get("task") == "instances" and net.config.n_classes == 3:
        instances = instances_from_probabilities(softmax(logits))
    else:
        background = int(class_to_label(net)[0])
        instances = semantic_instances(logits_to_output(net, logits, "labels"), background=background)
    return instances.astype(_label_dtype(int(instances.max(initial=0))), copy=False)


def normalizer_of(net: UNet) -> PercentileNormalization | None:
    """The normalisation stored in the model's metadata, or None for a model without one."""
    spec = net.metadata.get("normalization")
    return None if spec is None else PercentileNormalization.from_dict(spec)


def predict_image(
    net: UNet,
    image: Any,
    axes: str | None = None,
    output: OutputKind = "labels",
    tile_shape: int | Sequence[int] | None = None,
    batch_size: int | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelLike = None,
    amp: bool | None = None,
) -> tuple[np.ndarray, str]:
    """Predict a whole image or stack with a model and return the result with its axis letters.

    Parameters
    ----------
    net : UNet
        A model (from :func:`~napari_tiled_unet.load_model` or training); its metadata says how to
        normalise the image and what the classes mean.
    image : array-like
        The image, any numeric dtype. Axes other than the channel and the model's spatial axes (time, or
        Z for a 2D model) are predicted plane by plane.
    axes : str, optional
        Axis letters of ``image`` (``'YX'``, ``'ZYX'``, ``'TZYX'``, ``'CYX'``, ``'YXS'``...). Guessed if None.
    output : {"labels", "instances", "probabilities"}
        Labels use the label values of the training labels; instances give every object its own id;
        probabilities are float32 with a leading class axis ``'C'``.
    tile_shape, batch_size, progress, cancel
        As in :func:`~napari_tiled_unet.predict_tiled`; ``progress(done, total)`` counts tiles over all planes.
    amp : bool or None
        Mixed precision; None (default) uses it on CUDA only, where it is about twice as fast.

    Returns
    -------
    result : numpy.ndarray
        Labels (unsigned integers) or probabilities, with the input's spatial and loop axes.
    axes : str
        Axis letters of ``result``.

    """
    if output not in OUTPUT_KINDS:
        raise ValueError(f"output={output!r} is unknown: use one of {', '.join(OUTPUT_KINDS)}")
    config = net.config
    if axes is None:
        axes = default_axes(image.shape, config.dims, config.in_channels)
    axes = axes.upper()
    arranged, loop_axes, loop_shape = _to_planes(image, axes, config.dims)
    if int(arranged.shape[len(loop_shape)]) != config.in_channels:
        raise ValueError(
            f"image has {arranged.shape[len(loop_shape)]} channel(s) but the model expects {config.in_channels}: "
            "pick an image with that many channels (or split/merge channels first)"
        )
    spatial_axes = axes.replace("C", "").replace("S", "")[-config.dims:]
    n_loop = len(loop_shape)
    normalizer = normalizer_of(net)
    stats = None
    if normalizer is not None:
        channels_first = arranged.transpose((n_loop, *range(n_loop), *range(n_loop + 1, arranged.ndim)))
        stats = whole_image_stats(channels_first, normalizer)
    if is_dask(arranged):
        result = _predict_planes_lazy(net, arranged, loop_shape, output, tile_shape, batch_size, normalizer, stats,
                                      amp)
    else:
        result = _predict_planes(net, arranged, loop_shape, output, tile_shape, batch_size, normalizer, stats,
                                 progress, cancel, amp)
    if output == "probabilities":
        return result, loop_axes + "C" + spatial_axes
    if output == "instances" and math.prod(loop_shape) > 1:
        result = _unique_ids_across_planes(np.asarray(result), n_loop)
    return result, loop_axes + spatial_axes


def _plane_source(plane: Any, normalizer: PercentileNormalization | None, stats: tuple | None) -> Any:
    """What the tiles read: the plane normalised on the fly with whole-image statistics, or as it is."""
    return plane if normalizer is None else NormalizedView(plane, normalizer, stats)


def _predict_planes(net: UNet, arranged: Any, loop_shape: tuple[int, ...], output: OutputKind,
                    tile_shape: Any, batch_size: int | None, normalizer: PercentileNormalization | None,
                    stats: tuple | None, progress: ProgressCallback | None, cancel: CancelLike,
                    amp: bool | None = None) -> np.ndarray:
    """In-memory prediction, plane by plane, with one progress count over all planes.

    Labels and probabilities are computed block by block (:func:`~napari_tiled_unet.tiling.blocks_of`), so
    only one block of float32 logits exists at a time; instances need the whole plane's logits.
    """
    spatial = tuple(int(s) for s in arranged.shape[len(loop_shape) + 1:])
    layout, batch = plan_tiles(net, spatial, tile_shape, batch_size)
    blocks = blocks_of(layout, net.config.dims)
    total = math.prod(loop_shape) * layout.n_tiles
    done = 0

    def counted(done_in_call: int, _total: int) -> None:
        if progress is not None:
            progress(done + done_in_call, total)

    out_shape = (net.config.n_classes, *spatial) if output == "probabilities" else spatial
    out_dtype = np.float32 if output == "probabilities" else _label_dtype(int(class_to_label(net).max()))
    results = []
    for index in np.ndindex(*loop_shape):
        source = _plane_source(arranged[index], normalizer, stats)
        if output == "instances":
            logits = predict_with_retry(net, source, layout, batch, progress=counted, cancel=cancel, amp=amp)
            results.append(logits_to_output(net, logits, output))
            done += layout.n_tiles
            continue
        plane = np.empty(out_shape, dtype=out_dtype)
        for origin, block in blocks.flat:
            logits = predict_with_retry(net, source, block, batch, progress=counted, cancel=cancel, origin=origin,
                                        amp=amp)
            region = tuple(slice(o, o + a.size) for o, a in zip(origin, block.axes))
            plane[(Ellipsis, *region)] = logits_to_output(net, logits, output)
            done += block.n_tiles
        results.append(plane)
    return np.stack(results).reshape(*loop_shape, *results[0].shape)


def _predict_planes_lazy(net: UNet, arranged: Any, loop_shape: tuple[int, ...], output: OutputKind,
                         tile_shape: Any, batch_size: int | None, normalizer: PercentileNormalization | None,
                         stats: tuple | None, amp: bool | None = None) -> Any:
    """Lazy prediction of a dask array: labels and probabilities stay lazy, instances are computed."""
    import dask.array as da

    from napari_tiled_unet.lazy import predict_dask

    planes = []
    for index in np.ndindex(*loop_shape):
        logits = predict_dask(net, arranged[index], tile_shape=tile_shape, batch_size=batch_size,
                              normalization=normalizer, stats=stats, amp=amp)
        if output == "instances":
            planes.append(logits_to_output(net, logits.compute(), output))
            continue
        if output == "labels":
            lut = class_to_label(net)
            planes.append(logits.map_blocks(_labels_block, lut, drop_axis=0, dtype=_label_dtype(int(lut.max()))))
        else:
            planes.append(logits.map_blocks(softmax, dtype=np.float32))
    if output == "instances":
        return np.stack(planes).reshape(*loop_shape, *planes[0].shape)
    stacked = da.stack(planes) if len(planes) > 1 else planes[0][None]
    return stacked.reshape(*loop_shape, *planes[0].shape)


def _labels_block(logits: np.ndarray, lut: np.ndarray) -> np.ndarray:
    classes = np.argmax(logits, axis=0) if logits.shape[0] > 1 else (logits[0] > 0).astype(np.intp)
    return lut[classes].astype(_label_dtype(int(lut.max())))


def _unique_ids_across_planes(stacked: np.ndarray, n_loop: int) -> np.ndarray:
    """Offset instance ids of successive planes so that every object of the stack has its own id."""
    flat = stacked.reshape(-1, *stacked.shape[n_loop:]).astype(np.uint32)
    offset = 0
    for plane in flat:
        count = int(plane.max())
        plane[plane > 0] += offset
        offset += count
    return flat.reshape(stacked.shape).astype(_label_dtype(offset))
