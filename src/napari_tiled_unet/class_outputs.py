"""From logits to what the user asked for: class labels (the values painted in training) or probabilities."""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from napari_tiled_unet.model import UNet
from napari_tiled_unet.model_meta import class_to_label, n_class_channels


def label_dtype(max_value: int) -> np.dtype:
    """The smallest unsigned integer type holding ``max_value``."""
    return np.dtype(np.uint8 if max_value < 256 else np.uint16 if max_value < 65536 else np.uint32)


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """The logistic function, without overflow warnings for large negative logits (keeps float32)."""
    return expit(logits)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the class axis (axis 0) of float32 logits; sigmoid for a single class."""
    if logits.shape[0] == 1:
        return sigmoid(logits)
    shifted = logits - logits.max(axis=0, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=0, keepdims=True)
    return shifted


def labels_block(logits: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """The label value of the most likely class at every pixel (``lut[class]``)."""
    classes = np.argmax(logits, axis=0) if logits.shape[0] > 1 else (logits[0] > 0).astype(np.intp)
    return lut[classes].astype(label_dtype(int(lut.max())))


def class_logits(net: UNet, logits: np.ndarray) -> np.ndarray:
    """The class channels of a model's output (an instance model adds a regression channel after them)."""
    return logits[: n_class_channels(net)]


def labels_of(net: UNet, logits: np.ndarray) -> np.ndarray:
    """Class labels of a model's logits, written with the label values of its training labels."""
    return labels_block(class_logits(net, logits), class_to_label(net))


def probabilities_of(net: UNet, logits: np.ndarray) -> np.ndarray:
    """Class probabilities ``(classes, *spatial)`` of a model's logits."""
    return softmax(np.array(class_logits(net, logits), dtype=np.float32, copy=True))


def labels_dtype_of(net: UNet) -> np.dtype:
    """The dtype :func:`labels_of` returns for ``net``."""
    return label_dtype(int(class_to_label(net).max()))


def activated_outputs(net: UNet, logits: np.ndarray) -> np.ndarray:
    """Every output channel as a model package returns it: class probabilities, then sigmoids of regression maps."""
    probs = probabilities_of(net, logits)
    extra = np.asarray(logits[probs.shape[0]:], dtype=np.float32)
    if extra.shape[0] == 0:
        return probs
    return np.concatenate([probs, sigmoid(extra)]).astype(np.float32, copy=False)
