"""Which result layers the plugin wrote, and whether the user has edited them since (then they are never overwritten).

A result layer counts as edited when napari reports an edit (a Labels layer's ``paint`` event: painting, filling,
erasing, polygons, ``data_setitem``; any layer's ``data`` event: its data was replaced) that the plugin did not
make, or when its data no longer has the fingerprint it had when the plugin last wrote it (writes into the array
that bypass napari's events, undo and redo). Layers the plugin did not write (for instance a layer of the same
name loaded from a file) count as the user's. The records are kept for the whole session, so that a Predict
widget opened again knows the layers of the one before.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def fingerprint(data: Any) -> bytes | None:
    """A hash of an in-memory array's values and shape (None for lazy data, which cannot be painted)."""
    if not isinstance(data, np.ndarray):
        return None
    digest = hashlib.blake2b(digest_size=16)
    digest.update(repr((data.shape, data.dtype.str)).encode())
    digest.update(memoryview(np.ascontiguousarray(data)).cast("B"))
    return digest.digest()


@dataclass
class _Record:
    """What the plugin knows about one layer it wrote."""

    fingerprint: bytes | None = None
    edited: bool = False


@dataclass
class ResultSet:
    """The layers of one prediction of one source layer (one layer, or one per class for probabilities)."""

    source: weakref.ref
    output: str
    layers: list[weakref.ref] = field(default_factory=list)

    def alive(self) -> list[Any]:
        """The layers that still exist."""
        return [layer for layer in (ref() for ref in self.layers) if layer is not None]


class ResultTracker:
    """Records the layers the plugin writes and tells whether a later prediction may update them in place."""

    def __init__(self) -> None:
        self._records: weakref.WeakKeyDictionary[Any, _Record] = weakref.WeakKeyDictionary()
        self._sets: list[ResultSet] = []
        self._writing = 0

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Edits made inside this block are the plugin's own (not the user's)."""
        self._writing += 1
        try:
            yield
        finally:
            self._writing -= 1

    def _on_edit(self, event: Any) -> None:
        if self._writing:
            return
        record = self._records.get(getattr(event, "source", None))
        if record is not None:
            record.edited = True

    def mark_written(self, layer: Any) -> None:
        """The plugin has just written ``layer``: unedited from now on."""
        record = self._records.get(layer)
        if record is None:
            record = self._records[layer] = _Record()
            for name in ("paint", "data"):
                emitter = getattr(layer.events, name, None)
                if emitter is not None:
                    emitter.connect(self._on_edit)
        record.edited = False
        record.fingerprint = fingerprint(layer.data)

    def is_ours(self, layer: Any) -> bool:
        """True if the plugin wrote ``layer``."""
        return layer in self._records

    def is_edited(self, layer: Any) -> bool:
        """True if the user changed ``layer`` since the plugin wrote it (or the plugin never wrote it)."""
        record = self._records.get(layer)
        if record is None:
            return True
        if record.edited:
            return True
        if record.fingerprint is not None and fingerprint(layer.data) != record.fingerprint:
            record.edited = True
        return record.edited

    def remember(self, source: Any, output: str, layers: Sequence[Any]) -> None:
        """Remember ``layers`` as the latest result of ``output`` predicted from ``source``."""
        self._sets = [s for s in self._sets if s.source() is not None and s.alive()]
        self._sets = [s for s in self._sets if not (s.source() is source and s.output == output)]
        self._sets.append(ResultSet(weakref.ref(source), output, [weakref.ref(layer) for layer in layers]))

    def latest(self, viewer: Any, source: Any, output: str) -> tuple[list[Any], list[Any]]:
        """The latest result of ``source`` and ``output``: its layers and those the user has edited.

        The layers are in their order, with None where one is gone from ``viewer``.
        """
        for result in reversed(self._sets):
            if result.source() is source and result.output == output:
                layers = [ref() for ref in result.layers]
                layers = [layer if layer is not None and layer in viewer.layers else None for layer in layers]
                return layers, [layer for layer in layers if layer is not None and self.is_edited(layer)]
        return [], []


#: The tracker shared by all Predict widgets of this Python session.
tracker = ResultTracker()


def free_name(viewer: Any, name: str) -> str:
    """``name``, or ``name (2)``, ``name (3)``... whichever no layer of ``viewer`` has."""
    candidate, k = name, 2
    while candidate in viewer.layers:
        candidate, k = f"{name} ({k})", k + 1
    return candidate
