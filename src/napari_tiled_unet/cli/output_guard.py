"""Nothing lost: outputs that would replace an input, or an earlier result nobody named, are refused.

Paths are compared as files, not as strings: relative paths, symbolic links and hard links to an input are
all recognised (``os.path.samefile`` where both exist).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path


def same_file(first: str | Path, second: str | Path) -> bool:
    """True when both paths name the same file (through links, relative paths, case-insensitive file systems)."""
    try:
        return os.path.samefile(first, second)
    except OSError:  # one of them does not exist (yet): compare where they point
        return Path(first).resolve() == Path(second).resolve()


def refuse_inputs_as_outputs(outputs: Iterable[tuple[str | Path, str]], inputs: Iterable[tuple[str | Path, str]],
                             option: str = "--out") -> None:
    """Raise ValueError if an output is one of the inputs.

    Parameters
    ----------
    outputs : iterable of (path, what it is)
        Each output and the words that name it in the message (``'--out out.tif'``,
        ``'the result of a.tif (out/a_labels.tif)'``).
    inputs : iterable of (path, what it is)
        Each input file and its role (``'input image'``, ``'labels'``, ``'initial model'``...).
    option : str
        What to change, named in the message (``'--out'``, ``'--out folder'``).

    """
    inputs = [(Path(p), role) for p, role in inputs]
    for output, named in outputs:
        output = Path(output)
        for path, role in inputs:
            if same_file(output, path):
                alias = "" if output.absolute() == path.absolute() else " (the same file under another name)"
                raise ValueError(f"{named} is the {role} {path}{alias}: writing there would replace it; "
                                 f"choose another {option}")


def refuse_existing_results(paths: Sequence[Path], folder: Path, overwrite: bool) -> None:
    """Raise ValueError naming the first result file that exists already, unless ``overwrite`` is set."""
    if overwrite:
        return
    existing = [p for p in paths if p.exists() or p.is_symlink()]
    if existing:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise ValueError(f"result {existing[0]} exists already{more}: pass --overwrite to replace results in "
                         f"{folder}, or choose another --out folder")
