"""A terminal progress bar for long jobs (on stderr, so stdout stays clean for scripts)."""

from __future__ import annotations

import sys

from tqdm import tqdm


class ProgressBar:
    """A ``progress(done, total)`` callback that draws a tqdm bar.

    Parameters
    ----------
    description : str
        Text before the bar.
    unit : str
        What is counted.

    """

    def __init__(self, description: str, unit: str = "tile") -> None:
        self._bar = tqdm(desc=description, unit=unit, file=sys.stderr, leave=True, dynamic_ncols=True)

    def __call__(self, done: int, total: int) -> None:
        """Move the bar to ``done`` of ``total``."""
        if self._bar.total != total:
            self._bar.total = total
        self._bar.update(done - self._bar.n)

    def set_postfix(self, **values: object) -> None:
        """Show values (loss, metrics) after the bar."""
        self._bar.set_postfix(values, refresh=True)

    def write(self, line: str) -> None:
        """Print a line above the bar."""
        self._bar.write(line, file=sys.stderr)

    def close(self) -> None:
        """Finish the bar."""
        self._bar.close()

