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
from collections.abc import Sequence

import numpy as np

from napari_tiled_unet.builtin_models import BUILTIN_PREFIX, builtin_model_names, resolve_model
from napari_tiled_unet.model import UNet
from napari_tiled_unet.model_file import load_model
from napari_tiled_unet.normalization import PercentileNormalization
from napari_tiled_unet.training.config import TrainingConfig
from napari_tiled_unet.training.data import pairs_for_model
from napari_tiled_unet.training.label_report import Finding, LabelReport
from napari_tiled_unet.training.start_model_objects import start_objects_of
from napari_tiled_unet.training.stroke_objects import StrokeFit, stroke_fit

SUGGEST_OBJECT_SHARE = 0.9
"""Scribbles are suggested as an instance model when at least this share of the object strokes lies in the shipped
model's objects (the synthetic and real images here: 0.97-1.00; the maize section's tissue scribbles: 0.73-0.75) ..."""
SUGGEST_BACKGROUND_SHARE = 0.2
"""... and at most this share of the background strokes (the stand-in, U2OS and the sample: 0-0.01; ImageJ blobs,
whose textured background the model takes for dim nuclei: 0.34-0.43, where classes learnt from the scribbles score
better, held-out F1 0.97 against 0.90)."""

FIT_MARGIN = 48
"""Pixels around the strokes that the fit predicts (a nucleus of radius 40 px around a stroke at its edge)."""

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


def scribble_fit(net: UNet, images: Sequence[np.ndarray], labels: Sequence[np.ndarray],
                 tta: bool | None = None) -> StrokeFit:
    """How well an instance model's objects agree with scribbles (see :func:`~.stroke_objects.stroke_fit`).

    The images are normalised with the model's rule (whole-image statistics) and predicted as for a user
    (``tta`` as in :func:`~napari_tiled_unet.inference.predict_image`), each only around its strokes (their
    bounding box and :data:`FIT_MARGIN` px more); a 2D model takes stacks plane by plane.
    """
    stored = net.metadata.get("normalization")
    normalization = PercentileNormalization.from_dict(stored) if stored else PercentileNormalization()
    pairs = pairs_for_model(images, labels, net.config.dims, normalization)
    objects = start_objects_of(net, tta=tta)
    if objects is None:
        raise ValueError("the model is not an instance model: it cannot tell which objects scribbles mark")
    boxes = [_around(lab > 0, FIT_MARGIN) for _, lab in pairs]
    return stroke_fit([objects(image[(slice(None), *box)]) for (image, _), box in zip(pairs, boxes, strict=True)],
                      [lab[box] for (_, lab), box in zip(pairs, boxes, strict=True)])


def _around(mask: np.ndarray, margin: int) -> tuple[slice, ...]:
    """The bounding box of ``mask`` grown by ``margin`` on every side (within the array)."""
    if not mask.any():
        return tuple(slice(None) for _ in mask.shape)
    found = np.argwhere(mask)
    low, high = found.min(axis=0), found.max(axis=0) + 1
    return tuple(slice(max(int(lo) - margin, 0), min(int(hi) + margin, n))
                 for lo, hi, n in zip(low, high, mask.shape, strict=True))


def scribble_suggestion(report: LabelReport, labels: Sequence[np.ndarray], images: Sequence[np.ndarray] | None,
                        config: TrainingConfig | None = None) -> LabelReport:
    """``report``, suggesting an instance model for scribbles that a shipped instance model clearly fits.

    Scribbles of one object class (values 1 and 2) of one-channel images, where the shipped model that
    :func:`proposed_start` names for instance training finds objects under at least :data:`SUGGEST_OBJECT_SHARE`
    of the object strokes and at most :data:`SUGGEST_BACKGROUND_SHARE` of the background strokes, are better
    learnt as an instance model started from it (:mod:`~napari_tiled_unet.training.stroke_objects`): touching
    nuclei come out separated (dense stand-in for real nuclei, 120 s: held-out F1 0.89-0.91 against 0.44-0.57 for
    classes, foreground IoU 0.96 against 0.87-0.90), at some cost on well separated nuclei (U2OS 0.93 against
    0.97, foreground IoU 0.93 against 0.97). The suggestion says so in an "info" finding; other reports are
    returned unchanged. The shipped model predicts the images once (without test-time augmentation: a few seconds
    per megapixel).
    ``config`` is the training's (its architecture and dimensions decide the shipped model; default 2D).
    """
    if report.kind != "scribbles" or report.values != (1, 2) or images is None or not len(images):
        return report
    in_channels = 1 if np.shape(images[0]) == np.shape(labels[0]) else int(np.shape(images[0])[0])
    candidate = (config or TrainingConfig()).replace(task="instances", sparse=True, instance_head="distance")
    spec = proposed_start(candidate, in_channels)
    if spec is None:
        return report
    fit = scribble_fit(load_model(resolve_model(spec)), images, labels, tta=False)
    if fit.object_share < SUGGEST_OBJECT_SHARE or fit.background_share > SUGGEST_BACKGROUND_SHARE:
        finding = Finding("scribbles_not_objects", "info", f"{fit.in_words(spec)}: the scribbles do not mark its "
                          "objects, so classes are learnt from them")
        return dataclasses.replace(report, findings=(*report.findings, finding))
    finding = Finding("scribbles_as_instances", "info", f"{fit.in_words(spec)}: an instance model trained from it "
                      "keeps touching objects apart; task='semantic' (--task semantic) learns classes from the "
                      "scribbles instead")
    return dataclasses.replace(report, suggested_task="instances", suggested_sparse=True,
                               findings=(*report.findings, finding))
