"""Prediction of whole images with a model: what the command line, the napari widgets and scripts call.

:func:`predict_image` works on any array with axis letters (``'YX'``, ``'ZYX'``, ``'TZYX'``, ``'CYX'``,
``'YXS'`` for RGB...; see :mod:`napari_tiled_unet.axes`): the image is normalised with the model's rule and the
statistics of the whole image (:mod:`napari_tiled_unet.normalization`), the model's spatial axes are predicted
with the exact overlap-tile engine, the remaining axes (time, or Z for a 2D model) plane by plane
(:mod:`napari_tiled_unet.plane_loop`), and the logits become labels, instances or probabilities
(:mod:`napari_tiled_unet.class_outputs`, :mod:`napari_tiled_unet.instance_output`). Instances of consecutive
planes are linked into objects that span them (:mod:`napari_tiled_unet.stitching`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from napari_tiled_unet.array_views import is_dask
from napari_tiled_unet.axes import CHANNEL_LETTERS, channels_first, check_axes, default_axes, spatial_letters, to_planes
from napari_tiled_unet.cancel import CancelLike, ProgressCallback
from napari_tiled_unet.class_outputs import label_dtype, softmax
from napari_tiled_unet.instance_output import instance_settings_of, instances_of, is_instance_model, links_z_planes
from napari_tiled_unet.model import UNet
from napari_tiled_unet.normalization import ImageNormalizer, PercentileNormalization
from napari_tiled_unet.object_scale import (
    AUTO,
    Rescale,
    auto_factor,
    largest_radius,
    median_radius,
    resample_to,
    rescale_applies,
    scale_back,
    scale_image,
    scaled_shape,
)
from napari_tiled_unet.plane_loop import predict_planes, predict_planes_lazy
from napari_tiled_unet.postprocess import InstanceSettings
from napari_tiled_unet.prediction_request import OUTPUT_KINDS, OutputKind, PredictionRequest
from napari_tiled_unet.stitching import DEFAULT_STITCH_THRESHOLD, DEFAULT_VALLEY_RATIO, link_planes
from napari_tiled_unet.test_time_augmentation import tta_applies
from napari_tiled_unet.tile_engine import check_eval_mode
from napari_tiled_unet.uneven_background import (
    Flatten,
    flatten_applies,
    flatten_limit,
    flatten_planes,
    opening_size,
)

__all__ = [
    "CHANNEL_LETTERS",
    "OUTPUT_KINDS",
    "OutputKind",
    "check_axes",
    "default_axes",
    "image_normalizer",
    "normalizer_of",
    "predict_image",
    "prepared_normalizer",
    "softmax",
]


def normalizer_of(net: UNet) -> PercentileNormalization | None:
    """The normalisation rule stored in the model's metadata, or None for a model without one."""
    spec = net.metadata.get("normalization")
    return None if spec is None else PercentileNormalization.from_dict(spec)


def image_normalizer(net: UNet, image: Any, axes: str | None = None) -> ImageNormalizer | None:
    """The model's normalisation bound to the statistics of a whole image (all its planes and time points).

    Give the result to :func:`predict_image` (``normalizer=``) to predict a part of the image (one plane, a
    crop) exactly as it comes out of a prediction of the whole image.
    """
    rule = normalizer_of(net)
    if rule is None:
        return None
    axes = (axes or default_axes(image.shape, net.config.dims, net.config.in_channels)).upper()
    arranged, _, loop_shape = to_planes(image, axes, net.config.dims)
    return rule.for_image(channels_first(arranged, len(loop_shape)))


def prepared_normalizer(net: UNet, image: Any, axes: str | None = None,
                        flatten: Flatten = None) -> tuple[ImageNormalizer | None, bool]:
    """The normaliser of a whole image as :func:`predict_image` prepares it, and whether it flattens it.

    With ``flatten`` ("auto" by default where the model names a background limit) the whole image is measured
    once: when its background is flattened, the statistics are those of the flattened image. Predict a plane
    or crop with ``normalizer=`` this and ``flatten="on"`` if it was flattened (else ``"off"``) to get that
    part of a prediction of the whole image (large objects aside: a part alone decides how much to shrink).
    """
    config = net.config
    axes = (axes or default_axes(image.shape, config.dims, config.in_channels)).upper()
    arranged, _, loop_shape = to_planes(image, axes, config.dims)
    flattening = flatten_applies(flatten, net, False)
    _, normalizer, variation = _prepared(net, arranged, len(loop_shape), flattening, 1.0, None)
    return normalizer, variation is not None


def _prepared(net: UNet, arranged: Any, n_loop: int, flattening: str | None, factor: float,
              normalizer: ImageNormalizer | None) -> tuple[Any, ImageNormalizer | None, float | None]:
    """The planes to predict at scale ``factor``, their normaliser and the background variation if flattened.

    ``flattening`` is :func:`~napari_tiled_unet.uneven_background.flatten_applies`'s answer; a given
    ``normalizer`` is kept, else the model's rule is bound to the planes as they will be predicted.
    """
    variation = None
    if flattening:
        arranged, measured, changed = flatten_planes(arranged, n_loop, opening_size(largest_radius(net), factor),
                                                     flatten_limit(net, flattening))
        variation = measured if changed else None
    if normalizer is None and (rule := normalizer_of(net)) is not None:
        normalizer = rule.for_image(channels_first(arranged, n_loop))
    return arranged, normalizer, variation


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
    normalizer: ImageNormalizer | None = None,
    stitch_threshold: float = DEFAULT_STITCH_THRESHOLD,
    valley_ratio: float = DEFAULT_VALLEY_RATIO,
    instance_settings: InstanceSettings | None = None,
    tta: bool | None = None,
    rescale: Rescale = None,
    on_rescale: Callable[[float, float | None], Any] | None = None,
    flatten: Flatten = None,
    on_flatten: Callable[[float, float | None], Any] | None = None,
) -> tuple[np.ndarray, str]:
    """Predict a whole image or stack with a model and return the result with its axis letters.

    Parameters
    ----------
    net : UNet
        A model in eval mode (from :func:`~napari_tiled_unet.load_model` or training); its metadata says how
        to normalise the image and what the classes mean.
    image : array-like
        The image, any numeric dtype; numpy, zarr or dask (dask gives lazy labels and probabilities). Axes
        other than the channel and the model's spatial axes (time, or Z for a 2D model) are predicted plane
        by plane.
    axes : str, optional
        Axis letters of ``image`` (``'YX'``, ``'ZYX'``, ``'TZYX'``, ``'CYX'``, ``'YXS'``...). Guessed if None.
    output : {"labels", "instances", "probabilities"}
        Labels use the label values of the training labels; instances give every object its own id;
        probabilities are float32 with a leading class axis ``'C'``.
    tile_shape, batch_size, progress, cancel
        As in :func:`~napari_tiled_unet.predict_tiled`; ``progress(done, total)`` counts tiles over all planes.
    amp : bool or None
        Mixed precision; None (default) uses it on CUDA only, where it is about twice as fast.
    normalizer : ImageNormalizer, optional
        Statistics to normalise with instead of those of ``image`` (see :func:`image_normalizer`): a plane or
        crop predicted with the whole image's normaliser equals that part of the whole prediction.
    stitch_threshold : float
        Instances of a stack: objects of consecutive planes (and time points) are one object when at least this
        share of the smaller one overlaps the other (see :mod:`napari_tiled_unet.stitching`); 0 gives every
        plane's objects ids of their own.
    valley_ratio : float
        Linked objects of a Z stack are cut where their area falls below this share of the peaks on either
        side (nuclei stacked in Z); 0 cuts nothing. Time points are never cut.
    instance_settings : InstanceSettings, optional
        Post-processing of an instance model (seed and foreground thresholds, minimum size, split depth)
        instead of the settings tuned after training and stored in the model (for a 2D model's Z planes that
        are linked, the settings it stores for them, tuned without seed cuts, where it has them:
        :data:`~napari_tiled_unet.instance_output.LINKED_PLANES_KEY`).
    tta : bool or None
        Test-time augmentation: average over the 8 flips/rotations of the Y-X plane, each predicted with the
        exact tiling (8x the time; in-memory images only). None (default): on where the model file recommends
        it (builtin:nuclei) and the image is one 2D image in memory, off otherwise (see
        :func:`~napari_tiled_unet.test_time_augmentation.tta_applies`).
    rescale : float, "auto", "off" or None
        Predict on the image scaled by this factor and scale the result back (0.5 for objects twice the size
        the model likes); "auto" shrinks the image when the objects come out larger than the radius the model
        file names (see :mod:`napari_tiled_unet.object_scale`); None (default): auto for such a model's
        instances of a 2D model (one factor for all planes of a stack; an image read region by region is read
        into memory for the scaled pass), nothing otherwise.
    on_rescale : callable, optional
        Called as ``on_rescale(factor, median_radius)`` when the image was predicted scaled (the radius, in
        pixels, of the first pass's objects under auto, else None).
    flatten : "auto", "on", "off" or None
        Subtract a strongly uneven background before predicting (see :mod:`napari_tiled_unet.uneven_background`):
        "auto" where it varies more than the model file says it was trained on, "on" always, "off" never; None
        (default): auto for such a model (builtin:nuclei) without a given ``normalizer`` (lazy images too).
    on_flatten : callable, optional
        Called as ``on_flatten(variation, limit)`` when the background was flattened (``limit`` None under "on").

    Returns
    -------
    result : numpy.ndarray
        Labels (unsigned integers) or probabilities, with the input's spatial and loop axes.
    axes : str
        Axis letters of ``result``.

    Raises
    ------
    ValueError
        If the net is in train mode, the axes or channels do not fit the model, or the image holds NaN.

    """
    check_eval_mode(net)
    config = net.config
    axes = (axes or default_axes(image.shape, config.dims, config.in_channels)).upper()
    arranged, loop_axes, loop_shape = to_planes(image, axes, config.dims)
    if int(arranged.shape[len(loop_shape)]) != config.in_channels:
        raise ValueError(
            f"image has {arranged.shape[len(loop_shape)]} channel(s) but the model expects {config.in_channels}: "
            "pick an image with that many channels (or split/merge channels first)"
        )
    n_loop, given_normalizer = len(loop_shape), normalizer
    if instance_settings is None and is_instance_model(net) and links_z_planes(net, loop_axes, output,
                                                                               stitch_threshold):
        instance_settings = instance_settings_of(net, linked_planes=True)
    flattening = flatten_applies(flatten, net, given_normalizer is not None)
    scaling = rescale_applies(rescale, net, is_dask(arranged), output)
    first_factor = scaling if isinstance(scaling, float) else 1.0
    planes, normalizer, variation = _prepared(net, arranged, n_loop, flattening, first_factor, given_normalizer)
    request = PredictionRequest(output=output, tile_shape=_tile(tile_shape), batch_size=batch_size, amp=amp,
                                normalizer=normalizer, instance_settings=instance_settings,
                                tta=tta_applies(tta, net, len(loop_shape), is_dask(arranged)),
                                progress=progress, cancel=cancel)
    run = predict_planes_lazy if is_dask(arranged) else predict_planes
    if isinstance(scaling, float):
        result = _predict_scaled(net, planes, loop_shape, request, scaling)
        if on_rescale is not None:
            on_rescale(scaling, None)
    else:
        result = run(net, planes, loop_shape, request, instances_of)
    radius = median_radius(result, config.dims) if scaling == AUTO else None
    if scaling == AUTO and (factor := auto_factor(radius, largest_radius(net))) < 1.0:
        if flattening:  # the background measured again at the objects' own scale
            planes, normalizer, variation = _prepared(net, arranged, n_loop, flattening, factor, given_normalizer)
            request = request.replace(normalizer=normalizer)
        result = _predict_scaled(net, planes, loop_shape, request, factor)
        if on_rescale is not None:
            on_rescale(factor, radius)
    if variation is not None and on_flatten is not None:
        on_flatten(variation, flatten_limit(net, flattening))
    spatial_axes = spatial_letters(axes, config.dims)
    if output == "probabilities":
        return result, loop_axes + "C" + spatial_axes
    if output == "instances" and loop_shape:
        result = link_loop_axes(np.asarray(result), loop_axes, stitch_threshold, valley_ratio)
    return result, loop_axes + spatial_axes


def _predict_scaled(net: UNet, arranged: Any, loop_shape: tuple[int, ...], request: PredictionRequest,
                    factor: float) -> np.ndarray:
    """2D planes ``(*loop_shape, C, Y, X)`` predicted scaled by ``factor``, the result scaled back to their pixels.

    Planes read region by region (instances only) are scaled in memory and predicted block by block again, on
    the dask scheduler in use (a cluster's workers with ``--scheduler``).
    """
    lazy = is_dask(arranged)
    image = np.asarray(arranged)
    plane_shape = tuple(image.shape[len(loop_shape):])
    shape = plane_shape[1:]
    planes = image.reshape((-1, *plane_shape))
    scaled = np.stack([scale_image(plane, factor) for plane in planes]).reshape(
        (*loop_shape, plane_shape[0], *scaled_shape(shape, factor)))

    def instances_at_image_size(net: UNet, logits: np.ndarray, settings: InstanceSettings | None) -> np.ndarray:
        return instances_of(net, resample_to(logits, shape), settings)

    if lazy:
        import dask.array as da

        return predict_planes_lazy(net, da.from_array(scaled, chunks=scaled.shape), loop_shape, request,
                                   instances_at_image_size)
    result = predict_planes(net, scaled, loop_shape, request, instances_at_image_size)
    if request.output == "probabilities":
        per_plane = result.reshape((-1, *result.shape[len(loop_shape):]))
        return np.stack([resample_to(p, shape) for p in per_plane]).reshape((*loop_shape, -1, *shape))
    return result if request.output == "instances" else np.ascontiguousarray(scale_back(result, shape))


def link_loop_axes(result: np.ndarray, loop_axes: str, threshold: float,
                   valley_ratio: float = DEFAULT_VALLEY_RATIO) -> np.ndarray:
    """Link instances along every loop axis (letters ``loop_axes``), innermost first.

    Z planes become 3D objects (cut at area valleys), then time points are linked (never cut).

    :func:`~napari_tiled_unet.stitching.link_planes` numbers the slices it links afresh, so ids are unique over
    the whole result once the outermost axis is linked.
    """
    for axis in reversed(range(len(loop_axes))):
        ratio = valley_ratio if loop_axes[axis] == "Z" else 0.0
        linked = np.empty(result.shape, dtype=np.uint32)
        for index in np.ndindex(*result.shape[:axis]):
            linked[index] = link_planes(result[index], threshold, ratio)
        result = linked
    return result.astype(label_dtype(int(result.max(initial=0))), copy=False)


def _tile(tile_shape: int | Sequence[int] | None) -> int | tuple[int, ...] | None:
    if tile_shape is None or isinstance(tile_shape, (int, np.integer)):
        return None if tile_shape is None else int(tile_shape)
    return tuple(int(t) for t in tile_shape)
