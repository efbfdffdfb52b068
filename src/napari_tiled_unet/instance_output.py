"""Instances from a model's logits: seeded watershed for instance models, connected components otherwise."""

from __future__ import annotations

import numpy as np

from napari_tiled_unet.class_outputs import label_dtype, labels_of, softmax
from napari_tiled_unet.model import UNet
from napari_tiled_unet.model_meta import class_to_label
from napari_tiled_unet.postprocess import instances_from_probabilities, semantic_instances


def instances_of(net: UNet, logits: np.ndarray) -> np.ndarray:
    """One id per object of a plane's (or volume's) logits ``(n_classes, *spatial)``.

    An instance model (background, interior, boundary) is post-processed by seeded watershed so that touching
    objects stay apart; a semantic model gives the connected components of every non-background class.
    """
    if net.metadata.get("task") == "instances" and net.config.n_classes == 3:
        instances = instances_from_probabilities(softmax(logits))
    else:
        background = int(class_to_label(net)[0])
        instances = semantic_instances(labels_of(net, logits), background=background)
    return instances.astype(label_dtype(int(instances.max(initial=0))), copy=False)
