"""What one training run of the Train widget is made of: its settings, the model it starts from, its words.

A mixin of :class:`~.train_widget.TrainWidget`.
"""

from __future__ import annotations

from typing import Any

from napari_tiled_unet.errors import ModelFileError
from napari_tiled_unet.model import UNet
from napari_tiled_unet.training.config import TrainingConfig

from .builtin_choices import load_builtin
from .corrections_layer import corrections_info
from .messages import Vocabulary, training_vocabulary
from .train_inputs import Pair, TrainingInputs


class TrainSetup:
    """Settings, starting model and vocabulary of a training run (a mixin of the Train widget)."""

    fields: Any
    advanced: Any
    start_from: Any
    model: UNet | None
    model_name: str | None
    _error: Any

    @property
    def pairs(self) -> list[Pair]:
        """The image/labels pairs added besides the selected one."""
        return self.fields.pairs

    def add_pair(self) -> None:
        """Add the selected image and labels layers to the training pairs."""
        try:
            self.fields.add_pair()
        except ValueError as err:
            self._error("add a pair", err)

    def clear_pairs(self) -> None:
        """Train on the selected pair only."""
        self.fields.clear_pairs()

    def training_pairs(self) -> list[Pair]:
        """The added pairs plus the selected one (each pair once)."""
        return self.fields.training_pairs()

    def training_config(self, inputs: TrainingInputs | None = None, pairs: list[Pair] | None = None) -> TrainingConfig:
        """The configuration from the fields (ValueError, in the widget's words, if a value is not usable).

        With ``inputs``, their channel names and voxel size; a corrections layer among ``pairs`` is read with the
        settings of the model that made it.
        """
        changes = {**self.fields.config_changes(), **self.advanced.config_changes()}
        if inputs is not None:
            changes.update(channel_names=inputs.channel_names, voxel_size=inputs.voxel_size)
        corrections = next((info for info in map(corrections_info, [p.labels for p in pairs or []]) if info), None)
        if corrections is not None:
            changes.update(corrections.settings)
        return TrainingConfig(**changes)

    def _words(self, pairs: list[Pair]) -> Vocabulary:
        stacks = any(p.labels.ndim > int(self.advanced.dims.value) for p in pairs)
        return training_vocabulary([(p.image.name, p.labels.name) for p in pairs], planes=stacks)

    @staticmethod
    def _action(pairs: list[Pair]) -> str:
        if len(pairs) == 1:
            return f"train on '{pairs[0].image.name}' with labels '{pairs[0].labels.name}'"
        return f"train on {len(pairs)} image/labels pairs" if pairs else "train"

    def _init_model(self, continue_training: bool) -> tuple[UNet | None, str]:
        """The model to go on from (the current one, or a built-in one to start from) and its name."""
        if continue_training:
            if self.model is None:
                raise ValueError("there is no model to continue: train or load one first")
            return self.model, f"continuing {self.model_name}"
        spec = self.start_from.value if self.fields.has_builtins else ""
        if not spec:
            return None, "training a new model"
        try:
            return load_builtin(spec), f"training a new model from {spec}"
        except ModelFileError as err:
            raise ValueError(str(err)) from None
