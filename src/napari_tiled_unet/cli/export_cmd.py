"""``napari-tiled-unet export``: share a model in the bioimage.io format (arrives with its own issue)."""

from __future__ import annotations

import argparse


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Register the sub-command."""
    parser = commands.add_parser("export", help="export a model to the bioimage.io format (not available yet)")
    parser.add_argument("model", help="model file (.safetensors)")
    parser.add_argument("--format", default="bioimageio", choices=["bioimageio"])
    parser.add_argument("--out", required=False, help="output .zip")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Not available yet: say so and exit 2."""
    raise NotImplementedError(
        "export is not available in this version yet: share the .safetensors model file itself for now"
    )
