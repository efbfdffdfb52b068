"""The "Train U-Net" dock widget: layers and settings in, a trained model out (shared with the Predict widget)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from magicgui.widgets import CheckBox, ComboBox, Container, FloatSpinBox, Label, ProgressBar, PushButton, SpinBox
from napari.qt.threading import create_worker
from qtpy.QtWidgets import QFileDialog
from superqt import QCollapsible

from napari_tiled_unet.model import UNet
from napari_tiled_unet.model_file import load_model, save_model
from napari_tiled_unet.training.config import TrainingConfig
from napari_tiled_unet.training.events import EpochEvent, FinishedEvent, StepEvent

from .jobs import Outcome, TrainingJob, run_training, snapshot
from .messages import report_error, report_info
from .model_registry import describe_model, registry
from .qt_parts import LossPlot, Relay, wrap_text
from .train_form import DEFAULTS, AdvancedSettings, connect_layer_events, follow_renames, layer_choices

if TYPE_CHECKING:
    import napari

logger = logging.getLogger(__name__)


class TrainWidget(Container):
    """Train a U-Net on image/labels layer pairs in a background thread, with live loss curves and Cancel.

    Parameters
    ----------
    napari_viewer : napari.viewer.Viewer
        The viewer whose layers are offered.

    """

    def __init__(self, napari_viewer: napari.viewer.Viewer) -> None:
        super().__init__(labels=False)
        # plugin widgets get a PublicOnlyProxy; layers compare by identity, so work on the real viewer
        self.viewer = getattr(napari_viewer, "__wrapped__", napari_viewer)
        self.model: UNet | None = None
        self.model_name: str | None = None
        self.last_outcome: Outcome | None = None
        self.pairs: list[tuple[Any, Any]] = []
        self._job: TrainingJob | None = None
        self._worker: Any = None
        self._relay = Relay()
        self._relay.event.connect(self._on_event)

        self.image_layer = ComboBox(label="image", choices=layer_choices(self.viewer, "image"))
        self.labels_layer = ComboBox(label="labels", choices=layer_choices(self.viewer, "labels"),
                                     tooltip="dense labels, instance ids, or sparse scribbles")
        self.task = ComboBox(label="task", choices=["semantic", "instances"], value=DEFAULTS.task,
                             tooltip="semantic: labels are classes; instances: every object has its own id")
        self.time_limit = FloatSpinBox(label="time limit (s)", value=DEFAULTS.time_limit or 0.0, min=0.0,
                                       max=30 * 24 * 3600.0, step=10.0, tooltip="0: no time limit (set epochs)")
        self.epochs = SpinBox(label="epochs", value=DEFAULTS.epochs or 0, min=0, max=1_000_000,
                              tooltip="0: train until the time limit")
        self.sparse = CheckBox(text="labels are sparse scribbles (0 = not annotated, 1 = background)",
                               value=DEFAULTS.sparse)
        self.add_pair_button = PushButton(text="Add pair", tooltip="train on several image/labels pairs")
        self.clear_pairs_button = PushButton(text="Clear pairs")
        self.pairs_label = Label(value="")
        self.advanced = AdvancedSettings()
        self.start_button = PushButton(text="Start")
        self.continue_button = PushButton(text="Continue training", enabled=False,
                                          tooltip="fine-tune the current model (e.g. after painting more labels)")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.progress = ProgressBar(value=0, min=0, max=1000, label="progress")
        self.status = Label(value="ready")
        self.plot = LossPlot()
        self.model_label = Label(value="no model yet")
        self.save_button = PushButton(text="Save model…", enabled=False)
        self.load_button = PushButton(text="Load model…", tooltip="load a model to continue training it")

        collapsible = QCollapsible("Advanced")
        collapsible.addWidget(self.advanced.native)
        advanced_box, plot_box = Container(labels=False), Container(labels=False)
        advanced_box.native.layout().addWidget(collapsible)
        plot_box.native.layout().addWidget(self.plot)
        self.extend([
            Container(widgets=[self.image_layer, self.labels_layer, self.task, self.time_limit, self.epochs]),
            self.sparse,
            Container(widgets=[self.add_pair_button, self.clear_pairs_button], layout="horizontal", labels=False),
            self.pairs_label,
            advanced_box,
            Container(widgets=[self.start_button, self.continue_button, self.cancel_button], layout="horizontal",
                      labels=False),
            self.progress, self.status, plot_box, self.model_label,
            Container(widgets=[self.save_button, self.load_button], layout="horizontal", labels=False),
        ])
        wrap_text(self.status, self.model_label, self.pairs_label)
        self.pairs_label.visible = False
        self.start_button.changed.connect(lambda: self.start())
        self.continue_button.changed.connect(lambda: self.start(continue_training=True))
        self.cancel_button.changed.connect(self.cancel)
        self.add_pair_button.changed.connect(self.add_pair)
        self.clear_pairs_button.changed.connect(self.clear_pairs)
        self.save_button.changed.connect(self._save_dialog)
        self.load_button.changed.connect(self._load_dialog)
        self.labels_layer.changed.connect(self._labels_changed)
        self.task.changed.connect(self._task_changed)
        connect_layer_events(self.viewer, self._layers_changed)
        self._labels_changed(self.labels_layer.value)

    # ------------------------------------------------------------------ layers and pairs
    @property
    def running(self) -> bool:
        """True while a training run is in progress."""
        return self._job is not None

    def _layers_changed(self, event: Any = None) -> None:
        follow_renames(event, self._layers_changed)
        present = {id(layer) for layer in self.viewer.layers}
        self.pairs = [(i, lab) for i, lab in self.pairs if id(i) in present and id(lab) in present]
        self.reset_choices()
        self._show_pairs()

    def _labels_changed(self, layer: Any) -> None:
        """Scribble layers (by name, like the sample's) switch the sparse option on."""
        if layer is not None and "scribble" in layer.name.lower() and self.task.value == "semantic":
            self.sparse.value = True

    def _task_changed(self, task: str) -> None:
        if task == "instances":
            self.sparse.value = False
        self.sparse.enabled = task == "semantic"

    def add_pair(self) -> None:
        """Add the selected image and labels layers to the training pairs."""
        pair = (self.image_layer.value, self.labels_layer.value)
        if None in pair:
            report_error("add a pair", ValueError("pick an image layer and a labels layer first"))
            return
        if not any(pair[0] is i and pair[1] is lab for i, lab in self.pairs):
            self.pairs.append(pair)
        self._show_pairs()

    def clear_pairs(self) -> None:
        """Train on the selected pair only."""
        self.pairs = []
        self._show_pairs()

    def training_pairs(self) -> list[tuple[Any, Any]]:
        """The added pairs plus the selected one (each pair once)."""
        pairs = list(self.pairs)
        current = (self.image_layer.value, self.labels_layer.value)
        if None not in current and not any(current[0] is i and current[1] is lab for i, lab in pairs):
            pairs.append(current)
        return pairs

    def _show_pairs(self) -> None:
        self.pairs_label.value = "pairs: " + "; ".join(f"{i.name} + {lab.name}" for i, lab in self.pairs)
        self.pairs_label.visible = bool(self.pairs)

    # ------------------------------------------------------------------ training
    def training_config(self) -> TrainingConfig:
        """The configuration from the fields (ValueError if a value is out of range)."""
        time_limit = float(self.time_limit.value) or None
        epochs = int(self.epochs.value) or None
        if time_limit is None and epochs is None:
            raise ValueError("set a time limit or a number of epochs: training needs a way to stop")
        return TrainingConfig(task=self.task.value, sparse=bool(self.sparse.value) and self.task.value == "semantic",
                              epochs=epochs, time_limit=time_limit, **self.advanced.config_changes())

    def start(self, continue_training: bool = False) -> bool:
        """Start training in a background thread; False (with a notification) if the input is not usable.

        Parameters
        ----------
        continue_training : bool
            Fine-tune the current model (the last trained or loaded one) instead of starting from scratch.

        """
        if self.running:
            return False
        try:
            pairs = self.training_pairs()
            if not pairs:
                raise ValueError("pick an image layer and a labels layer (paint labels or open the sample first)")
            if continue_training and self.model is None:
                raise ValueError("there is no model to continue: train or load one first")
            job = TrainingJob(images=[snapshot(i) for i, _ in pairs], labels=[snapshot(lab) for _, lab in pairs],
                              config=self.training_config(), init_model=self.model if continue_training else None)
        except ValueError as err:
            report_error("train", err)
            return False
        self._job = job
        self.native.destroyed.connect(lambda *_: job.cancel.set())  # closing napari stops the run
        self.plot.clear()
        self.progress.value = 0
        what = f"continuing {self.model_name}" if continue_training else "training a new model"
        self.status.value = f"{what} on {len(pairs)} image(s), preparing data…"
        logger.info("%s: %s", what, job.config.to_dict())
        self._set_running(True)
        self._worker = create_worker(run_training, job, self._relay.event.emit, _start_thread=False)
        self._worker.returned.connect(self._on_returned)
        self._worker.errored.connect(lambda err: self._on_returned(Outcome(error=err)))
        self._worker.start()
        return True

    def cancel(self) -> None:
        """Ask the training to stop (within one step); the best model so far is kept."""
        if self._job is not None:
            self._job.cancel.set()
            self.status.value = "cancelling…"
            self.cancel_button.enabled = False

    def _set_running(self, running: bool) -> None:
        self.start_button.enabled = not running
        self.continue_button.enabled = not running and self.model is not None
        self.cancel_button.enabled = running
        self.load_button.enabled = not running
        self.save_button.enabled = not running and self.model is not None

    def _on_event(self, event: Any) -> None:
        if isinstance(event, StepEvent):
            self.plot.add_step(event.step, event.loss)
            self.progress.value = round(1000 * event.progress)
            self.status.value = f"epoch {event.epoch}, step {event.step}: loss {event.loss:.4f}, {event.elapsed:.0f} s"
        elif isinstance(event, EpochEvent):
            self.plot.add_epoch(event.step, event.train_loss, event.val_loss, event.metrics)
            self.progress.value = round(1000 * event.progress)
            metrics = ", ".join(f"{k.replace('_', ' ')} {v:.3f}" for k, v in event.metrics.items())
            val = "" if event.val_loss is None else f", val loss {event.val_loss:.4f}"
            self.status.value = (f"epoch {event.epoch}: train loss {event.train_loss:.4f}{val}"
                                 f"{', ' + metrics if metrics else ''}{' (best)' if event.best else ''}")
        elif isinstance(event, FinishedEvent):
            summary = event.summary
            self.status.value = (f"{'cancelled' if event.cancelled else 'done'}: {summary.get('steps')} steps, "
                                 f"{summary.get('epochs')} epochs, {summary.get('seconds')} s, best epoch "
                                 f"{summary.get('best_epoch')}")

    def _on_returned(self, outcome: Outcome) -> None:
        if self._job is None:  # already handled (errored after returned cannot happen, but be safe)
            return
        self._job, self._worker = None, None
        self.last_outcome = outcome
        if outcome.result is not None:
            self._set_model(outcome.result)
            self.progress.value = 1000 if not outcome.cancelled else self.progress.value
        if outcome.error is not None:
            report_error("train", outcome.error)
            self.status.value = "failed: see the notification"
        elif outcome.cancelled:
            report_info(f"Training cancelled; the best model so far is available as '{self.model_name}'")
        self._set_running(False)

    # ------------------------------------------------------------------ models
    def _set_model(self, net: UNet, name: str | None = None) -> None:
        self.model = net
        self.model_name = name or registry.add(net)
        self.model_label.value = f"{self.model_name}\n{describe_model(net)}"

    def save_model_to(self, path: str | Path) -> Path | None:
        """Save the current model to a ``.safetensors`` file; None (with a notification) if that fails."""
        try:
            if self.model is None:
                raise ValueError("there is no model to save: train one first")
            written = save_model(self.model, path)
        except (ValueError, OSError) as err:
            report_error("save the model", err)
            return None
        report_info(f"Saved {self.model_name} to {written}")
        return written

    def load_model_from(self, path: str | Path) -> UNet | None:
        """Load a model to continue training it (it is offered to the Predict widget too)."""
        try:
            net = load_model(path)
        except (ValueError, OSError) as err:
            report_error("load the model", err)
            return None
        self._set_model(net, registry.add_file(path, net))
        self._set_running(False)
        return net

    def _save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.native, "Save model", f"{self.model_name or 'model'}.safetensors",
                                              "Model files (*.safetensors)")
        if path:
            self.save_model_to(path)

    def _load_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.native, "Load model", "", "Model files (*.safetensors)")
        if path:
            self.load_model_from(path)
