"""``napari-tiled-unet info``: what a model file holds, and its geometry."""

from __future__ import annotations

import argparse
import json

from napari_tiled_unet.builtin_models import resolve_model
from napari_tiled_unet.model_file import load_model
from napari_tiled_unet.tiling import min_useful_tile, step_for_tile, tile_context


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Register the sub-command."""
    parser = commands.add_parser("info", help="show a model's configuration, geometry and metadata")
    parser.add_argument("model", help="model file (.safetensors)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    parser.set_defaults(run=run)


def describe(path: str) -> dict:
    """Everything ``info`` prints, as a dictionary."""
    net = load_model(resolve_model(path))
    cfg = net.config
    valid = [cfg.min_input_size + k * cfg.alignment for k in range(6)]
    tile = min_useful_tile(cfg)
    return {
        "file": str(path),
        "config": cfg.to_dict(),
        "parameters": sum(p.numel() for p in net.parameters()),
        "geometry": {
            "margin": cfg.margin,
            "tile_context": tile_context(cfg),
            "alignment": cfg.alignment,
            "min_input_size": cfg.min_input_size,
            "valid_input_sizes": valid,
            "output_sizes": [cfg.output_size(v) for v in valid],
            "smallest_useful_tile": tile,
            "step_of_smallest_useful_tile": step_for_tile(cfg, tile),
        },
        "metadata": net.metadata,
    }


def run(args: argparse.Namespace) -> int:
    """Print the description."""
    info = describe(args.model)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    cfg, geo, meta = info["config"], info["geometry"], info["metadata"]
    print(f"model: {info['file']}")
    print("architecture: " + ", ".join(f"{k}={v}" for k, v in cfg.items()) + f" ({info['parameters']:,} parameters)")
    print(f"margin: {geo['margin']} px per side; tiles read {geo['tile_context']} px of context per side")
    print(f"valid input sizes: {geo['min_input_size']} + k*{geo['alignment']} -> e.g. "
          + ", ".join(f"{i}->{o}" for i, o in zip(geo["valid_input_sizes"], geo["output_sizes"])))
    print(f"task: {meta.get('task') or 'none (untrained)'}; classes: {meta.get('class_names') or cfg['n_classes']}")
    if meta.get("label_values"):
        print(f"label values per class: {meta['label_values']}")
    print(f"normalization: {meta.get('normalization') or 'none (raw intensities)'}")
    training = dict(meta.get("training") or {})
    settings = training.pop("config", None)
    if training:
        print("training: " + ", ".join(f"{k}={v}" for k, v in training.items()))
    if settings:
        keys = ("task", "sparse", "patch_size", "batch_size", "learning_rate", "epochs", "time_limit", "val_fraction",
                "loss", "seed")
        print("training settings: " + ", ".join(f"{k}={settings[k]}" for k in keys if k in settings))
    return 0
