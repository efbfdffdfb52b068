"""``napari-tiled-unet export``: share a trained model as a bioimage.io model package (format 0.5)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from napari_tiled_unet.bioimageio.export import DEFAULT_LICENSE, export_bioimageio
from napari_tiled_unet.builtin_models import resolve_model
from napari_tiled_unet.cli.output_guard import refuse_inputs_as_outputs


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Register the sub-command."""
    parser = commands.add_parser(
        "export",
        help="export a trained model as a bioimage.io model package (.zip)",
        description="Write a trained model as a bioimage.io model package (format 0.5): pytorch_state_dict and "
        "TorchScript weights, the valid-padding geometry, preprocessing, test tensors made by the exact tiled "
        "engine, a cover image and documentation. Check it with 'bioimageio test model.zip' (pip install "
        "'napari-tiled-unet[bioimageio]'); napari-tiled-unet opens the package again like a model file.",
    )
    parser.add_argument("model", help="trained model file (.safetensors, a package exported before, or builtin:NAME)")
    parser.add_argument("--format", default="bioimageio", choices=["bioimageio"], help="package format")
    parser.add_argument("--out", required=True, help="output .zip")
    parser.add_argument("--name", default=None, help="model name (5-128 letters, digits, spaces, _-+())")
    parser.add_argument("--description", default=None, help="one-paragraph description (default: generated)")
    parser.add_argument("--authors", default=None,
                        help="authors separated by ';', each optionally with a GitHub user: "
                        "'Jane Doe (@janedoe); John Roe'")
    parser.add_argument("--license", default=DEFAULT_LICENSE,
                        help=f"SPDX license identifier of the weights (default: {DEFAULT_LICENSE})")
    parser.add_argument("--tags", default="", help="extra tags separated by ','")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Export the model and say where it went."""
    authors = None if args.authors is None else [a for a in args.authors.split(";") if a.strip()]
    if authors is not None and not authors:
        raise ValueError("--authors is empty: give names separated by ';', e.g. 'Jane Doe; John Roe'")
    tags = [t.strip() for t in args.tags.split(",") if t.strip()]
    model = resolve_model(args.model)
    refuse_inputs_as_outputs([(args.out, f"--out {args.out}")], [(model, "model")])
    out = export_bioimageio(model, Path(args.out), name=args.name, description=args.description,
                            authors=authors, license=args.license, tags=tags)
    size = out.stat().st_size / 1024**2
    print(f"wrote {out} (bioimage.io model package, {size:.1f} MiB)", file=sys.stderr)
    if authors is None:
        print("hint: pass --authors 'Your Name (@github_user)' to credit yourself before sharing", file=sys.stderr)
    return 0
