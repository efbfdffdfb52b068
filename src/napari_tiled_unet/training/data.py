"""Training data: checked image/label pairs, validation regions, and patches of the valid geometry.

Every image is normalised once with the model's rule and the statistics of the whole image as given (a stack
with all its planes, before it is cut into planes or patches), exactly as prediction normalises it; the rule
is stored in the model (:mod:`napari_tiled_unet.normalization`). A block at the end of every image's longest
axis, holding ``val_fraction`` of its annotated pixels, is held back for validation: its labels never reach
the loss. Patches are cut with the same mirror extrapolation as prediction, so border patches look like border
tiles.

With an anisotropic voxel size (``TrainingConfig.voxel_size``) the targets' distances (the centre distance and
the border weight map, ``border_sigma`` in pixels of the finest axis) are physical, and the patches are
augmented with it (:func:`~napari_tiled_unet.training.augment.augment`, ``spacing``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from napari_tiled_unet.anisotropy import anisotropic_spacing
from napari_tiled_unet.config import UNetConfig
from napari_tiled_unet.normalization import PercentileNormalization
from napari_tiled_unet.tile_input import read_tile
from napari_tiled_unet.tiling import smallest_tile_for_step
from napari_tiled_unet.training.augment import AugmentationConfig, augment
from napari_tiled_unet.training.config import TrainingConfig
from napari_tiled_unet.training.labels import (
    ANY_OBJECT,
    IGNORE,
    LabelEncoding,
    as_integer_labels,
    class_targets,
    instance_ids,
    label_encoding,
)
from napari_tiled_unet.training.sparse_instances import (
    PAINTED_BACKGROUND,
    as_painted_convention,
    background_mode,
    with_inferred_background,
)
from napari_tiled_unet.training.start_model_objects import (
    AGREEMENT,
    START_OBJECT_WEIGHT,
    StartObjects,
    with_start_objects,
)
from napari_tiled_unet.training.stroke_objects import (
    OBJECT_STROKES_INSIDE,
    objects_from_strokes,
    objects_mode,
    stroke_fit,
)
from napari_tiled_unet.training.targets import border_weight_map, centre_distance

MIN_VAL_PIXELS = 20


@dataclass
class TrainingImage:
    """One image ready for training.

    Attributes
    ----------
    image : numpy.ndarray
        ``(C, *spatial)`` float32, normalised.
    targets : numpy.ndarray
        ``(*spatial)`` int16 class per pixel, -1 where not annotated or held back for validation.
    weights : numpy.ndarray
        ``(*spatial)`` float32 loss weight per pixel.
    distance : numpy.ndarray or None
        ``(*spatial)`` float32 centre-distance target (instances with the distance head), else None.
    val_slices : tuple of slice or None
        The held-back block.
    val_targets : numpy.ndarray or None
        Class targets inside the held-back block (-1 where not annotated).
    val_instances : numpy.ndarray or None
        Object ids inside the held-back block (instances task; sparse: the painted objects only).
    sample_points : numpy.ndarray
        Flat indices of annotated training pixels (patch centres are drawn among them).

    """

    image: np.ndarray
    targets: np.ndarray
    weights: np.ndarray
    distance: np.ndarray | None
    val_slices: tuple[slice, ...] | None
    val_targets: np.ndarray | None
    val_instances: np.ndarray | None
    sample_points: np.ndarray

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        """Spatial shape of the image."""
        return tuple(self.targets.shape)


@dataclass
class TrainingData:
    """All training images with their label encoding, the normalisation used, and notes for the user.

    ``spacing`` is the voxel size in units of its finest axis when it is anisotropic (None: pixel units).
    """

    images: list[TrainingImage]
    encoding: LabelEncoding
    normalization: PercentileNormalization
    in_channels: int
    notes: tuple[str, ...] = ()
    spacing: tuple[float, ...] | None = None
    objects_from_strokes: bool = False
    """The objects are the start model's that object strokes confirmed (:mod:`.stroke_objects`)."""

    @property
    def has_validation(self) -> bool:
        """True if some image holds a validation block."""
        return any(item.val_slices is not None for item in self.images)

    @property
    def validation_objects(self) -> int:
        """Objects (instance ids) held back for validation over all images; 0 for semantic labels."""
        return sum(int(np.count_nonzero(np.unique(item.val_instances))) for item in self.images
                   if item.val_instances is not None)


def split_channels(image: np.ndarray, labels_shape: tuple[int, ...], index: int) -> np.ndarray:
    """Return the image as ``(C, *spatial)`` given the labels' shape; the channel axis may be first or last."""
    image = np.asarray(image)
    if image.shape == labels_shape:
        return image[None]
    if image.ndim == len(labels_shape) + 1:
        if image.shape[1:] == labels_shape:
            return image
        if image.shape[:-1] == labels_shape:
            return np.moveaxis(image, -1, 0)
    raise ValueError(
        f"image {index} has shape {image.shape} but its labels have shape {labels_shape}: they must cover the "
        "same pixels (the image may add one channel axis)"
    )


def _as_list(items: np.ndarray | Sequence[np.ndarray], name: str) -> list[np.ndarray]:
    if isinstance(items, np.ndarray) or hasattr(items, "shape"):
        return [np.asarray(items)]
    result = [np.asarray(item) for item in items]
    if not result:
        raise ValueError(f"no {name} given: give at least one image and its labels")
    return result


def pairs_for_model(
    images: np.ndarray | Sequence[np.ndarray], labels: np.ndarray | Sequence[np.ndarray], dims: int,
    normalization: PercentileNormalization,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Check image/label pairs and return ``(normalised image (C, *spatial), labels)``.

    Every image is normalised with the statistics of the whole image as given (all its planes), then a 2D model
    takes 3D pairs plane by plane, keeping only the annotated planes (a plane with any non-zero label).
    """
    image_list, label_list = _as_list(images, "images"), _as_list(labels, "labels")
    if len(image_list) != len(label_list):
        raise ValueError(f"{len(image_list)} images but {len(label_list)} label images: give one label image per image")
    pairs = []
    for i, (img, lab) in enumerate(zip(image_list, label_list)):
        lab = as_integer_labels(lab, name=f"labels {i}")
        if lab.ndim < dims:
            raise ValueError(f"labels {i} have {lab.ndim} axes but the model is {dims}D: use a {lab.ndim}D model")
        img = split_channels(img, lab.shape, i)
        if img.dtype.kind not in "biuf":
            raise ValueError(f"image {i} has type {img.dtype}: give a numeric image")
        if img.dtype.kind == "f" and not np.isfinite(img).all():
            raise ValueError(f"image {i} contains NaN or infinite values: replace them (e.g. with 0) before training")
        normalizer = normalization.for_image(img)
        extra = lab.ndim - dims
        if extra == 0:
            pairs.append((normalizer(img), lab))
            continue
        for index in np.ndindex(*lab.shape[:extra]):
            plane_labels = lab[index]
            if np.any(plane_labels > 0):
                pairs.append((normalizer(img[(slice(None), *index)]), plane_labels))
    if not pairs:
        raise ValueError("no plane has any annotation: paint labels before training")
    channels = {img.shape[0] for img, _ in pairs}
    if len(channels) > 1:
        raise ValueError(f"images have different channel counts {sorted(channels)}: use images with the same channels")
    return pairs


def validation_block(annotated: np.ndarray, fraction: float) -> tuple[slice, ...] | None:
    """The block at the end of the longest axis that holds ``fraction`` of the annotated pixels."""
    if fraction <= 0:
        return None
    axis = int(np.argmax(annotated.shape))
    other = tuple(i for i in range(annotated.ndim) if i != axis)
    per_row = annotated.sum(axis=other) if other else annotated.astype(np.int64)
    total = int(per_row.sum())
    from_end = np.cumsum(per_row[::-1])
    rows = int(np.searchsorted(from_end, math.ceil(fraction * total))) + 1
    if rows >= annotated.shape[axis]:
        return None
    block = [slice(None)] * annotated.ndim
    block[axis] = slice(annotated.shape[axis] - rows, annotated.shape[axis])
    return tuple(block)


def _weights(objects: np.ndarray, targets: np.ndarray, config: TrainingConfig,
             spacing: tuple[float, ...] | None) -> np.ndarray:
    if config.task == "instances":
        return border_weight_map(objects, w0=config.border_weight, sigma=config.border_sigma, class_balance=True,
                                 sampling=spacing)
    # Scribbles are not re-weighted by class: up-weighting the rarer nucleus strokes made predicted objects too
    # large (held-out foreground IoU 0.82 with inverse-frequency weights, 0.85 without, sample data, 120 s)
    return np.ones(targets.shape, dtype=np.float32)


def prepare_training_data(
    images: np.ndarray | Sequence[np.ndarray],
    labels: np.ndarray | Sequence[np.ndarray],
    config: TrainingConfig,
    normalization: PercentileNormalization | None = None,
    start_objects: StartObjects | None = None,
) -> TrainingData:
    """Check and prepare everything training needs, before any long work starts.

    ``start_objects`` (sparse instances fine-tuned from a model: the start model's objects on a normalised
    image) adds that model's objects where nothing is painted, as weak labels, when no background is painted
    (:mod:`~napari_tiled_unet.training.start_model_objects`).

    Raises
    ------
    ValueError
        With one line naming the problem and the fix: mismatched shapes, empty or single-class labels, float
        labels with fractions, NaN in an image, too few annotated pixels for the validation split.

    """
    normalization = normalization or PercentileNormalization()
    pairs = pairs_for_model(images, labels, config.unet.dims, normalization)
    notes: list[str] = []
    added: list[np.ndarray | None] = [None] * len(pairs)
    loose: list[np.ndarray | None] = [None] * len(pairs)
    strokes = False
    if config.task == "instances" and config.sparse:
        start_ids = None  # the start model's objects, predicted once where they are needed
        strokes, reason = objects_mode(config.sparse_objects, [lab for _, lab in pairs])
        if strokes:
            start_ids = None if start_objects is None else [start_objects(image) for image, _ in pairs]
            pairs, loose, note = _objects_from_strokes(pairs, start_ids, reason)
            notes.append(note)
            config = config.replace(sparse_background="painted" if any(
                np.any(lab == PAINTED_BACKGROUND) for _, lab in pairs) else "inferred")
        pairs, mode, note = _painted_convention(pairs, config)
        notes.append(note)
        if start_objects is not None and mode == "inferred":
            start_ids = start_ids or [start_objects(image) for image, _ in pairs]
            pairs, added, note = _with_start_objects(pairs, start_ids)
            notes.append(note)
    regression = ("centre distance",) if config.task == "instances" and config.instance_head == "distance" else ()
    encoding = label_encoding([lab for _, lab in pairs], config.task, config.sparse, dict(config.class_names),
                              regression)
    spacing = anisotropic_spacing(config.voxel_size, config.unet.dims)
    prepared = [_prepare_image(i, image, lab, encoding, config, spacing, extra, unknown_outline, scored=not strokes)
                for i, ((image, lab), extra, unknown_outline) in enumerate(zip(pairs, added, loose, strict=True))]
    return TrainingData(prepared, encoding, normalization, in_channels=pairs[0][0].shape[0], notes=tuple(notes),
                        spacing=spacing, objects_from_strokes=strokes)


def _painted_convention(pairs: list[tuple[np.ndarray, np.ndarray]], config: TrainingConfig,
                        ) -> tuple[list, str, str]:
    """Sparse instance labels as 0 = not annotated, 1 = background, 2.. = objects, unambiguous background added.

    Returns the converted pairs, the background mode ("painted" or "inferred") and a note for the user.

    See :func:`~napari_tiled_unet.training.sparse_instances.with_inferred_background`.
    """
    mode, note = config.sparse_background, f"sparse instances, background {config.sparse_background}"
    if mode == "auto":
        mode, note = background_mode([lab for _, lab in pairs])
    elif mode == "painted" and not any(np.any(lab == PAINTED_BACKGROUND) for _, lab in pairs):
        raise ValueError("sparse instance labels have no background painted with 1: paint some background with 1, "
                         "or let the background be inferred (sparse_background='inferred')")
    converted = []
    for image, lab in pairs:
        lab = as_painted_convention(lab, mode)
        converted.append((image, with_inferred_background(image, lab, mode)))
    return converted, mode, note


def _objects_from_strokes(pairs: list[tuple[np.ndarray, np.ndarray]], start_ids: list[np.ndarray] | None,
                          reason: str) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[np.ndarray | None], str]:
    """Scribbles as the start model's objects they confirm, if it fits them (see :mod:`.stroke_objects`).

    Returns the pairs in the painted convention, the object-stroke pixels taught without outline, and a note.
    """
    if start_ids is None:
        raise ValueError(f"{reason}: strokes teach an instance model only when training starts from one that "
                         "already separates objects; start from builtin:nuclei or your own instance model "
                         "(--init), or learn classes from the scribbles with task='semantic' (--task semantic)")
    fit = stroke_fit(start_ids, [lab for _, lab in pairs])
    if not fit.fits:
        raise ValueError(f"{reason}, but {fit.in_words()} (at least {OBJECT_STROKES_INSIDE:.0%} needed): they do "
                         "not mark its objects; learn classes from the scribbles with task='semantic' (--task "
                         "semantic), or paint whole objects")
    results = [objects_from_strokes(lab, ids) for (_, lab), ids in zip(pairs, start_ids, strict=True)]
    confirmed, crossed = sum(r.confirmed for r in results), sum(r.crossed for r in results)
    note = (f"object strokes: {fit.in_words()}; the {confirmed} objects of it that object strokes pass through "
            "are learnt with its outlines")
    if crossed:
        note += f", {crossed} crossed by a background stroke too {'is' if crossed == 1 else 'are'} left out"
    loose = sum(int(r.loose.sum()) for r in results) / max(sum(int((lab >= 2).sum()) for _, lab in pairs), 1)
    if loose > 0.005:
        note += f"; the {loose:.0%} of the object strokes outside them are learnt as objects of unknown outline"
    return ([(image, r.labels) for (image, _), r in zip(pairs, results, strict=True)],
            [r.loose if r.loose.any() else None for r in results], note)


def _with_start_objects(pairs: list[tuple[np.ndarray, np.ndarray]], start_ids: list[np.ndarray],
                        ) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[np.ndarray | None], str]:
    """The start model's objects added where nothing is painted, if it finds enough of the painted objects."""
    results = [with_start_objects(lab, ids) for (_, lab), ids in zip(pairs, start_ids, strict=True)]
    found, painted = sum(r.painted_found for r in results), sum(r.painted for r in results)
    n_added, n_doubt = sum(r.objects_added for r in results), sum(r.objects_in_doubt for r in results)
    note = f"the model to start from finds {found} of the {painted} painted objects: "
    if painted == 0 or found < AGREEMENT * painted:
        note += f"its own objects are not used as labels (it must find {AGREEMENT:.0%} of them)"
    else:
        note += (f"its {n_added} objects where nothing is painted are kept as weak labels (weight "
                 f"{START_OBJECT_WEIGHT:g}), and no background is inferred under any of its objects")
        if n_doubt:
            note += (f" ({n_doubt} more lie mostly on what looks like background and are left unannotated: a dim "
                     "nucleus or textured background, neither is taught)")
    return [(image, r.labels) for (image, _), r in zip(pairs, results, strict=True)], [r.added for r in results], note


def _prepare_image(i: int, image: np.ndarray, lab: np.ndarray, encoding: LabelEncoding,
                   config: TrainingConfig, spacing: tuple[float, ...] | None,
                   added: np.ndarray | None = None, loose: np.ndarray | None = None,
                   scored: bool = True) -> TrainingImage:
    """One image's targets, weights and validation block.

    ``added``: pixels of the start model's objects added as weak labels; ``loose``: pixels known to lie in an
    object whose outline nobody drew (:data:`~napari_tiled_unet.training.labels.ANY_OBJECT`); ``scored``:
    whether the held-back objects are scored (False where their outlines are a model's, not a person's).
    """
    targets = class_targets(lab, encoding, config.task, config.sparse, config.boundary_width)
    objects = separate_pieces(instance_ids(lab, config.sparse)) if config.task == "instances" else lab
    weights = _weights(objects, targets, config, spacing)
    if loose is not None:
        targets[loose] = ANY_OBJECT
        weights = np.where(loose, 1.0, weights).astype(np.float32)
    distance = centre_distance(objects, sampling=spacing) if encoding.regression else None
    val_source, val_objects = targets, objects
    if added is not None:
        # the start model's objects are weak labels: lighter in the loss, never scored in validation
        weights = np.where(added, weights * START_OBJECT_WEIGHT, weights).astype(np.float32)
        painted = np.where(added, 0, lab)
        val_source = class_targets(painted, encoding, config.task, config.sparse, config.boundary_width)
        val_objects = separate_pieces(instance_ids(painted, config.sparse))
    annotated = val_source != IGNORE
    # instances: hold out a share of the objects (with what is annotated around them), so that the block has
    # objects to score even when most annotated pixels are background strokes
    block = validation_block(val_source > 0 if config.task == "instances" else annotated, config.val_fraction)
    val_targets = val_instances = None
    if block is not None:
        val_targets = val_source[block].copy()
        if int((val_targets != IGNORE).sum()) < MIN_VAL_PIXELS:
            raise ValueError(
                f"image {i} has too few annotated pixels for a {config.val_fraction:.0%} validation split "
                f"({int((val_targets != IGNORE).sum())} held back): paint more, or set the validation fraction to 0"
            )
        val_instances = val_objects[block].copy() if config.task == "instances" and scored else None
        targets = targets.copy()
        targets[block] = IGNORE
    points = np.flatnonzero(targets != IGNORE)
    if points.size == 0:
        raise ValueError(f"image {i} has no annotated pixel left for training after the validation split: "
                         "paint more, or lower the validation fraction")
    return TrainingImage(image, targets, weights, distance, block, val_targets, val_instances, points)


def separate_pieces(objects: np.ndarray) -> np.ndarray:
    """Object ids with every connected piece its own object (a binary mask given as instances, a reused id)."""
    from skimage.measure import label

    return label(objects, background=0, connectivity=1).astype(np.int64, copy=False)


def patch_shape(unet: UNetConfig, wanted: int, spatial_shapes: Sequence[tuple[int, ...]]) -> tuple[int, ...]:
    """A valid input patch: ``wanted`` rounded down per axis, no larger than needed to cover the largest image."""
    largest = [max(shape[axis] for shape in spatial_shapes) for axis in range(unet.dims)]
    edges = [below if below is not None else above
             for below, above in (unet.nearest_valid_sizes(wanted, axis) for axis in range(unet.dims))]
    return tuple(min(edge, smallest_tile_for_step(unet, n, axis)) for axis, (edge, n) in enumerate(zip(edges, largest)))


class PatchSampler:
    """Draws augmented training patches: input of a valid size, targets cropped to the network output.

    Parameters
    ----------
    data : TrainingData
        The prepared images.
    unet : UNetConfig
        The architecture (its margins, per axis, decide the output crop).
    patch : tuple of int
        Input patch shape.
    augmentation : AugmentationConfig
        The augmentations.
    rng : numpy.random.Generator
        Source of randomness.
    annotated_share : float
        Share of patches centred on an annotated pixel (the rest anywhere): high for scribbles.

    """

    def __init__(self, data: TrainingData, unet: UNetConfig, patch: tuple[int, ...],
                 augmentation: AugmentationConfig, rng: np.random.Generator, annotated_share: float) -> None:
        self.data = data
        self.patch = patch
        self.margins = unet.margins
        self.output = unet.output_shape(patch)
        self.augmentation = augmentation
        self.rng = rng
        self.annotated_share = annotated_share
        sizes = np.array([item.sample_points.size for item in data.images], dtype=np.float64)
        self._image_p = sizes / sizes.sum()

    def _centre(self, item: TrainingImage) -> np.ndarray:
        if self.rng.random() < self.annotated_share:
            flat = item.sample_points[self.rng.integers(item.sample_points.size)]
            return np.array(np.unravel_index(flat, item.spatial_shape))
        return np.array([self.rng.integers(n) for n in item.spatial_shape])

    def sample(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One patch: image ``(C, *patch)``, targets ``(*output)`` and maps ``(K, *output)``.

        The maps are the loss weights, then the centre-distance target when the data has one.
        """
        item = self.data.images[self.rng.choice(len(self.data.images), p=self._image_p)]
        centre = self._centre(item)
        jitter = np.array([self.rng.integers(-(o // 4), o // 4 + 1) for o in self.output])
        out_start = centre - np.array(self.output) // 2 + jitter
        in_start = tuple(int(s) - m for s, m in zip(out_start, self.margins))
        image = read_tile(item.image, in_start, self.patch)
        targets = read_tile(item.targets[None], in_start, self.patch)[0]
        maps = read_tile(item.weights[None], in_start, self.patch)
        if item.distance is not None:  # tiles of each, stacked: never a copy of the whole image
            maps = np.concatenate([maps, read_tile(item.distance[None], in_start, self.patch)])
        out_slices = tuple(slice(m, m + o) for m, o in zip(self.margins, self.output))
        image, targets, maps = augment(image, targets, maps, self.rng, self.augmentation, out_slices=out_slices,
                                       spacing=self.data.spacing)
        return image, targets, maps

    def batch(self, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A batch of patches stacked on a new first axis."""
        patches = [self.sample() for _ in range(size)]
        return tuple(np.stack(parts) for parts in zip(*patches))  # type: ignore[return-value]
