"""The "Train U-Net" dock widget: layers and settings in, a trained model out (shared with the Predict widget)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from magicgui.widgets import Container, Label, ProgressBar, PushButton

from napari_tiled_unet.model import UNet
from napari_tiled_unet.training.events import EpochEvent, FinishedEvent, StepEvent
from napari_tiled_unet.training.stroke_objects import objects_mode

from .corrections_layer import corrections_info
from .dock_layout import HELP_NAPARI, help_link, lay_out_dock, native_of, section
from .jobs import LabelsChecked, Outcome, TrainingJob, run_training
from .label_check import Checked
from .layer_choices import connect_layer_events, disconnect_layer_events, follow_renames
from .lifecycle import JobRunner
from .messages import Vocabulary, report_error, report_info, training_vocabulary
from .model_files import ModelFileActions
from .model_registry import LossHistory, registry
from .model_text import describe_model
from .qt_parts import LossPlot, set_status, wrap_text
from .train_advanced import AdvancedSettings
from .train_choices import TrainChoices
from .train_form import DataFields
from .train_inputs import training_inputs
from .train_setup import TrainSetup
from .training_text import epoch_text, finished_text, step_text

if TYPE_CHECKING:
    import napari

logger = logging.getLogger(__name__)


@dataclass
class TrainingRun:
    """What the widget remembers about the run in progress."""

    job: TrainingJob
    words: Vocabulary
    action: str
    history: LossHistory
    step_offset: int = 0
    replaces: str | None = None  # the name of the model being continued
    strokes: bool = False  # scribbles train an instance model: the held-out part is strokes too


class TrainWidget(TrainSetup, TrainChoices, ModelFileActions, Container):
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
        self._run: TrainingRun | None = None

        self.fields = DataFields(self.viewer)
        for name in ("image_layer", "labels_layer", "task", "sparse", "background", "class_names", "start_from",
                     "time_limit", "epochs", "add_pair_button", "clear_pairs_button", "pairs_label", "channels"):
            setattr(self, name, getattr(self.fields, name))
        self.advanced = AdvancedSettings()
        self.start_button = PushButton(text="Start", tooltip="train a new model on the selected pair(s)")
        self.label_check = self.fields.check
        self.continue_button = PushButton(text="Continue training", enabled=False,
                                          tooltip="go on training the current model, e.g. after painting more "
                                          "labels or correcting its prediction ('Make annotation for corrections' "
                                          "in Predict with U-Net; in a stack only the planes you edit count); it "
                                          "keeps its name and its loss curve")
        self.cancel_button = PushButton(text="Cancel", enabled=False,
                                        tooltip="stop within one step; the best model so far is kept")
        self.progress = ProgressBar(value=0, min=0, max=1000, label="progress",
                                    tooltip="share of the time limit (or of the epochs) used")
        self.status = Label(value="ready", tooltip="what training is doing, and any error in full")
        self.plot = LossPlot()
        self.model_label = Label(value="no model yet", tooltip="the current model: the one trained or loaded last")
        self.save_button = PushButton(text="Save model…", enabled=False,
                                      tooltip="save the current model as a .safetensors file")
        self.load_button = PushButton(text="Load model…", tooltip="load a .safetensors model to continue training it")
        self._lay_out()
        self.runner = JobRunner(self.native, self.viewer)
        self.runner.on_close.append(self._closed)

        self.start_button.changed.connect(lambda: self.start())
        self.continue_button.changed.connect(lambda: self.start(continue_training=True))
        self.cancel_button.changed.connect(self.cancel)
        self.add_pair_button.changed.connect(self.add_pair)
        self.clear_pairs_button.changed.connect(self.clear_pairs)
        self.save_button.changed.connect(self._save_dialog)
        self.load_button.changed.connect(self._load_dialog)
        connect_layer_events(self.viewer, self._layers_changed)
        latest = registry.latest()
        if latest is not None:  # a reopened widget goes on with the session's latest model
            self._show_model(latest[1], latest[0])
        self.connect_choices()

    def _lay_out(self) -> None:
        pair_row = Container(widgets=[self.add_pair_button, self.clear_pairs_button], layout="horizontal",
                             labels=False)
        data = Container(widgets=[self.fields, pair_row, self.pairs_label], labels=False)
        model_box = Container(widgets=[self.model_label, Container(widgets=[self.save_button, self.load_button],
                                                                   layout="horizontal", labels=False)], labels=False)
        for box in (data, model_box, pair_row):
            box.margins = (0, 0, 0, 0)
        actions = Container(widgets=[self.start_button, self.continue_button, self.cancel_button],
                            layout="horizontal", labels=False)
        actions.margins = (0, 0, 0, 0)
        wrap_text(self.status, self.model_label, self.pairs_label)  # before the sections measure them
        self.sections = {
            "data": section("Data and duration", data.native, tooltip="what to learn from, and for how long"),
            "advanced": section("Advanced", self.advanced.native, expanded=False,
                                tooltip="the network and the optimisation (the defaults suit most images)"),
            "plot": section("Loss curve", self.plot, tooltip="how training goes: the losses should fall, the "
                            "held-out score rise"),
            "model": section("Model", model_box.native, tooltip="the current model: save it, or load one"),
        }
        header = [help_link("How to train (help)", HELP_NAPARI, "open the README: training in napari step by step")]
        self.scroll = lay_out_dock(self, header, self.sections.values(),
                                   native_of([actions, self.progress, self.status]))

    def reset_choices(self, *_: Any) -> None:
        """Offer the viewer's current layers (napari calls this when layers change)."""
        if not self.runner.closed:
            self.fields.reset_choices()

    def _closed(self, reason: str) -> None:
        self.label_check.end()
        disconnect_layer_events(self.viewer, self._layers_changed)

    # ------------------------------------------------------------------ layers and pairs
    @property
    def running(self) -> bool:
        """True while a training run is in progress."""
        return self.runner.running

    def _layers_changed(self, event: Any = None) -> None:
        if self.runner.closed:
            return
        follow_renames(event, self._layers_changed)
        self.fields.keep_pairs_of(self.viewer.layers)
        self.reset_choices()
        self.channels.reset_choices()
        if getattr(event, "type", None) == "inserted":
            self.select_new_corrections(getattr(event, "value", None))

    # ------------------------------------------------------------------ training
    def start(self, continue_training: bool = False) -> bool:
        """Start training in a background thread; False (with the message shown) if the input is not usable.

        Parameters
        ----------
        continue_training : bool
            Go on training the current model (the last trained or loaded one): it keeps its name and its loss
            history, and the steps go on counting.

        """
        if self.running:
            return False
        pairs = self.training_pairs()
        words = self._words(pairs)
        try:
            if not pairs:
                raise ValueError("pick an image layer and a labels layer (paint labels or open the sample first)")
            init, what = self._init_model(continue_training)
            dims = init.config.dims if init is not None else int(self.advanced.dims.value)
            inputs = training_inputs(pairs, dims, continuing=continue_training)
            config = self.training_config(inputs, pairs)
            suggest = not (continue_training or self.fields.settings_by_hand
                           or any(corrections_info(p.labels) for p in pairs))
            job = TrainingJob(images=inputs.images, labels=inputs.labels, config=config, init_model=init,
                              suggest=suggest, shipped_start=init is not None and not continue_training,
                              ignore_label_check=bool(self.label_check.ignore.value))
        except ValueError as err:
            self._error(self._action(pairs), err, words)
            return False
        self._run = self._new_run(job, words, self._action(pairs), continue_training)
        self.progress.value = 0
        set_status(self.status, f"{what} on {len(pairs)} image(s): checking the labels, preparing data…")
        logger.info("%s: %s", what, job.config.to_dict())
        self.runner.start(run_training, job, on_event=self._on_event, on_done=self._on_returned,
                          on_orphaned=self._keep_orphaned, description=f"{what} (Cancel keeps the best model)")
        self._set_running(True)
        return True

    def _new_run(self, job: TrainingJob, words: Vocabulary, action: str, continue_training: bool) -> TrainingRun:
        if not continue_training or self.model is None:
            self.plot.clear()
            return TrainingRun(job, words, action, self.plot.history)
        history = registry.history(self.model_name or "") or self.plot.history
        offset = history.last_step or int((self.model.metadata.get("training") or {}).get("steps") or 0)
        history.runs.append(offset)
        self.plot.show_history(history)
        return TrainingRun(job, words, action, history, offset, replaces=self.model_name)

    def cancel(self) -> None:
        """Ask the training to stop (within one step); the best model so far is kept."""
        if self.running:
            self.runner.cancel()
            set_status(self.status, "cancelling…")
            self.cancel_button.enabled = False

    def _set_running(self, running: bool) -> None:
        self.start_button.enabled = not running
        self.continue_button.enabled = not running and self.model is not None
        self.cancel_button.enabled = running
        self.load_button.enabled = not running
        self.save_button.enabled = not running and self.model is not None

    def _on_event(self, event: Any) -> None:
        run = self._run
        if run is None:
            return
        if isinstance(event, LabelsChecked):
            config = run.job.config
            if run.job.suggest:
                self.fields.apply_settings(config.task, config.sparse)
            names = ", ".join(labels for _image, labels in run.words.pairs)
            self.label_check.show(Checked(event.report, config.task, config.sparse), names)
            run.strokes = config.task == "instances" and config.sparse and objects_mode(
                config.sparse_objects, run.job.labels)[0]
        elif isinstance(event, StepEvent):
            self.plot.add_step(run.step_offset + event.step, event.loss)
            self.progress.value = round(1000 * event.progress)
            set_status(self.status, step_text(event, run.step_offset))
        elif isinstance(event, EpochEvent):
            self.plot.add_epoch(run.step_offset + event.step, event.train_loss, event.val_loss, event.metrics)
            self.progress.value = round(1000 * event.progress)
            set_status(self.status, epoch_text(event, run.job.config.sparse, run.job.config.task, run.strokes))
        elif isinstance(event, FinishedEvent):
            config = run.job.config
            set_status(self.status, finished_text(event.summary, event.cancelled, config.sparse, config.task,
                                                  bool(event.summary.get("objects_from_strokes"))))

    def _register(self, net: UNet, run: TrainingRun) -> str:
        """Put a trained model into the session's registry (a continued model replaces itself)."""
        history = run.history
        if history.runs and history.runs[-1] == run.step_offset == history.last_step:
            history.runs.pop()  # the continued run trained no step: no mark on the plot
        if run.replaces is not None:
            return registry.replace(run.replaces, net, run.history)
        return registry.add(net, history=run.history)

    def _on_returned(self, outcome: Outcome) -> None:
        run, self._run = self._run, None
        self.last_outcome = outcome
        if outcome.result is not None and run is not None:
            self._show_model(outcome.result, self._register(outcome.result, run))
            self.progress.value = 1000 if not outcome.cancelled else self.progress.value
        elif run is not None and run.history.runs and run.history.runs[-1] == run.step_offset:
            run.history.runs.pop()  # a continued run that failed leaves no mark
        if outcome.error is not None:
            self._error(run.action if run is not None else "train", outcome.error, run.words if run else None)
        elif outcome.cancelled:
            report_info(f"Training cancelled; the best model so far is available as '{self.model_name}'")
        self._set_running(False)

    def _keep_orphaned(self, outcome: Outcome, reason: str) -> None:
        """The widget went away during training: keep the best model in the registry (no Qt object is touched)."""
        run, self._run = self._run, None
        self.last_outcome = outcome
        if outcome.result is None or run is None:
            logger.info("training ended after %s without a model (%s)", reason, outcome.error)
            return
        self.model, self.model_name = outcome.result, self._register(outcome.result, run)
        message = (f"Training stopped because {reason}; the best model so far is kept as '{self.model_name}' "
                   "(open Train U-Net again to continue it)")
        if reason == "its panel was closed":
            report_info(message)
        else:
            logger.info(message)

    def _error(self, action: str, err: BaseException, words: Vocabulary | None = None) -> None:
        """Show an error as a notification and in full in the status area."""
        set_status(self.status, report_error(action, err, words or training_vocabulary([])), error=True)

    # ------------------------------------------------------------------ models
    def _show_model(self, net: UNet, name: str) -> None:
        self.model, self.model_name = net, name
        self.model_label.value = f"{name}\n{describe_model(net)}"
        history = registry.history(name)
        if history is not None and not self.running:
            self.plot.show_history(history)
        self._set_running(self.running)
