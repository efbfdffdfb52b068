"""Models of this napari session, shared by the Train and Predict widgets."""

from __future__ import annotations

from pathlib import Path

from psygnal import Signal

from napari_tiled_unet.model import UNet
from napari_tiled_unet.model_meta import class_names, label_values


def describe_model(net: UNet) -> str:
    """One line per fact about a model: task, classes, dimensions, margin, input channels, training.

    Parameters
    ----------
    net : UNet
        A trained or loaded model.

    Returns
    -------
    str
        A short multi-line description for a widget label.

    """
    config, meta = net.config, net.metadata
    names, values = class_names(net), label_values(net)
    classes = ", ".join(f"{v}={n}" for v, n in zip(values, names))
    lines = [
        f"task: {meta.get('task') or 'unknown'}{' (scribbles)' if meta.get('sparse') else ''}",
        f"classes: {classes}",
        f"{config.dims}D, depth {config.depth}, {2 ** config.wf} filters, {config.padding} padding, "
        f"margin {config.margin} px",
        f"input channels: {config.in_channels}",
    ]
    training = meta.get("training") or {}
    if training:
        metrics = ", ".join(f"{k} {v:.3f}" for k, v in (training.get("best_metrics") or {}).items())
        lines.append(f"trained {training.get('steps', '?')} steps, {training.get('seconds', '?')} s"
                     + (f"; {metrics}" if metrics else ""))
    return "\n".join(lines)


class ModelRegistry:
    """Named models of this session; ``changed`` is emitted whenever one is added or removed.

    Names are unique: adding a model under a name in use appends `` (2)``, `` (3)``...
    """

    changed = Signal()

    def __init__(self) -> None:
        self._models: dict[str, UNet] = {}
        self._counter = 0

    def add(self, net: UNet, name: str | None = None) -> str:
        """Register ``net`` and return the name it got.

        Parameters
        ----------
        net : UNet
            The model.
        name : str, optional
            Wanted name; default ``"model N (task)"``.

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
        self._models[unique] = net
        self.changed.emit()
        return unique

    def add_file(self, path: str | Path, net: UNet) -> str:
        """Register a model loaded from ``path`` under the file's name."""
        return self.add(net, name=Path(path).name)

    def names(self) -> list[str]:
        """Names of the registered models, newest first."""
        return list(reversed(self._models))

    def get(self, name: str) -> UNet:
        """The model registered as ``name`` (KeyError if there is none)."""
        return self._models[name]

    def remove(self, name: str) -> None:
        """Forget a model."""
        if self._models.pop(name, None) is not None:
            self.changed.emit()

    def clear(self) -> None:
        """Forget all models."""
        self._models.clear()
        self._counter = 0
        self.changed.emit()

    def __len__(self) -> int:
        return len(self._models)

    def __contains__(self, name: object) -> bool:
        return name in self._models


#: The registry shared by all widgets of this Python session.
registry = ModelRegistry()
