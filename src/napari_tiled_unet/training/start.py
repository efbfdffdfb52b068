"""Where a training run starts: the shipped model that fits the data, or a new network.

Instance training of a one-channel 2D image with the default architecture starts best from ``builtin:nuclei``
(measured on a stand-in for real nuclei, 12 nuclei painted, 120 s: F1 0.68 fine-tuned against 0.12 from a new
network; BBBC007 nuclei, 4 images: recall of the painted nuclei 0.90 zero-shot against 0.13 trained from
scratch). The command line and the Train widget propose it; ``--init none`` (widget: *start from: a new model*)
trains from scratch.
"""

from __future__ import annotations

import dataclasses

from napari_tiled_unet.builtin_models import BUILTIN_PREFIX, builtin_model_names
from napari_tiled_unet.training.config import TrainingConfig

NUCLEI = "nuclei"


def proposed_start(config: TrainingConfig, in_channels: int) -> str | None:
    """``"builtin:nuclei"`` when the shipped nuclei model fits this training, else None (a new network).

    It fits instance training (centre-distance head) of one-channel 2D images whose architecture is the default
    one, as the shipped model has.
    """
    default = TrainingConfig.defaults(2).unet
    same_architecture = dataclasses.replace(config.unet, in_channels=default.in_channels,
                                            n_classes=default.n_classes) == default
    fits = (config.task == "instances" and config.instance_head == "distance" and config.unet.dims == 2
            and in_channels == 1 and same_architecture)
    return f"{BUILTIN_PREFIX}{NUCLEI}" if fits and NUCLEI in builtin_model_names() else None
