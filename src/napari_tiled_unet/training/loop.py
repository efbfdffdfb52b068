"""The training loop: patches, AdamW, validation every epoch, the best model kept, cancel and time limit."""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from napari_tiled_unet.anisotropy import planned_config
from napari_tiled_unet.builtin_models import resolve_model
from napari_tiled_unet.cancel import CancelLike, is_cancelled
from napari_tiled_unet.devices import resolve_device
from napari_tiled_unet.instance_output import LINKED_PLANES_KEY
from napari_tiled_unet.model import UNet
from napari_tiled_unet.model_file import load_model, save_model
from napari_tiled_unet.normalization import PercentileNormalization
from napari_tiled_unet.postprocess import InstanceSettings
from napari_tiled_unet.training.anisotropic_patches import training_patch_shape
from napari_tiled_unet.training.config import TrainingConfig
from napari_tiled_unet.training.data import PatchSampler, TrainingData, prepare_training_data
from napari_tiled_unet.training.events import EpochEvent, FinishedEvent, StepEvent, TrainingCallback
from napari_tiled_unet.training.losses import training_loss
from napari_tiled_unet.training.selection import (
    MIN_VALIDATION_OBJECTS,
    ModelSelector,
    WeightAverage,
    selection_rule,
)
from napari_tiled_unet.training.start_model_objects import start_objects_of
from napari_tiled_unet.training.validation import score_of, validate

INSTANCE_LABEL_VALUES = [0, 1, 1]
"""Label values an instance model's classes write as "labels": background 0, interior and boundary 1."""
_WARMUP = 0.05
_FINAL_LR = 0.05


class TrainingFailed(RuntimeError):
    """Training stopped on an error; ``best_model`` holds the best model found before it (or None)."""

    def __init__(self, message: str, best_model: UNet | None) -> None:
        super().__init__(message)
        self.best_model = best_model


def learning_rate_factor(progress: float, schedule: str) -> float:
    """Multiplier of the peak learning rate at ``progress`` (0..1): linear warm-up, then cosine decay."""
    if schedule == "constant":
        return 1.0
    if progress < _WARMUP:
        return max(0.1, progress / _WARMUP)
    t = min(1.0, (progress - _WARMUP) / (1.0 - _WARMUP))
    return _FINAL_LR + (1.0 - _FINAL_LR) * 0.5 * (1.0 + math.cos(math.pi * t))


@dataclasses.dataclass
class _Budget:
    """Tracks time and steps against the configured limits."""

    config: TrainingConfig
    start: float = dataclasses.field(default_factory=time.perf_counter)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def progress(self, step: int) -> float:
        parts = []
        if self.config.time_limit is not None:
            parts.append(self.elapsed / self.config.time_limit)
        if self.config.epochs is not None:
            parts.append(step / (self.config.epochs * self.config.steps_per_epoch))
        return min(1.0, max(parts))

    def out_of_time(self, reserve: float) -> bool:
        limit = self.config.time_limit
        return limit is not None and self.elapsed + reserve >= limit


def _resolve_init(init_model: UNet | str | Path | None) -> UNet | None:
    if init_model is None or isinstance(init_model, UNet):
        return init_model
    return load_model(resolve_model(init_model))  # a path or "builtin:NAME"


def _check_init(init: UNet, data: TrainingData, config: TrainingConfig) -> None:
    meta = init.metadata
    if init.config.in_channels != data.in_channels:
        raise ValueError(f"the model to continue from takes {init.config.in_channels} channel(s) but the images have "
                         f"{data.in_channels}: train a new model")
    if meta.get("task") not in (None, config.task):
        raise ValueError(f"the model to continue from was trained for task {meta.get('task')!r}, not {config.task!r}: "
                         "pick the same task or train a new model")
    values = list(data.encoding.label_values) if config.task != "instances" else INSTANCE_LABEL_VALUES
    if meta.get("label_values") and list(meta["label_values"]) != values:
        raise ValueError(f"the model to continue from predicts label values {meta['label_values']} but these labels "
                         f"have {values}: use the same classes or train a new model")
    if init.config.n_classes != data.encoding.n_outputs:
        raise ValueError(f"the model to continue from has {init.config.n_classes} outputs but these labels need "
                         f"{data.encoding.n_outputs}: train a new model")


def _start_settings(init: UNet | None, key: str = "postprocess") -> InstanceSettings | None:
    """The post-processing settings the model to start from was tuned with (under ``key``), if any."""
    stored = None if init is None else init.metadata.get(key)
    return InstanceSettings.from_dict(stored) if stored else None


def _config_for_init(config: TrainingConfig, init: UNet | None) -> TrainingConfig:
    """An instance model to continue from keeps its head (models from before the distance channel have none)."""
    if init is None or config.task != "instances" or init.metadata.get("task") != "instances":
        return config
    head = "distance" if init.metadata.get("regression") else "classes"
    return config if config.instance_head == head else config.replace(instance_head=head)


def _metadata(data: TrainingData, config: TrainingConfig, summary: dict[str, Any]) -> dict[str, Any]:
    label_values = INSTANCE_LABEL_VALUES if config.task == "instances" else list(data.encoding.label_values)
    metadata = {
        "normalization": data.normalization.to_dict(),
        "task": config.task,
        "sparse": config.sparse,
        "class_names": list(data.encoding.class_names),
        "label_values": label_values,
        "training": summary,
    }
    if data.encoding.regression:
        metadata["regression"] = list(data.encoding.regression)
    if config.channel_names:
        metadata["channels"] = {"names": list(config.channel_names)}
    if config.voxel_size is not None:
        metadata["voxel_size"] = list(config.voxel_size)
    return metadata


def _autocast(device: torch.device, enabled: bool) -> Any:
    if not enabled:
        return torch.autocast(device_type="cpu", enabled=False)
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast(device_type="cuda", dtype=dtype)


def train(
    images: np.ndarray | Sequence[np.ndarray],
    labels: np.ndarray | Sequence[np.ndarray],
    config: TrainingConfig | None = None,
    callback: TrainingCallback | None = None,
    cancel: CancelLike = None,
    init_model: UNet | str | Path | None = None,
    checkpoint: str | Path | None = None,
) -> UNet:
    """Train a U-Net and return the best model by validation score.

    Parameters
    ----------
    images : array or sequence of arrays
        2D or 3D images, optionally with a channel axis (first or last), any numeric dtype; several images
        may have different sizes. A 2D model on 3D stacks trains on the annotated planes.
    labels : array or sequence of arrays
        One label image per image, same spatial shape (see :mod:`napari_tiled_unet.training.labels` for
        the conventions of dense, sparse and instance labels).
    config : TrainingConfig, optional
        Task, architecture, budget... Defaults to ``TrainingConfig()``. An anisotropic ``voxel_size`` with
        ``anisotropy="auto"`` (the default) plans per-axis pooling and kernels (unless ``unet`` sets them) and
        the patches from it; the model keeps both.
    callback : callable, optional
        Receives :class:`StepEvent`, :class:`EpochEvent` and :class:`FinishedEvent` objects.
    cancel : threading.Event-like or callable, optional
        Checked before every step; when set, training stops and the best model so far is returned.
    init_model : UNet, path, "builtin:NAME" or None
        Continue training (fine-tune) from this model; its architecture and normalisation are kept and the
        peak learning rate is ``config.fine_tune_learning_rate``. For nuclei instances, ``"builtin:nuclei"``
        starts far ahead of a new network.
    checkpoint : path, optional
        The best model is written here (atomically) every time it improves, so a crash loses nothing.

    Returns
    -------
    UNet
        The best model, in eval mode, with metadata (normalisation, task, classes, training summary).

    Raises
    ------
    ValueError
        For bad input, before any training starts.
    TrainingFailed
        If training broke off on an error (out of memory...); ``best_model`` holds what was kept.

    """
    init = _resolve_init(init_model)
    config = _config_for_init(config or TrainingConfig(), init)
    normalization = None
    if init is not None and init.metadata.get("normalization"):
        normalization = PercentileNormalization.from_dict(init.metadata["normalization"])
    device = resolve_device(config.device)
    sparse_instances = config.task == "instances" and config.sparse
    guide = start_objects_of(init, device) if init is not None and sparse_instances else None
    data = prepare_training_data(images, labels, config, normalization, start_objects=guide)
    if config.channel_names and len(config.channel_names) != data.in_channels:
        raise ValueError(f"{len(config.channel_names)} channel names {list(config.channel_names)} for images with "
                         f"{data.in_channels} channel(s): give one name per channel")
    unet = dataclasses.replace(config.unet, in_channels=data.in_channels, n_classes=data.encoding.n_outputs)
    unet = planned_config(unet, config.voxel_size, config.anisotropy)  # per-axis pooling for anisotropic voxels
    if init is not None:
        _check_init(init, data, config)
        unet = init.config
    if checkpoint is not None:
        checkpoint = Path(checkpoint)
        if not checkpoint.parent.is_dir():
            raise ValueError(f"cannot write {checkpoint}: folder {checkpoint.parent} does not exist; create it first")
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    net = UNet(unet)
    if init is not None:
        net.load_state_dict(init.state_dict())
    net.to(device)
    if device.type == "cpu":
        net.to(memory_format=torch.channels_last if unet.dims == 2 else torch.channels_last_3d)
    peak = config.learning_rate if init is None else config.fine_tune_learning_rate
    runner = _Runner(net, data, config, device, rng, callback, cancel, checkpoint, peak, _start_settings(init),
                     _start_settings(init, LINKED_PLANES_KEY))
    return runner.run()


class _Runner:
    """State of one training run (kept out of :func:`train` so that each part stays small)."""

    def __init__(self, net: UNet, data: TrainingData, config: TrainingConfig, device: torch.device,
                 rng: np.random.Generator, callback: TrainingCallback | None, cancel: CancelLike,
                 checkpoint: Path | None, peak_learning_rate: float,
                 start_settings: InstanceSettings | None = None,
                 start_linked_settings: InstanceSettings | None = None) -> None:
        self.net, self.data, self.config, self.device = net, data, config, device
        self.peak_learning_rate = peak_learning_rate
        self.callback, self.cancel, self.checkpoint = callback, cancel, checkpoint
        self.patch = training_patch_shape(net.config, config, [item.spatial_shape for item in data.images])
        share = 0.9 if config.sparse else 0.5
        self.sampler = PatchSampler(data, net.config, self.patch, config.augmentation, rng, share)
        self.optimizer = torch.optim.AdamW(net.parameters(), lr=peak_learning_rate,
                                           weight_decay=config.weight_decay)
        self.amp = config.mixed_precision and device.type == "cuda"
        fp16 = self.amp and not torch.cuda.is_bf16_supported()
        self.scaler = torch.amp.GradScaler("cuda", enabled=fp16)
        self.budget = _Budget(config)
        self.step = 0
        self.validation_objects = data.validation_objects  # counted once: the held-back blocks do not change
        rule, self.selection_reason = selection_rule(config.selection, config.task, data.has_validation,
                                                     self.validation_objects)
        self.selector = ModelSelector(rule)
        self.start_settings, self.start_linked_settings = start_settings, start_linked_settings
        self.average = WeightAverage(net) if config.weight_average else None
        self.evaluated = copy.deepcopy(net) if config.weight_average else net
        self.val_seconds = 0.0
        self.data_seconds = 0.0
        self.stop_reason = "epochs"
        self.settings: InstanceSettings | None = None
        self.linked_settings: InstanceSettings | None = None

    def _emit(self, event: Any) -> None:
        if self.callback is not None:
            self.callback(event)

    def _train_step(self, epoch: int) -> float:
        progress = self.budget.progress(self.step)
        lr = self.peak_learning_rate * learning_rate_factor(progress, self.config.schedule)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        t0 = time.perf_counter()
        images, targets, weights = self.sampler.batch(self.config.batch_size)
        self.data_seconds += time.perf_counter() - t0
        x = torch.from_numpy(images).to(self.device, non_blocking=True)
        if self.device.type == "cpu":
            x = x.contiguous(memory_format=torch.channels_last if x.ndim == 4 else torch.channels_last_3d)
        t = torch.from_numpy(targets.astype(np.int64)).to(self.device, non_blocking=True)
        w = torch.from_numpy(weights).to(self.device, non_blocking=True)
        self.net.train()
        with _autocast(self.device, self.amp):
            logits = self.net(x)
        loss = training_loss(logits.float(), t, w, self.config.loss, self.data.encoding.n_classes,
                             image=self._output_intensities(x) if self.config.edge_term_weight > 0 else None,
                             edge_weight=self.config.edge_term_weight)
        if not torch.isfinite(loss):
            raise FloatingPointError("the loss became NaN or infinite: lower the learning rate")
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.average is not None:
            self.average.update(self.net)
        self.step += 1
        value = float(loss.detach())
        self._emit(StepEvent(self.step, epoch, value, lr, self.budget.elapsed, self.budget.progress(self.step)))
        return value

    def _output_intensities(self, x: torch.Tensor) -> torch.Tensor:
        """The input intensities (channels averaged) at the pixels the network's output covers."""
        image = x.float().mean(dim=1)
        for axis, margin in enumerate(self.net.config.margins):
            if margin:
                image = image.narrow(axis + 1, margin, image.shape[axis + 1] - 2 * margin)
        return image

    def _run_epoch(self, epoch: int) -> list[float]:
        losses: list[float] = []
        for _ in range(self.config.steps_per_epoch):
            if is_cancelled(self.cancel):
                self.stop_reason = "cancelled"
                break
            if self.budget.out_of_time(reserve=2 * self.val_seconds):
                self.stop_reason = "time limit"
                break
            losses.append(self._train_step(epoch))
        return losses

    def _model_to_evaluate(self) -> UNet:
        """The model validation scores and training returns: the weight average, or the net itself."""
        if self.average is not None:
            self.evaluated.load_state_dict(self.average.state_dict())
        return self.evaluated

    def _end_epoch(self, epoch: int, losses: list[float]) -> None:
        train_loss = float(np.mean(losses))
        t0 = time.perf_counter()
        model = self._model_to_evaluate()
        result = validate(model, self.data, self.config.task) if self.data.has_validation else None
        val_loss, metrics = (None, {}) if result is None else (result.loss, result.metrics)
        self.val_seconds = time.perf_counter() - t0
        score = score_of(self.config.task, self.config.sparse, val_loss, metrics, train_loss)
        info = {"score": score, "epoch": epoch, "metrics": metrics, "val_loss": val_loss, "train_loss": train_loss}
        kept = self.selector.offer(epoch, score, model.state_dict, info)
        if kept and self.checkpoint is not None:
            save_model(self._best_model(epoch, final=False), self.checkpoint)
        self._emit(EpochEvent(epoch, self.step, train_loss, val_loss, metrics, score, kept,
                              self.budget.elapsed, self.budget.progress(self.step)))

    def _summary(self, epochs: int) -> dict[str, Any]:
        return {
            "steps": self.step,
            "epochs": epochs,
            "seconds": round(self.budget.elapsed, 2),
            "stopped_by": self.stop_reason,
            "best_epoch": self.selector.epoch,
            "best_metrics": {k: round(v, 4) for k, v in self.selector.info.get("metrics", {}).items()},
            "best_val_loss": None if self.selector.info.get("val_loss") is None else round(
                self.selector.info["val_loss"], 5),
            "selection": self.selector.rule,
            "selection_reason": self.selection_reason,
            "validation_objects": self.validation_objects,
            "weight_average": self.average is not None,
            "peak_learning_rate": self.peak_learning_rate,
            "patch_shape": list(self.patch),
            "device": str(self.device),
            "images": len(self.data.images),
            "data_share": round(self.data_seconds / max(self.budget.elapsed, 1e-9), 4),
            "config": {**self.config.to_dict(), "unet": self.net.config.to_dict()},
            "notes": list(self.data.notes),
            "objects_from_strokes": self.data.objects_from_strokes,
        }

    def _best_model(self, epochs: int, final: bool) -> UNet:
        best = UNet(self.net.config)
        state = self.selector.state if self.selector.state is not None else self._model_to_evaluate().state_dict()
        best.load_state_dict({k: v.to("cpu") for k, v in state.items()})
        best.metadata = _metadata(self.data, self.config, self._summary(epochs))
        if self.settings is not None:
            best.metadata["postprocess"] = self.settings.to_dict()
        if self.linked_settings is not None:
            best.metadata[LINKED_PLANES_KEY] = self.linked_settings.to_dict()
        return best.to(self.device).eval()

    def _tune_postprocess(self, model: UNet) -> None:
        """Choose the kept model's post-processing on the held-back blocks (instances only).

        A model started from another keeps the settings that model was tuned with when the validation holds
        too few objects to tune them again (stand-in nuclei, 12 painted, fine-tuned from builtin:nuclei: held-out
        F1 0.90 with the start model's settings, 0.85-0.88 with settings tuned on 2-6 held-back objects).
        A 2D model with a centre distance is also tuned for seeds that are never cut, stored under
        :data:`~napari_tiled_unet.instance_output.LINKED_PLANES_KEY` for the planes of Z stacks linked into 3D
        objects.
        """
        if self.config.task != "instances" or not self.data.has_validation:
            return
        if self.start_settings is not None and self.validation_objects < MIN_VALIDATION_OBJECTS:
            self.settings, self.linked_settings = self.start_settings, self.start_linked_settings
            return
        result = validate(model, self.data, self.config.task, fine=True, without_cuts=self.net.config.dims == 2)
        self.settings, self.linked_settings = result.settings, result.settings_without_cuts

    def run(self) -> UNet:
        epoch = 0
        try:
            while True:
                if self.config.epochs is not None and epoch >= self.config.epochs:
                    break
                losses = self._run_epoch(epoch + 1)
                if losses:
                    epoch += 1
                    self._end_epoch(epoch, losses)
                if self.stop_reason in ("cancelled", "time limit"):
                    break
        except Exception as err:
            best = self._best_model(epoch, final=True) if self.selector.state is not None else None
            raise TrainingFailed(f"training stopped at step {self.step}: {err}", best) from err
        if self.selector.state is None:
            # cancelled before the first epoch ended: the current (averaged) weights are all there is
            self.selector.state = {k: v.detach().to("cpu", copy=True)
                                   for k, v in self._model_to_evaluate().state_dict().items()}
        model = self._best_model(epoch, final=True)
        self._tune_postprocess(model)
        model = self._best_model(epoch, final=True)
        if self.checkpoint is not None:
            save_model(model, self.checkpoint)
        self._emit(FinishedEvent(summary=copy.deepcopy(model.metadata["training"]),
                                 cancelled=self.stop_reason == "cancelled"))
        return model
