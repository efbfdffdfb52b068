"""Predicting large objects on a downscaled image, as a model trained on many object sizes does best.

A model can say in its file the object radius it segments best (``metadata["prediction"]["largest_radius"]``,
in pixels; set for builtin:nuclei). With ``rescale="auto"`` an instance prediction whose objects come out with a
median radius above 1.1 times that is predicted again on the image shrunk to that radius (anti-aliased, linear);
the network's outputs are resampled back to the image's pixels (linear, pixel areas aligned) and the objects
found there, so outlines stay smooth and the minimum size counts the image's pixels. A factor given by
the user (``rescale=0.5``: objects twice as large as the model likes) is applied to every output. For a 2D model:
one 2D image, or a stack (time, Z) predicted plane by plane, where one factor, from the objects of all planes,
serves every plane (the pixels have one size). An image read region by region (dask, zarr) is rescaled for
instances only: they are found on the whole image's logits in memory anyway, so the scaled pass reads the image
into memory (a fraction of those logits' size); a factor is refused for its lazy labels and probabilities. The
normalisation statistics stay those of the original image.

Measured for builtin:nuclei (``benchmarks/bench_object_scale.py``: held-out synthetic images of random styles,
F1@0.5, no TTA): median radius 16-22 px 0.923 -> 0.942, 22-30 px 0.717 -> 0.840, above 30 px 0.82 -> 0.98;
enlarging small objects never helped (a scan of target radii), so auto only shrinks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from napari_tiled_unet.checks import is_number

AUTO = "auto"
OFF = "off"
TOLERANCE = 1.1
"""Auto rescales only when the objects' median radius exceeds the model's best radius by more than this factor."""
MIN_FACTOR, MAX_FACTOR = 0.05, 8.0

Rescale = float | str | None


def largest_radius_of(metadata: Mapping[str, Any] | None) -> float | None:
    """The object radius (pixels) a model file's metadata names as segmented best; None when it names none."""
    value = ((metadata or {}).get("prediction") or {}).get("largest_radius")
    return float(value) if is_number(value) and 0 < value < math.inf else None


def largest_radius(net: Any) -> float | None:
    """The object radius (pixels) the model segments best, from its file; None when it says none."""
    return largest_radius_of(getattr(net, "metadata", None))


def check_rescale(rescale: Rescale) -> Rescale:
    """``rescale`` as ``"auto"``, ``"off"``, None or a float factor; ValueError naming the value otherwise."""
    if rescale is None or rescale in (AUTO, OFF):
        return rescale
    given = rescale
    if isinstance(rescale, str):
        try:
            rescale = float(rescale)
        except ValueError:
            rescale = math.nan
    if not is_number(rescale) or not MIN_FACTOR <= float(rescale) <= MAX_FACTOR:
        raise ValueError(f"rescale={given!r} is invalid: use 'auto', 'off' or a factor from {MIN_FACTOR} to "
                         f"{MAX_FACTOR} (0.5 halves the image, for objects twice the size the model likes)")
    return float(rescale)


def rescale_applies(rescale: Rescale, net: Any, lazy: bool, output: str) -> float | str | None:
    """What to do for this prediction: a factor, ``"auto"`` (measure first), or None (predict as it is).

    None (the default) means ``"auto"`` where the model file names its best radius, the output is instances and
    the model is 2D (one plane or a stack of planes; an image read region by region too, since its instances are
    found on logits of the whole image in memory, which take more memory than the image itself). A factor needs
    a 2D model, and for labels and probabilities an image in memory (ValueError otherwise).
    """
    rescale = check_rescale(rescale)
    planes_fit = net.config.dims == 2 and (not lazy or output == "instances")
    if rescale in (None, AUTO):
        fits = planes_fit and output == "instances" and largest_radius(net) is not None
        if rescale == AUTO and not fits:
            return None  # asked for, but nothing to measure against: predicted as it is
        return AUTO if fits else None
    if rescale == OFF or rescale == 1.0:
        return None
    if net.config.dims != 2:
        raise ValueError(f"rescale={rescale} needs a 2D model, not a 3D one: leave out the rescale factor")
    if not planes_fit:
        raise ValueError(f"rescale={rescale} of {output} needs the image in memory, not read region by region: "
                         "leave out the rescale factor, or predict instances")
    return rescale


def median_radius(labels: np.ndarray, spatial_ndim: int | None = None) -> float | None:
    """Radius (pixels) of a disk (a ball in 3D) of the median object size of ``labels``; None without objects.

    With ``spatial_ndim`` smaller than ``labels.ndim`` the leading axes are a stack of planes that number their
    objects each on their own: the median is over the objects of every plane.
    """
    labels = np.asarray(labels)
    ndim = labels.ndim if spatial_ndim is None else spatial_ndim
    planes = labels.reshape((-1, *labels.shape[labels.ndim - ndim:]))
    sizes = np.concatenate([np.bincount(plane.ravel().astype(np.intp, copy=False))[1:] for plane in planes])
    sizes = sizes[sizes > 0]
    if not sizes.size:
        return None
    unit = math.pi if ndim == 2 else 4.0 / 3.0 * math.pi
    return float((float(np.median(sizes)) / unit) ** (1.0 / ndim))


def auto_factor(radius: float | None, best_radius: float) -> float:
    """The factor that brings objects of median ``radius`` to ``best_radius``; 1.0 when they are not too large."""
    if radius is None or radius <= TOLERANCE * best_radius:
        return 1.0
    return best_radius / radius


def scaled_shape(shape: tuple[int, ...], factor: float) -> tuple[int, ...]:
    """The spatial shape of an image scaled by ``factor`` (at least 1 pixel per axis)."""
    return tuple(max(1, round(n * factor)) for n in shape)


def scale_image(image: np.ndarray, factor: float) -> np.ndarray:
    """``(C, *spatial)`` image scaled by ``factor``, pixel areas aligned with :func:`scale_back`.

    Linear interpolation, after Gaussian anti-aliasing when shrinking (sigma ``(1 / factor - 1) / 2``).
    """
    spatial = image.shape[1:]
    target = scaled_shape(spatial, factor)
    out = np.empty((image.shape[0], *target), dtype=np.float32)
    zoom = [t / n for t, n in zip(target, spatial)]
    for channel, plane in enumerate(np.asarray(image, dtype=np.float32)):
        if factor < 1:
            plane = ndi.gaussian_filter(plane, [max(0.0, (1 / z - 1) / 2) for z in zoom], mode="reflect")
        out[channel] = ndi.zoom(plane, zoom, output=np.float32, order=1, mode="nearest", grid_mode=True)
    return out


def resample_to(array: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Linear resampling of ``(K, *small)`` maps (logits, probabilities) to the spatial ``shape``.

    Pixel areas are aligned with :func:`scale_image`. An instance model's logits resampled so are post-processed
    at the image's own size: outlines stay smooth and the minimum size counts the image's pixels.
    """
    small = array.shape[1:]
    zoom = [n / s for n, s in zip(shape, small)]
    out = np.empty((array.shape[0], *shape), dtype=np.float32)
    for k, plane in enumerate(np.asarray(array, dtype=np.float32)):
        out[k] = ndi.zoom(plane, zoom, output=np.float32, order=1, mode="nearest", grid_mode=True)
    return out


def scale_back(result: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A result of a scaled image (``(*small)`` or ``(K, *small)``) at the original spatial ``shape``.

    Every original pixel takes the value of the scaled pixel its centre falls in (nearest, pixel areas aligned),
    so label values are kept exactly.
    """
    small = result.shape[-len(shape):]
    index = tuple(np.minimum(((np.arange(n) + 0.5) * s / n).astype(np.intp), s - 1) for n, s in zip(shape, small))
    return result[(...,) + np.ix_(*index)]


def rescale_in_words(factor: float, radius: float | None, best_radius: float | None) -> str:
    """One line saying how the image was scaled and why, for the CLI and the Predict widget."""
    if radius is None or best_radius is None:
        return f"predicted on the image scaled by {factor:.2f} (--rescale {factor:g})"
    return (f"objects came out with a median radius of {radius:.0f} px, larger than the {best_radius:.0f} px the "
            f"model segments best: predicted again on the image scaled by {factor:.2f} (--rescale off turns it off)")
