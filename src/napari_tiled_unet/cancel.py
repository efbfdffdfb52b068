"""Progress callbacks and cancel tokens shared by prediction and training."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

ProgressCallback = Callable[[int, int], Any]


class CancelToken(Protocol):
    """Anything with ``is_set()``, such as :class:`threading.Event`."""

    def is_set(self) -> bool:  # pragma: no cover - protocol
        """True once cancellation was requested."""


CancelLike = CancelToken | Callable[[], bool] | None


def is_cancelled(cancel: CancelLike) -> bool:
    """True if ``cancel`` (an Event-like object or a callable) asks to stop."""
    if cancel is None:
        return False
    if hasattr(cancel, "is_set"):
        return bool(cancel.is_set())
    return bool(cancel())
