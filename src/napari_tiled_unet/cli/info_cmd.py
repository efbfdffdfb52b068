"""``napari-tiled-unet info``: what a model file holds, and its geometry."""

from __future__ import annotations

import argparse
import json

from napari_tiled_unet.builtin_models import BUILTIN_PREFIX, builtin_models, is_builtin_spec, resolve_model
from napari_tiled_unet.config import UNetConfig
from napari_tiled_unet.instance_output import LINKED_PLANES_KEY
from napari_tiled_unet.model_file import load_model
from napari_tiled_unet.model_meta import classes_in_words
from napari_tiled_unet.object_scale import largest_radius_of
from napari_tiled_unet.per_axis import axis_names
from napari_tiled_unet.postprocess import InstanceSettings
from napari_tiled_unet.tiling import min_useful_tile, step_for_tile, tile_context
from napari_tiled_unet.uneven_background import background_limit_of


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Register the sub-command."""
    parser = commands.add_parser("info", help="show a model's configuration, geometry and metadata")
    parser.add_argument("model", help="model file (.safetensors)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    parser.set_defaults(run=run)


def _axis_geometry(cfg: UNetConfig, axis: int) -> dict:
    """The geometry of one spatial axis: pooling, kernels, margin, context, valid sizes and tiles."""
    valid = [cfg.min_input_sizes[axis] + k * cfg.alignments[axis] for k in range(6)]
    tile = min_useful_tile(cfg, axis)
    return {
        "axis": axis_names(cfg.dims)[axis],
        "pooling": list(cfg.axis_pooling(axis)),
        "kernels": list(cfg.axis_kernels(axis)),
        "margin": cfg.margins[axis],
        "tile_context": tile_context(cfg, axis),
        "alignment": cfg.alignments[axis],
        "min_input_size": cfg.min_input_sizes[axis],
        "valid_input_sizes": valid,
        "output_sizes": [cfg.output_size(v, axis) for v in valid],
        "smallest_useful_tile": tile,
        "step_of_smallest_useful_tile": step_for_tile(cfg, tile, axis),
    }


def describe(path: str) -> dict:
    """Everything ``info`` prints, as a dictionary.

    ``geometry`` has one entry per spatial axis under ``axes``; an isotropic net (the same geometry on every
    axis) also has that geometry's values at the top level (``margin``, ``valid_input_sizes``...).
    """
    net = load_model(resolve_model(path))
    cfg = net.config
    axes = [_axis_geometry(cfg, a) for a in range(cfg.dims)]
    common = {k: v for k, v in axes[0].items() if k not in ("axis", "pooling", "kernels")} if cfg.isotropic else {}
    return {
        "file": str(path),
        "config": cfg.to_dict(),
        "parameters": sum(p.numel() for p in net.parameters()),
        "geometry": {**common, "isotropic": cfg.isotropic, "axes": axes},
        "metadata": net.metadata,
        "classes_in_words": classes_in_words(net),
        "card": _card(path),
    }


def _card(path: str) -> str:
    """The model card of a built-in model (its sidecar), else the model's own description."""
    if is_builtin_spec(path):
        name = str(path)[len(BUILTIN_PREFIX):].strip()
        for model in builtin_models():
            if model.name == name:
                return model.card
    return ""


def _joined(axes: list[dict], key: str, unit: str = "") -> str:
    return ", ".join(f"{a[key]}{unit}" for a in axes)


def run(args: argparse.Namespace) -> int:
    """Print the description."""
    info = describe(args.model)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    cfg, geo, meta = info["config"], info["geometry"], info["metadata"]
    print(f"model: {info['file']}")
    print("architecture: " + ", ".join(f"{k}={v}" for k, v in cfg.items()) + f" ({info['parameters']:,} parameters)")
    if geo["isotropic"]:
        print(f"margin: {geo['margin']} px per side; tiles read {geo['tile_context']} px of context per side")
        print(f"valid input sizes: {geo['min_input_size']} + k*{geo['alignment']} -> e.g. "
              + ", ".join(f"{i}->{o}" for i, o in zip(geo["valid_input_sizes"], geo["output_sizes"])))
    else:
        axes = geo["axes"]
        names = ", ".join(a["axis"] for a in axes)
        print(f"anisotropic geometry per axis ({names}): pooling per step "
              + " ".join("x".join(str(a["pooling"][s]) for a in axes) for s in range(len(axes[0]["pooling"])))
              + "; kernels per level "
              + " ".join("x".join(str(a["kernels"][lv]) for a in axes) for lv in range(len(axes[0]["kernels"]))))
        print(f"margin ({names}): {_joined(axes, 'margin', ' px')} per side; tiles read "
              f"{_joined(axes, 'tile_context', ' px')} of context per side")
        for a in axes:
            print(f"valid input sizes along {a['axis']}: {a['min_input_size']} + k*{a['alignment']} -> e.g. "
                  + ", ".join(f"{i}->{o}" for i, o in zip(a["valid_input_sizes"], a["output_sizes"])))
    print(f"task: {meta.get('task') or 'none (untrained)'}; predicts {info['classes_in_words']}")
    if meta.get("task") != "instances" and meta.get("label_values"):
        print(f"label values per class: {meta['label_values']}")
    if meta.get("postprocess"):
        settings = InstanceSettings.from_dict(meta["postprocess"]).to_dict()
        print("objects: " + ", ".join(f"{k}={v}" for k, v in settings.items())
              + " (thresholds and size tuned after training; override with --seed-threshold/--foreground-threshold/"
              "--min-size/--split-depth)")
    if meta.get(LINKED_PLANES_KEY):
        linked = InstanceSettings.from_dict(meta[LINKED_PLANES_KEY]).to_dict()
        print("objects of Z planes linked into 3D objects: " + ", ".join(f"{k}={v}" for k, v in linked.items())
              + " (tuned for seeds that are never cut; the flags above change these there)")
    if (meta.get("prediction") or {}).get("tta") is True:
        print("test-time augmentation: recommended by the model, on by default for a single 2D image (--no-tta "
              "turns it off)")
    if (best := largest_radius_of(meta)) is not None:
        print(f"object size: segments objects up to a median radius of about {best:g} px best; larger ones are "
              "predicted on a shrunk image by default (instances of a 2D image or a stack of them; --rescale off "
              "turns it off)")
    if (limit := background_limit_of(meta)) is not None:
        print(f"background: flattened first where it varies by more than {limit:.0%} of the image's range, more "
              "than the model was trained on (--flatten off keeps it)")
    for key in ("channels", "voxel_size"):
        if meta.get(key):
            print(f"{key.replace('_', ' ')}: {meta[key]}")
    print(f"normalization: {meta.get('normalization') or 'none (raw intensities)'}")
    training = dict(meta.get("training") or {})
    settings = training.pop("config", None)
    if training:
        print("training: " + ", ".join(f"{k}={v}" for k, v in training.items()))
    if settings:
        keys = ("task", "sparse", "patch_size", "batch_size", "learning_rate", "epochs", "time_limit", "val_fraction",
                "loss", "seed")
        print("training settings: " + ", ".join(f"{k}={settings[k]}" for k in keys if k in settings))
    card = info["card"] or str(meta.get("description") or "").strip()
    if card:
        print("\nmodel card:\n" + card)
    return 0
