"""``napari-tiled-unet models``: the models shipped with the package, one line each, or one model's card."""

from __future__ import annotations

import argparse

from napari_tiled_unet._version import __version__
from napari_tiled_unet.builtin_models import BUILTIN_PREFIX, builtin_models, resolve_model


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Register the sub-command."""
    parser = commands.add_parser(
        "models",
        help="list the built-in models (use them as builtin:NAME)",
        description="List the models shipped with napari-tiled-unet, with a one-line card each; give a NAME to "
        "print its whole model card. Use one wherever a model file is accepted: "
        "'napari-tiled-unet predict builtin:NAME image.tif --out labels.tif'.",
    )
    parser.add_argument("name", nargs="?", default=None, help="print the full card of this model")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the list, or one card."""
    if args.name is not None:
        spec = args.name if args.name.startswith(BUILTIN_PREFIX) else BUILTIN_PREFIX + args.name
        path = resolve_model(spec)
        (model,) = [m for m in builtin_models() if m.path == path]
        print(f"{model.spec} ({model.path})\n{model.summary}\n")
        print(model.card or "This model has no model card.")
        return 0
    models = builtin_models()
    if not models:
        print(f"napari-tiled-unet {__version__} ships no built-in models: train your own with "
              "'napari-tiled-unet train' and give its .safetensors file instead")
        return 0
    width = max(len(m.spec) for m in models)
    for model in models:
        print(f"{model.spec:<{width}}  {model.summary}")
    return 0
