"""The training configuration of ``napari-tiled-unet train``: defaults, ``--config FILE`` and the flags on top.

The defaults come from :meth:`TrainingConfig.defaults` (the one source of 2D and 3D defaults). ``--config``
reads a TrainingConfig as JSON, the dictionary a model file keeps under ``metadata["training"]["config"]``,
or that dictionary straight from a model file, so that a model's training can be repeated exactly; every
flag given on the command line overrides the file's value.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

from napari_tiled_unet.atomic import atomic_write_bytes
from napari_tiled_unet.builtin_models import is_builtin_spec, resolve_model
from napari_tiled_unet.errors import ModelFileError
from napari_tiled_unet.model_file import MODEL_SUFFIX, read_model_metadata
from napari_tiled_unet.training.config import TrainingConfig

#: Flags that set a TrainingConfig field directly (flag destination -> field name).
CONFIG_FLAGS = {"task": "task", "sparse": "sparse", "epochs": "epochs", "time_limit": "time_limit",
                "steps_per_epoch": "steps_per_epoch", "patch_size": "patch_size", "batch_size": "batch_size",
                "lr": "learning_rate", "fine_tune_lr": "fine_tune_learning_rate", "val_fraction": "val_fraction",
                "seed": "seed", "device": "device",
                "sparse_objects": "sparse_objects", "sparse_background": "sparse_background",
                "instance_head": "instance_head",
                "class_names": "class_names", "anisotropy": "anisotropy"}
#: Flags that set a UNetConfig field (flag destination -> field name).
UNET_FLAGS = {"depth": "depth", "wf": "wf", "padding": "padding", "up_mode": "up_mode", "batch_norm": "batch_norm",
              "dropout": "dropout", "pooling": "pooling"}


def _looks_like_model_file(path: Path) -> bool:
    """A .safetensors/.zip name, or (for other names) a first byte that cannot start a JSON object."""
    suffix = path.suffix.lower()
    if suffix in (MODEL_SUFFIX, ".zip"):
        return True
    if suffix == ".json":
        return False
    with open(path, "rb") as handle:
        head = handle.read(1)
    return bool(head) and head not in b"{ \t\r\n"


def load_training_config(source: str | Path) -> TrainingConfig:
    """The TrainingConfig in a JSON file, or the one a model file (or ``builtin:NAME``) was trained with.

    Raises
    ------
    ValueError
        If the file is missing, not JSON, not a configuration (an unknown key is named), or a model file
        without a training configuration.

    """
    path = resolve_model(source) if is_builtin_spec(source) else Path(source)
    if not path.is_file():
        raise ValueError(f"--config {path} does not exist: give a JSON file or a model file")
    if _looks_like_model_file(path):
        try:
            data = (read_model_metadata(path).get("training") or {}).get("config")
        except ModelFileError as err:
            raise ValueError(f"--config: {err}") from None
        if not isinstance(data, dict):
            raise ValueError(f"--config {path} is a model file without a training configuration (it was not "
                             "trained by napari-tiled-unet): give a JSON configuration instead")
    else:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            raise ValueError(f"--config {path} is not a text file: give a JSON configuration or a model file") from None
        except json.JSONDecodeError as err:
            raise ValueError(f"--config {path} is not valid JSON (line {err.lineno}, column {err.colno}: "
                             f"{err.msg}): fix the file") from None
        if not isinstance(data, dict):
            raise ValueError(f"--config {path} holds a JSON {type(data).__name__}, not an object of training "
                             "settings: give an object like {\"task\": \"instances\", \"patch_size\": 220}")
    try:
        return TrainingConfig.from_dict(data)
    except (ValueError, TypeError) as err:
        raise ValueError(f"--config {path}: {err}") from None


def config_from_args(args: argparse.Namespace) -> TrainingConfig:
    """The training configuration the arguments describe: defaults or ``--config``, then the flags (validated)."""
    base = load_training_config(args.config) if getattr(args, "config", None) else None
    dims = args.dims or (base.unet.dims if base is not None else 2)
    if base is None:
        base = TrainingConfig.defaults(dims)
    unet_changes = {field: getattr(args, flag) for flag, field in UNET_FLAGS.items() if getattr(args, flag) is not None}
    if args.dims is not None:
        unet_changes["dims"] = args.dims
    changes: dict[str, Any] = {field: getattr(args, flag) for flag, field in CONFIG_FLAGS.items()
                               if getattr(args, flag) is not None}
    if args.epochs is not None and args.time_limit is None:
        changes["time_limit"] = None  # --epochs alone: train for that many epochs, not until a time limit
    if unet_changes:
        changes["unet"] = dataclasses.replace(base.unet, **unet_changes)
    if args.augmentation is not None:
        on = bool(args.augmentation)
        changes["augmentation"] = dataclasses.replace(base.augmentation, flips=on, elastic=on, intensity=on)
    return base.replace(**changes) if changes else base


def save_training_config(config: TrainingConfig, path: str | Path) -> Path:
    """Write ``config`` as JSON (what ``--config`` reads), atomically."""
    path = Path(path)
    atomic_write_bytes(path, (json.dumps(config.to_dict(), indent=2) + "\n").encode("utf-8"))
    return path
