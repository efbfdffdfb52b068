"""Instances from a model's logits: seeded watershed for instance models, connected components otherwise."""

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


def instance_settings_of(net: UNet) -> InstanceSettings:
    """The post-processing stored in the model (tuned after training), else the 2D/3D defaults."""
    stored = net.metadata.get("postprocess")
    return InstanceSettings.from_dict(stored) if stored else InstanceSettings.defaults(net.config.dims)


def is_instance_model(net: UNet) -> bool:
    """True for a model trained on the instance task (background, interior, boundary [, centre distance])."""
    return net.metadata.get("task") == "instances" and n_class_channels(net) == 3


def instances_of(net: UNet, logits: np.ndarray, settings: InstanceSettings | None = None) -> np.ndarray:
    """One id per object of a plane's (or volume's) logits ``(outputs, *spatial)``.

    An instance model is post-processed by seeded watershed (on its centre distance when it has one) with
    ``settings`` or, when None, the settings stored in the model; a semantic model gives the connected
    components of every non-background class.
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
        instances = semantic_instances(labels_of(net, logits), background=background)
    return instances.astype(label_dtype(int(instances.max(initial=0))), copy=False)
