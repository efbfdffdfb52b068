"""Layer pickers shared by the widgets: the layers of one kind, kept up to date as layers come, go and are renamed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def layer_choices(viewer: Any, kind: str) -> Callable[[Any], list[tuple[str, Any]]]:
    """A magicgui ``choices`` callable listing the viewer's layers of one kind, top layer first.

    Parameters
    ----------
    viewer : napari.Viewer
        The viewer.
    kind : {"image", "labels"}
        The layer type.

    Returns
    -------
    callable
        ``choices(widget)`` returning ``(name, layer)`` pairs.

    """
    from napari.layers import Image, Labels

    layer_type = Image if kind == "image" else Labels

    def choices(_widget: Any = None) -> list[tuple[str, Any]]:
        return [(layer.name, layer) for layer in reversed(viewer.layers) if isinstance(layer, layer_type)]

    return choices


def connect_layer_events(viewer: Any, callback: Callable[..., Any]) -> None:
    """Call ``callback(event)`` whenever layers are added, removed, moved or renamed.

    ``callback`` should be a bound method (napari keeps weak references to those); renames of layers added
    later are followed by :func:`follow_renames`, which the callback calls with its event.
    """
    for name in ("inserted", "removed", "moved", "reordered"):
        emitter = getattr(viewer.layers.events, name, None)
        if emitter is not None:
            emitter.connect(callback)
    for layer in viewer.layers:
        layer.events.name.connect(callback)


def disconnect_layer_events(viewer: Any, callback: Callable[..., Any]) -> None:
    """Undo :func:`connect_layer_events` (a closed widget must not hear from the layers any more)."""
    for name in ("inserted", "removed", "moved", "reordered"):
        emitter = getattr(viewer.layers.events, name, None)
        if emitter is not None:
            emitter.disconnect(callback)
    for layer in viewer.layers:
        layer.events.name.disconnect(callback)


def follow_renames(event: Any, callback: Callable[..., Any]) -> None:
    """On a layer-inserted event, call ``callback`` when the new layer is renamed."""
    layer = getattr(event, "value", None)
    if getattr(event, "type", None) == "inserted" and hasattr(layer, "events"):
        layer.events.name.connect(callback)
