"""What a model's metadata says about its outputs: the label value and the name of every class.

The one place where the defaults for models without that metadata are written (an untrained net, a model
file from before these keys existed): class ``k`` writes label value ``k`` and is called ``class k``.
"""

from __future__ import annotations

import numpy as np

from napari_tiled_unet.model import UNet


def regression_channels(net: UNet) -> list[str]:
    """Names of the output channels after the class logits (an instance model's centre distance); often none."""
    return [str(n) for n in net.metadata.get("regression") or []]


def n_class_channels(net: UNet) -> int:
    """Number of output channels that are class logits (the others are regression maps)."""
    return net.config.n_classes - len(regression_channels(net))


def label_values(net: UNet) -> list[int]:
    """The label value written for every output class (``label_values[k]`` for class ``k``)."""
    values = net.metadata.get("label_values")
    return [int(v) for v in values] if values else list(range(n_class_channels(net)))


def class_names(net: UNet) -> list[str]:
    """A name per output class, from the metadata, else ``class k``."""
    names = net.metadata.get("class_names")
    return [str(n) for n in names] if names else [f"class {k}" for k in range(n_class_channels(net))]


def class_to_label(net: UNet) -> np.ndarray:
    """Lookup table from class index to label value; a single-class (sigmoid) model writes 0 below 0.5, 1 above."""
    values = label_values(net)
    if n_class_channels(net) == 1:
        values = [0, *values] if values[0] != 0 else [0, 1]
    return np.asarray(values, dtype=np.uint32)


def classes_in_words(net: UNet) -> str:
    """The model's classes as the user painted them: ``"background (1), nucleus (2)"``; instances: ``"objects"``.

    Instance models predict background, object interior and boundary internally, but what the user painted
    and gets back is one id per object, so they are described as such.
    """
    if net.metadata.get("task") == "instances":
        return "objects (one id per object)"
    return ", ".join(f"{name} ({value})" for name, value in zip(class_names(net), label_values(net)))
