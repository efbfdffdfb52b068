"""Models shipped inside the package, named ``builtin:NAME`` wherever a model file is accepted.

A built-in model is a file ``<package>/models/NAME.safetensors`` (an ordinary model file) with a model card:
the sidecar ``NAME.md`` (how it was trained, on what, what it scores) and/or the model's own metadata
``description``. :func:`resolve_model` turns ``"builtin:NAME"`` into that file's path and leaves any other
path alone, so the command line, the Python API and the napari widgets accept both the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from napari_tiled_unet.errors import ModelFileError
from napari_tiled_unet.model_file import MODEL_SUFFIX, read_model_metadata

BUILTIN_PREFIX = "builtin:"
_PACKAGE = "napari_tiled_unet"
_FOLDER = "models"


def models_folder() -> Path:
    """The folder of the shipped model files (it may not exist when no model is shipped)."""
    return Path(str(resources.files(_PACKAGE).joinpath(_FOLDER)))


@dataclass(frozen=True)
class BuiltinModel:
    """A model shipped with the package.

    Parameters
    ----------
    name : str
        What follows ``builtin:``.
    path : Path
        The model file.
    card : str
        The model card: the sidecar ``NAME.md`` if there is one, else the model's ``description`` metadata.
    summary : str
        One line: dimensions, task, classes and the card's first sentence.

    """

    name: str
    path: Path
    card: str
    summary: str

    @property
    def spec(self) -> str:
        """The name to give on the command line (``'builtin:NAME'``)."""
        return f"{BUILTIN_PREFIX}{self.name}"


def builtin_models() -> list[BuiltinModel]:
    """The shipped models, sorted by name (an empty list when none is shipped)."""
    folder = models_folder()
    if not folder.is_dir():
        return []
    return [_describe(path) for path in sorted(folder.glob(f"*{MODEL_SUFFIX}"))]


def builtin_model_names() -> list[str]:
    """The names of the shipped models (what follows ``builtin:``)."""
    folder = models_folder()
    return sorted(p.stem for p in folder.glob(f"*{MODEL_SUFFIX}")) if folder.is_dir() else []


def is_builtin_spec(spec: str | Path) -> bool:
    """True for a ``builtin:NAME`` model name."""
    return isinstance(spec, str) and spec.startswith(BUILTIN_PREFIX)


def resolve_model(spec: str | Path) -> Path:
    """The model file a model argument names: ``builtin:NAME`` (a shipped model) or a path, returned as is.

    Raises
    ------
    ModelFileError
        For an unknown built-in name; the message lists the names there are.

    """
    if not is_builtin_spec(spec):
        return Path(spec)
    name = str(spec)[len(BUILTIN_PREFIX):].strip()
    names = builtin_model_names()
    if name not in names:
        available = (f"available are {', '.join(BUILTIN_PREFIX + n for n in names)}" if names else
                     "this installation ships no built-in models")
        raise ModelFileError(f"unknown built-in model {spec!r}: {available} (see 'napari-tiled-unet models'), "
                             "or give the path of a model file")
    return models_folder() / f"{name}{MODEL_SUFFIX}"


def _describe(path: Path) -> BuiltinModel:
    sidecar = path.with_suffix(".md")
    card = sidecar.read_text(encoding="utf-8").strip() if sidecar.is_file() else ""
    try:
        meta = read_model_metadata(path)
    except ModelFileError as err:
        return BuiltinModel(path.stem, path, card, f"unreadable model file ({err})")
    card = card or str(meta.get("description") or "").strip()
    config = meta["config"]
    classes = meta.get("class_names") or []
    parts = [f"{config.get('dims', 2)}D", meta.get("task") or "untrained", f"{config.get('in_channels', 1)} channel(s)"]
    if classes:
        parts.append("classes " + "/".join(str(c) for c in classes))
    first = _first_sentence(card)
    return BuiltinModel(path.stem, path, card, ", ".join(parts) + (f"; {first}" if first else "; no model card"))


def _first_sentence(card: str) -> str:
    """The first sentence of a card's first paragraph that is not a heading."""
    for line in card.splitlines():
        text = line.strip()
        if text and not text.startswith("#"):
            end = text.find(". ")
            return text if end < 0 else text[: end + 1]
    return ""
