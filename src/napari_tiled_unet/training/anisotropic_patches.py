"""Training patches from the voxel size: a roughly isotropic physical extent within the memory of the cube patch.

A confocal stack with a Z step three times the pixel size, cut into cubes of 92 voxels, gives patches three
times deeper than wide in micrometres: most of their planes lie far from the objects that the output sees,
and few objects fit across. With the voxel size known (``TrainingConfig.voxel_size``, ``anisotropy="auto"``),
:func:`physical_patch_shape` instead cuts patches whose edges are about equal in physical units (fewer planes,
more pixels per plane), as large as the activations of the classic net on the wanted cube allow
(:func:`training_feature_elements`, an estimate of what a training step keeps for the backward pass), every
edge a valid input size of its axis and no larger than needed to cover the largest image. The memory an axis
cannot use (a stack of few planes) goes to the others.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from napari_tiled_unet.anisotropy import is_anisotropic, relative_spacing, spatial_voxel_size
from napari_tiled_unet.config import UNetConfig
from napari_tiled_unet.tiling import smallest_tile_for_step
from napari_tiled_unet.training.config import TrainingConfig
from napari_tiled_unet.training.data import patch_shape


def training_feature_elements(unet: UNetConfig, shape: Sequence[int]) -> int:
    """Activation elements one input patch of ``shape`` keeps during a training step (per batch element).

    Counts what autograd saves, at the real sizes (valid convolutions shrink the maps): the input, the two
    convolution outputs of every level, the pooled maps and their max-pool indices, and the concatenations
    of the expanding path; batch norm keeps a second copy of every convolution output. This is what PyTorch
    saves for the backward pass, up to the weights (within 2% for the default 3D nets).
    """
    copies = 2 if unet.batch_norm else 1
    shrink = 0 if unet.padding == "same" else 1
    sizes = [int(s) for s in shape]
    total = unet.in_channels * math.prod(sizes)
    for level in range(unet.depth):
        channels = 2 ** (unet.wf + level)
        lost = [shrink * (k - 1) for k in unet.kernel_sizes[level]]
        first = [max(1, s - c) for s, c in zip(sizes, lost)]
        sizes = [max(1, s - 2 * c) for s, c in zip(sizes, lost)]
        total += copies * channels * (math.prod(first) + math.prod(sizes))
        if level < unet.depth - 1:
            sizes = [max(1, s // p) for s, p in zip(sizes, unet.pool_factors[level])]
            total += 2 * channels * math.prod(sizes)
    for level in reversed(range(unet.depth - 1)):
        channels = 2 ** (unet.wf + level)
        lost = [shrink * (k - 1) for k in unet.kernel_sizes[level]]
        sizes = [s * p for s, p in zip(sizes, unet.pool_factors[level])]
        total += 2 * channels * math.prod(sizes)
        first = [max(1, s - c) for s, c in zip(sizes, lost)]
        sizes = [max(1, s - 2 * c) for s, c in zip(sizes, lost)]
        total += copies * channels * (math.prod(first) + math.prod(sizes))
    return total


def reference_budget(unet: UNetConfig, wanted: int) -> int:
    """Activation elements of the classic net (same depth and width) on the cube of edge ``wanted``."""
    classic = dataclasses.replace(unet, pooling=None, kernels=None)
    below, above = classic.nearest_valid_sizes(wanted)
    edge = below if below is not None else above
    return training_feature_elements(classic, (edge,) * classic.dims)


def physical_patch_shape(unet: UNetConfig, wanted: int, spatial_shapes: Sequence[tuple[int, ...]],
                         voxel_size: Sequence[float]) -> tuple[int, ...]:
    """A valid input patch of about equal physical edges, within the memory of the classic net's ``wanted`` cube.

    Parameters
    ----------
    unet : UNetConfig
        The architecture (its valid sizes per axis).
    wanted : int
        The wanted cube edge (``TrainingConfig.patch_size``): it sets the memory budget.
    spatial_shapes : sequence of tuple of int
        The training images' spatial shapes: no edge is larger than needed to cover the largest image.
    voxel_size : sequence of float
        The voxel size, one entry per spatial axis of the model.

    Returns
    -------
    tuple of int
        The input patch shape.

    """
    spacing = relative_spacing(voxel_size)
    dims = unet.dims
    largest = [max(shape[axis] for shape in spatial_shapes) for axis in range(dims)]
    cover = [smallest_tile_for_step(unet, n, axis) for axis, n in enumerate(largest)]
    floor = [min(low, c) for low, c in zip(unet.min_input_sizes, cover)]
    budget = reference_budget(unet, wanted)

    def shape_for(extent: float) -> list[int]:
        edges = []
        for axis in range(dims):
            below, _ = unet.nearest_valid_sizes(max(1, int(extent / spacing[axis])), axis)
            edges.append(min(max(below or floor[axis], floor[axis]), cover[axis]))
        return edges

    def fits(edges: Sequence[int]) -> bool:
        return training_feature_elements(unet, edges) <= budget

    low, high = 1.0, float(max(c * s for c, s in zip(cover, spacing)))
    for _ in range(40):  # the largest physical edge whose patch fits (the memory grows with it)
        middle = 0.5 * (low + high)
        low, high = (middle, high) if fits(shape_for(middle)) else (low, middle)
    edges = shape_for(low)
    growing = True
    while growing:  # hand what rounding left over to the physically shortest edges first
        growing = False
        for axis in sorted(range(dims), key=lambda a: edges[a] * spacing[a]):
            bigger = [*edges]
            bigger[axis] += unet.alignments[axis]
            if bigger[axis] <= cover[axis] and fits(bigger):
                edges, growing = bigger, True
                break
    return tuple(edges)


def training_patch_shape(unet: UNetConfig, config: TrainingConfig,
                         spatial_shapes: Sequence[tuple[int, ...]]) -> tuple[int, ...]:
    """The input patch training cuts: from the voxel size when it is anisotropic and ``anisotropy="auto"``.

    Otherwise (no voxel size, isotropic voxels, ``anisotropy="isotropic"``) the wanted cube, as before
    (:func:`~napari_tiled_unet.training.data.patch_shape`).
    """
    voxel_size = spatial_voxel_size(config.voxel_size, unet.dims)
    if config.anisotropy != "auto" or not is_anisotropic(voxel_size):
        return patch_shape(unet, config.patch_size, spatial_shapes)
    return physical_patch_shape(unet, config.patch_size, spatial_shapes, voxel_size)
