"""Instances from a model's logits: seeded watershed for instance models, clumps split by shape otherwise."""

from __future__ import annotations

import numpy as np

from napari_tiled_unet.class_outputs import label_dtype, labels_of, probabilities_of, sigmoid
from napari_tiled_unet.model import UNet
from napari_tiled_unet.model_meta import class_to_label, n_class_channels, regression_channels
from napari_tiled_unet.postprocess import (
    InstanceSettings,
    instances_from_distance,
    instances_from_probabilities,
    semantic_instances,
)

DISTANCE_CHANNEL = "centre distance"
LINKED_PLANES_KEY = "postprocess_linked_planes"
"""Model metadata key of the settings tuned for seeds that are never cut, used on Z planes linked into 3D objects.

A seed cut in one plane and not in the next leaves a fragment that the linking gives an id of its own. Measured
with 2D models fine-tuned from builtin:nuclei on synthetic Z stacks (``benchmarks/bench_3d.py --variants
2d-builtin``, 3D F1@0.5, four runs): Z step 2x 0.862 / 0.842 / 0.849 / 0.861 with cuts, 0.884 / 0.879 / 0.872 /
0.874 with these settings; 3x 0.861 / 0.884 / 0.851 / 0.803 against 0.962 / 0.870 / 0.977 / 0.977; a new network
(``--variants 2d``, one run) 0.883 -> 0.942 (2x), 0.970 -> 0.940 (3x); at 4x (``--only half-z``) 0.857 -> 0.852
and 0.837 -> 0.833. The thresholds must be tuned for it: the
settings tuned with cuts and the split depth set to 0 gave 0.57 and 0.67.
"""


def instance_settings_of(net: UNet, linked_planes: bool = False) -> InstanceSettings:
    """The post-processing stored in the model (tuned after training), else the 2D/3D defaults.

    ``linked_planes``: the settings for the planes of a Z stack linked into 3D objects where the model stores
    them (:data:`LINKED_PLANES_KEY`), else the same as for a single image.
    """
    stored = (linked_planes and net.metadata.get(LINKED_PLANES_KEY)) or net.metadata.get("postprocess")
    return InstanceSettings.from_dict(stored) if stored else InstanceSettings.defaults(net.config.dims)


def links_z_planes(net: UNet, loop_axes: str, output: str, stitch_threshold: float) -> bool:
    """True where a 2D model's instances of Z planes are linked into 3D objects (Z among ``loop_axes``)."""
    return output == "instances" and net.config.dims == 2 and "Z" in loop_axes.upper() and stitch_threshold > 0


def is_instance_model(net: UNet) -> bool:
    """True for a model trained on the instance task (background, interior, boundary [, centre distance])."""
    return net.metadata.get("task") == "instances" and n_class_channels(net) == 3


def instances_of(net: UNet, logits: np.ndarray, settings: InstanceSettings | None = None) -> np.ndarray:
    """One id per object of a plane's (or volume's) logits ``(outputs, *spatial)``.

    An instance model is post-processed by seeded watershed (on its centre distance when it has one) with
    ``settings`` or, when None, the settings stored in the model; a semantic model gives the objects of every
    non-background class, touching ones split where the region narrows
    (:func:`~napari_tiled_unet.postprocess.semantic_instances`; a 3D model's shapes measured with the voxel
    size it was trained with).
    """
    if is_instance_model(net):
        settings = settings or instance_settings_of(net)
        probs = probabilities_of(net, logits)
        if DISTANCE_CHANNEL in regression_channels(net):
            index = 3 + regression_channels(net).index(DISTANCE_CHANNEL)
            distance = sigmoid(logits[index])
            instances = instances_from_distance(probs, distance, settings)
        else:
            instances = instances_from_probabilities(probs, seed_threshold=settings.seed_threshold,
                                                     foreground_threshold=settings.foreground_threshold,
                                                     min_size=settings.min_size)
    else:
        background = int(class_to_label(net)[0])
        instances = semantic_instances(labels_of(net, logits), background=background, spacing=_voxel_size(net))
    return instances.astype(label_dtype(int(instances.max(initial=0))), copy=False)


def _voxel_size(net: UNet) -> tuple[float, ...] | None:
    """The voxel size a 3D model was trained with (its stacks' Z step), None in 2D or when not known."""
    stored = net.metadata.get("voxel_size")
    if net.config.dims != 3 or not stored or len(stored) != 3:
        return None
    return tuple(float(step) for step in stored)
