"""Models of this napari session, shared by the Train and Predict widgets, with the loss history of each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from psygnal import Signal

from napari_tiled_unet.model import UNet
from napari_tiled_unet.model_file import load_model


@dataclass
class LossHistory:
    """The loss curves of a model over all its training runs (steps keep counting when training continues).

    Attributes
    ----------
    steps : list of (step, loss)
        Training loss of every step.
    epochs : list of (step, train loss, held-out loss or None, main held-out metric or None)
        One entry per epoch.
    metric_name : str
        Key of the main held-out metric (``instance_f1`` or ``foreground_iou``), "" before the first epoch.
    runs : list of int
        The step at which every continued run started (drawn as a mark on the plot).

    """

    steps: list[tuple[int, float]] = field(default_factory=list)
    epochs: list[tuple[int, float, float | None, float | None]] = field(default_factory=list)
    metric_name: str = ""
    runs: list[int] = field(default_factory=list)

    @property
    def last_step(self) -> int:
        """The last step recorded (0 when empty)."""
        return max([s for s, _ in self.steps] + [e[0] for e in self.epochs] + [0])


class ModelRegistry:
    """Named models of this session; ``changed`` is emitted whenever one is added, replaced or removed.

    Names are unique: adding a model under a name in use appends `` (2)``, `` (3)``...
    """

    changed = Signal()

    def __init__(self) -> None:
        self._models: dict[str, UNet] = {}
        self._histories: dict[str, LossHistory] = {}
        self._counter = 0

    def add(self, net: UNet, name: str | None = None, history: LossHistory | None = None) -> str:
        """Register ``net`` and return the name it got.

        Parameters
        ----------
        net : UNet
            The model.
        name : str, optional
            Wanted name; default ``"model N (task)"``.
        history : LossHistory, optional
            Its loss curves (kept so that a reopened Train widget shows them).

        Returns
        -------
        str
            The unique name under which the model is registered.

        """
        if not isinstance(net, UNet):
            raise TypeError(f"only UNet models can be registered, got {type(net).__name__}")
        self._counter += 1
        base = name or f"model {self._counter} ({net.metadata.get('task') or 'unknown task'})"
        unique, k = base, 2
        while unique in self._models:
            unique, k = f"{base} ({k})", k + 1
        self._store(unique, net, history)
        return unique

    def replace(self, name: str, net: UNet, history: LossHistory | None = None) -> str:
        """Put ``net`` under ``name`` (a continued model keeps its name); it becomes the newest model.

        Returns
        -------
        str
            ``name`` (registered anew when it had been removed meanwhile).

        """
        if not isinstance(net, UNet):
            raise TypeError(f"only UNet models can be registered, got {type(net).__name__}")
        self._models.pop(name, None)
        self._store(name, net, history if history is not None else self._histories.get(name))
        return name

    def _store(self, name: str, net: UNet, history: LossHistory | None) -> None:
        self._models[name] = net
        if history is not None:
            self._histories[name] = history
        self.changed.emit()

    def add_file(self, path: str | Path, net: UNet) -> str:
        """Register a model loaded from ``path`` under the file's name."""
        return self.add(net, name=Path(path).name)

    def names(self) -> list[str]:
        """Names of the registered models, newest first."""
        return list(reversed(self._models))

    def latest(self) -> tuple[str, UNet] | None:
        """The newest model and its name, or None."""
        if not self._models:
            return None
        name = next(reversed(self._models))
        return name, self._models[name]

    def get(self, name: str) -> UNet:
        """The model registered as ``name`` (KeyError if there is none)."""
        return self._models[name]

    def history(self, name: str) -> LossHistory | None:
        """The loss curves recorded for ``name`` (None for models loaded from files)."""
        return self._histories.get(name)

    def remove(self, name: str) -> None:
        """Forget a model."""
        self._histories.pop(name, None)
        if self._models.pop(name, None) is not None:
            self.changed.emit()

    def clear(self) -> None:
        """Forget all models."""
        self._models.clear()
        self._histories.clear()
        self._counter = 0
        self.changed.emit()

    def __len__(self) -> int:
        return len(self._models)

    def __contains__(self, name: object) -> bool:
        return name in self._models


#: The registry shared by all widgets of this Python session.
registry = ModelRegistry()


def load_and_register(path: str | Path, error: Callable[[str, Exception], None]) -> tuple[UNet, str] | None:
    """Load a model file and add it to the registry: the net and its name, or None after ``error(action, err)``."""
    try:
        net = load_model(path)
    except (ValueError, OSError) as err:
        error("load the model", err)
        return None
    return net, registry.add_file(path, net)
