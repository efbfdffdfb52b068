"""``napari-tiled-unet train`` (placeholder until the training engine lands)."""

from __future__ import annotations

import argparse


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Register the sub-command."""
    parser = commands.add_parser("train", help="train a U-Net from images and labels (not available yet)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Not available yet: say so and exit 2."""
    raise NotImplementedError("train is not available in this version yet")
