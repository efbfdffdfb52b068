"""The training configuration shared by the command line, the napari widget and the model file."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from napari_tiled_unet.anisotropy import MODES as ANISOTROPY_MODES
from napari_tiled_unet.checks import check_float as _check_float
from napari_tiled_unet.checks import check_int as _check_int
from napari_tiled_unet.config import UNetConfig
from napari_tiled_unet.devices import DEVICE_CHOICES
from napari_tiled_unet.training.augment import AugmentationConfig
from napari_tiled_unet.training.selection import SELECTIONS
from napari_tiled_unet.training.sparse_instances import BACKGROUND_MODES

Task = Literal["semantic", "instances"]
TASKS = ("semantic", "instances")
LOSSES = ("ce", "ce+dice")
SCHEDULES = ("cosine", "constant")
INSTANCE_HEADS = ("distance", "classes")
SPARSE_OBJECTS = ("auto", "painted", "strokes")
DEFAULT_SCRIBBLE_EDGE_WEIGHT = 3.0


def _default_unet() -> UNetConfig:
    return UNetConfig(depth=4, wf=4, padding="valid", batch_norm=True, up_mode="upconv", dims=2)


#: What a 3D model changes in the defaults (the rest is shared with 2D): a shallower net on smaller patches,
#: so that a step fits the memory of a laptop and takes about as long as a 2D step.
DEFAULTS_3D: dict[str, Any] = {"depth": 3, "patch_size": 92, "batch_size": 2}


@dataclass(frozen=True)
class TrainingConfig:
    """How to train a U-Net. Defaults give a useful 2D model in about two minutes on a laptop CPU.

    Parameters
    ----------
    task : {"semantic", "instances"}
        "semantic": labels are classes. "instances": labels are object ids (touching objects have different
        ids); the net learns background / interior / boundary and prediction separates touching objects.
    sparse : bool
        Sparse annotation: 0 = not annotated (ignored by the loss), 1 = background. Semantic task: scribbles,
        2.. = classes. Instances task: 2.. = objects, each painted completely with its own id, or strokes through
        objects (``sparse_objects``).
    sparse_objects : {"auto", "painted", "strokes"}
        Sparse instances only: "painted" reads 2.. as objects painted completely, one id each; "strokes" as strokes
        drawn inside objects (scribbles through nuclei: 1 = background strokes, 2 = object strokes), whose
        objects are those of the model training starts from (``init_model``; see
        :mod:`~napari_tiled_unet.training.stroke_objects`); "auto": strokes when the labels look like scribbles
        (:func:`~napari_tiled_unet.training.label_report.inspect_labels`), painted objects otherwise.
    sparse_background : {"auto", "painted", "inferred"}
        Sparse instances only: "painted" reads 1 as painted background; "inferred" reads every non-zero value
        as an object and infers the background (no background was painted; see
        :mod:`~napari_tiled_unet.training.sparse_instances`); "auto" decides from the labels.
    unet : UNetConfig
        The architecture; ``in_channels`` and ``n_classes`` are set from the data.
    patch_size : int
        Wanted input patch edge (rounded to a valid size; the target is the output crop). With anisotropic
        voxels and ``anisotropy="auto"``, the edge of the cube whose memory the patch may use.
    batch_size : int
        Patches per step.
    learning_rate : float
        Peak learning rate of AdamW for a new network.
    fine_tune_learning_rate : float
        Peak learning rate when training starts from a model (``init_model``: a shipped model, Continue
        training). Lower than ``learning_rate`` so that a few annotations refine the model instead of pulling it
        away: stand-in for real nuclei, 12 painted nuclei, 120 s from builtin:nuclei, held-out F1 0.64 at 3e-3,
        0.86-0.90 at every epoch of a run at 1e-3.
    schedule : {"cosine", "constant"}
        "cosine": short warm-up, then cosine decay to 5% over the time limit or the epochs.
    weight_decay : float
        AdamW weight decay.
    epochs : int or None
        Number of epochs (``steps_per_epoch`` steps each, then validation). None: until the time limit.
    time_limit : float or None
        Seconds of training (validation included). None: until ``epochs``. At least one must be set.
    steps_per_epoch : int
        Steps between two validations.
    weight_average : bool
        Validate and return an exponential moving average of the weights (steadier than the last step's).
    selection : {"smoothed", "best", "final"}
        Which epoch's model is returned: the best by the validation score averaged over the last 3 epochs, the
        best by the epoch's own score, or the last one (see :mod:`~napari_tiled_unet.training.selection`).
    val_fraction : float
        Share of every image (of its annotated pixels, for scribbles) held back for validation; 0 disables it.
    augmentation : AugmentationConfig
        Flips/rotations, elastic deformation, intensity changes.
    loss : {"ce", "ce+dice"}
        Pixel-weighted cross-entropy, optionally plus soft Dice on the non-background classes.
    edge_weight : float or None
        Weight of a loss term that moves predicted boundaries onto intensity edges where the annotation leaves
        them open (see :func:`~napari_tiled_unet.training.losses.edge_smoothness_loss`). None: 3 for scribbles
        (sparse semantic labels), 0 otherwise. With scribbles through object centres and background strokes away
        from objects, objects come out about 2 px too large without it (README, "Measured";
        ``benchmarks/bench_real.py``, habit c).
    instance_head : {"distance", "classes"}
        Instances: "distance" predicts background / interior / boundary and the centre distance of every
        object (seeds from the distance split touching objects best); "classes" only the three classes.
    boundary_width : int
        Instances: thickness in pixels of the boundary class drawn inside every object where it meets the
        background or another object; 2 keeps the interiors of touching objects well apart.
    border_weight : float
        ``w0`` of the paper's weight map that stresses the gaps between touching objects (instances); 0: off.
    border_sigma : float
        ``sigma`` of that weight map, in pixels.
    seed : int
        Random seed: the same seed gives the same weights on the CPU (with ``epochs`` and no time limit).
    device : str
        "auto" (CUDA, then Apple MPS, then CPU), "cpu", "cuda", "cuda:N" or "mps".
    mixed_precision : bool
        Use automatic mixed precision on CUDA (never on CPU, where bf16 is slower without hardware support).
    channel_names : tuple of str
        Names of the input channels in order (e.g. the napari layers picked as channels, or "channel 0" for
        axis 0 of one layer); stored in the model so that the widgets propose the same channels again.
    voxel_size : tuple of float or None
        Pixel (2D: Y, X) or voxel (3D: Z, Y, X) size of the training images in micrometres, when known;
        stored in the model. The training targets' distances and the elastic deformation are measured in
        physical units with it, and flips/rotations never swap axes of different sizes.
    anisotropy : {"auto", "isotropic"}
        "auto": for an anisotropic ``voxel_size``, plan per-axis pooling and kernels the way nnU-Net does
        (:func:`~napari_tiled_unet.anisotropy.planned_config`, unless ``unet`` sets ``pooling`` or ``kernels``)
        and cut patches of about equal physical edges within the memory of the ``patch_size`` cube
        (:mod:`~napari_tiled_unet.training.anisotropic_patches`). "isotropic": the classic net on cubes.
    class_names : tuple of (int, str)
        Names of label values, e.g. ``((2, "nucleus"),)``; stored in the model and shown wherever its classes
        are described. Unnamed values are called "background" (the background value), "objects" (the only
        other class) or "class N".

    """

    task: Task = "semantic"
    sparse: bool = False
    sparse_objects: str = "auto"
    sparse_background: str = "auto"
    unet: UNetConfig = field(default_factory=_default_unet)
    patch_size: int = 220
    batch_size: int = 4
    learning_rate: float = 3e-3
    fine_tune_learning_rate: float = 1e-3
    schedule: str = "cosine"
    weight_decay: float = 1e-4
    epochs: int | None = None
    time_limit: float | None = 120.0
    steps_per_epoch: int = 20
    val_fraction: float = 0.15
    weight_average: bool = True
    selection: str = "smoothed"
    augmentation: AugmentationConfig = field(default_factory=AugmentationConfig)
    loss: str = "ce+dice"
    edge_weight: float | None = None
    instance_head: str = "distance"
    boundary_width: int = 2
    border_weight: float = 10.0
    border_sigma: float = 5.0
    seed: int = 0
    device: str = "auto"
    mixed_precision: bool = True
    channel_names: tuple[str, ...] = ()
    voxel_size: tuple[float, ...] | None = None
    anisotropy: str = "auto"
    class_names: tuple[tuple[int, str], ...] = ()

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task={self.task!r} is unknown: use 'semantic' or 'instances'")
        if self.sparse_objects not in SPARSE_OBJECTS:
            raise ValueError(f"sparse_objects={self.sparse_objects!r} is unknown: use one of "
                             f"{', '.join(SPARSE_OBJECTS)}")
        if self.sparse_background not in BACKGROUND_MODES:
            raise ValueError(f"sparse_background={self.sparse_background!r} is unknown: use one of "
                             f"{', '.join(BACKGROUND_MODES)}")
        if self.instance_head not in INSTANCE_HEADS:
            raise ValueError(f"instance_head={self.instance_head!r} is unknown: use one of {', '.join(INSTANCE_HEADS)}")
        if not isinstance(self.unet, UNetConfig):
            raise ValueError(f"unet must be a UNetConfig, got {type(self.unet).__name__}")
        _check_int("patch_size", self.patch_size, 4, 4096)
        _check_int("batch_size", self.batch_size, 1, 1024)
        _check_int("steps_per_epoch", self.steps_per_epoch, 1, 10**6)
        _check_int("seed", self.seed, 0, 2**32 - 1)
        _check_int("boundary_width", self.boundary_width, 1, 16)
        if self.epochs is not None:
            _check_int("epochs", self.epochs, 1, 10**6)
        if self.time_limit is not None:
            _check_float("time_limit", self.time_limit, 1e-3, 30 * 24 * 3600.0)
        if self.epochs is None and self.time_limit is None:
            raise ValueError("set epochs or time_limit (or both): training needs a way to stop")
        _check_float("learning_rate", self.learning_rate, 1e-8, 1.0)
        _check_float("fine_tune_learning_rate", self.fine_tune_learning_rate, 1e-8, 1.0)
        _check_float("weight_decay", self.weight_decay, 0.0, 1.0)
        _check_float("val_fraction", self.val_fraction, 0.0, 0.5)
        _check_float("border_weight", self.border_weight, 0.0, 100.0)
        if self.edge_weight is not None:
            _check_float("edge_weight", self.edge_weight, 0.0, 100.0)
        _check_float("border_sigma", self.border_sigma, 0.1, 100.0)
        if self.selection not in SELECTIONS:
            raise ValueError(f"selection={self.selection!r} is unknown: use one of {', '.join(SELECTIONS)}")
        if not isinstance(self.weight_average, bool):
            raise ValueError(f"weight_average={self.weight_average!r} is invalid: use True or False")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule={self.schedule!r} is unknown: use one of {', '.join(SCHEDULES)}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss={self.loss!r} is unknown: use one of {', '.join(LOSSES)}")
        object.__setattr__(self, "class_names", _checked_class_names(self.class_names))
        object.__setattr__(self, "channel_names", _checked_names(self.channel_names))
        object.__setattr__(self, "voxel_size", _checked_voxel_size(self.voxel_size))
        if self.anisotropy not in ANISOTROPY_MODES:
            raise ValueError(f"anisotropy={self.anisotropy!r} is unknown: use one of {', '.join(ANISOTROPY_MODES)}")
        if self.device.split(":")[0] not in DEVICE_CHOICES:
            raise ValueError(f"device={self.device!r} is unknown: use one of {', '.join(DEVICE_CHOICES)}")

    @classmethod
    def defaults(cls, dims: int = 2, **changes: Any) -> TrainingConfig:
        """The default configuration for a 2D or 3D model, with ``changes`` applied.

        The one source of defaults for the command line, the napari widget and the Python API: a 3D model
        gets :data:`DEFAULTS_3D`, everything else is the dataclass default.
        """
        if dims not in (2, 3):
            raise ValueError(f"dims={dims!r} is invalid: use 2 or 3")
        base = cls()
        if dims == 3:
            unet = dataclasses.replace(base.unet, dims=3, depth=DEFAULTS_3D["depth"])
            base = dataclasses.replace(base, unet=unet, patch_size=DEFAULTS_3D["patch_size"],
                                       batch_size=DEFAULTS_3D["batch_size"])
        return base.replace(**changes) if changes else base

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dictionary (nested configs as dictionaries)."""
        data = dataclasses.asdict(self)
        data["unet"] = self.unet.to_dict()
        data["augmentation"] = self.augmentation.to_dict()
        data["class_names"] = [[value, name] for value, name in self.class_names]
        data["channel_names"] = list(self.channel_names)
        data["voxel_size"] = None if self.voxel_size is None else list(self.voxel_size)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainingConfig:
        """Build from a dictionary, rejecting unknown keys."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown training configuration keys {unknown}: allowed are {sorted(known)}")
        values = dict(data)
        if isinstance(values.get("unet"), Mapping):
            values["unet"] = UNetConfig.from_dict(values["unet"])
        if isinstance(values.get("augmentation"), Mapping):
            values["augmentation"] = AugmentationConfig.from_dict(values["augmentation"])
        return cls(**values)

    @property
    def edge_term_weight(self) -> float:
        """The weight of the edge term actually used (see ``edge_weight``)."""
        if self.edge_weight is not None:
            return float(self.edge_weight)
        return DEFAULT_SCRIBBLE_EDGE_WEIGHT if self.sparse and self.task == "semantic" else 0.0

    def name_of(self, value: int) -> str | None:
        """The name given to a label value in :attr:`class_names`, or None."""
        return dict(self.class_names).get(int(value))

    def replace(self, **changes: Any) -> TrainingConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)




def _checked_class_names(names: Any) -> tuple[tuple[int, str], ...]:
    """``class_names`` as a tuple of ``(label value, name)`` pairs (a mapping or a JSON list of pairs is accepted)."""
    items = names.items() if isinstance(names, Mapping) else names
    result = []
    try:
        for value, name in items:
            _check_int("class_names label value", int(value) if str(value).isdigit() else value, 0, 2**31 - 1)
            if not isinstance(name, str) or not name.strip() or len(name) > 64:
                raise ValueError(f"class name {name!r} for label {value} is invalid: use 1 to 64 characters")
            result.append((int(value), name.strip()))
    except (TypeError, ValueError) as err:
        if isinstance(err, ValueError) and "invalid" in str(err):
            raise
        raise ValueError(f"class_names={names!r} is invalid: use pairs like ((2, 'nucleus'),)") from None
    if len({v for v, _ in result}) != len(result):
        raise ValueError(f"class_names={names!r} names a label value twice: name each value once")
    return tuple(sorted(result))


def _checked_names(names: Any) -> tuple[str, ...]:
    if isinstance(names, str) or not all(isinstance(n, str) and n.strip() for n in names):
        raise ValueError(f"channel_names={names!r} is invalid: give one non-empty name per channel")
    return tuple(n.strip() for n in names)


def _checked_voxel_size(size: Any) -> tuple[float, ...] | None:
    if size is None:
        return None
    try:
        values = tuple(float(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(f"voxel_size={size!r} is invalid: give 2 (Y, X) or 3 (Z, Y, X) sizes in micrometres") from None
    if len(values) not in (2, 3) or not all(0 < v < 1e6 for v in values):
        raise ValueError(f"voxel_size={size!r} is invalid: give 2 (Y, X) or 3 (Z, Y, X) positive sizes in micrometres")
    return values
