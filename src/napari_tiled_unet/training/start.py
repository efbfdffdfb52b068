"""Where a training run starts: the shipped model that fits the data, or a new network.

Instance training of a one-channel 2D image with the default architecture starts best from ``builtin:nuclei``
(measured on a stand-in for real nuclei, 12 nuclei painted, 120 s: held-out F1 0.91-0.92 fine-tuned against
0.12-0.50 from a new network; 7 painted, no background: 0.66-0.87 against 0.26-0.29; BBBC007 nuclei, 4 images:
recall of the painted nuclei of the other 2 0.87 against 0.13; with the seed split of
:func:`~napari_tiled_unet.postprocess.split_seeds` fine-tuned 0.92, 0.69-0.87 and 1.00), and 3D instance
training of a one-channel stack from ``builtin:nuclei3d`` (synthetic stack with a 2x Z step, 120 s: 3D F1
0.93 against 0.30-0.39). The command line and the Train widget propose them; ``--init none`` (widget: *start
from: a new model*) trains from scratch.
"""

from __future__ import annotations

import dataclasses

from napari_tiled_unet.builtin_models import BUILTIN_PREFIX, builtin_model_names
from napari_tiled_unet.training.config import TrainingConfig

NUCLEI = "nuclei"
NUCLEI_3D = "nuclei3d"


def proposed_start(config: TrainingConfig, in_channels: int) -> str | None:
    """The shipped nuclei model that fits this training (``"builtin:nuclei"``, ``"builtin:nuclei3d"``), or None.

    ``builtin:nuclei`` fits instance training (centre-distance head) of one-channel 2D images with the default
    2D architecture; ``builtin:nuclei3d`` the same in 3D with the default 3D architecture (its own width and
    the pooling it was planned with replace them: a model to start from keeps its architecture).
    """
    dims = config.unet.dims
    default = TrainingConfig.defaults(dims).unet
    same_architecture = dataclasses.replace(config.unet, in_channels=default.in_channels,
                                            n_classes=default.n_classes) == default
    fits = (config.task == "instances" and config.instance_head == "distance" and in_channels == 1
            and same_architecture)
    name = NUCLEI if dims == 2 else NUCLEI_3D
    return f"{BUILTIN_PREFIX}{name}" if fits and name in builtin_model_names() else None
