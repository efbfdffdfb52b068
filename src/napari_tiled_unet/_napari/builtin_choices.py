"""The models shipped with the package (``builtin:NAME``) as the widgets offer them: to predict, or to start from."""

from __future__ import annotations

import logging
from typing import Any

from napari_tiled_unet.builtin_models import BuiltinModel, builtin_models, is_builtin_spec, resolve_model
from napari_tiled_unet.errors import ModelFileError
from napari_tiled_unet.model import UNet
from napari_tiled_unet.model_file import load_model, read_model_metadata

logger = logging.getLogger(__name__)

_loaded: dict[str, UNet] = {}


def shipped() -> list[BuiltinModel]:
    """The built-in models (none when the installation ships none, or their folder cannot be read)."""
    try:
        return builtin_models()
    except OSError as err:  # a broken installation: the widgets work without built-in models
        logger.warning("could not list the built-in models: %s", err)
        return []


def is_builtin(name: Any) -> bool:
    """True for a ``builtin:NAME`` entry of a model list."""
    return isinstance(name, str) and is_builtin_spec(name)


def load_builtin(spec: str) -> UNet:
    """The built-in model ``spec`` (loaded once per session; ModelFileError for an unknown name)."""
    if spec not in _loaded:
        _loaded[spec] = load_model(resolve_model(spec))
    return _loaded[spec]


def _fits(model: BuiltinModel, dims: int, in_channels: int, task: str) -> bool:
    try:
        meta = read_model_metadata(model.path)
    except ModelFileError:
        return False
    config = meta.get("config") or {}
    return (meta.get("task") == task and int(config.get("dims", 2)) == dims
            and int(config.get("in_channels", 1)) == in_channels)


def builtin_for(task: str, dims: int, in_channels: int) -> BuiltinModel | None:
    """A shipped model trained for the same task on the same kind of input (e.g. 2D one-channel nuclei), or None."""
    return next((m for m in shipped() if _fits(m, dims, in_channels, task)), None)


def forget_loaded() -> None:
    """Forget the loaded built-in models (tests that change the models folder)."""
    _loaded.clear()
