"""Options of ``predict`` beyond tiling: instance post-processing, linking of stack planes, test-time augmentation."""

from __future__ import annotations

import argparse
from typing import Any

from napari_tiled_unet.instance_output import instance_settings_of, is_instance_model
from napari_tiled_unet.model import UNet
from napari_tiled_unet.stitching import DEFAULT_STITCH_THRESHOLD


def add_instance_options(parser: argparse.ArgumentParser) -> None:
    """Register ``--seed-threshold``, ``--foreground-threshold``, ``--min-size`` and ``--stitch-threshold``."""
    group = parser.add_argument_group("instances (--output instances)")
    group.add_argument("--seed-threshold", type=float, default=None, metavar="P",
                       help="seeds where the centre distance is above P (default: the value tuned after training, "
                       "see 'napari-tiled-unet info MODEL')")
    group.add_argument("--foreground-threshold", type=float, default=None, metavar="P",
                       help="objects grow where 1 - p(background) is above P (default: the tuned value)")
    group.add_argument("--min-size", type=int, default=None, metavar="N",
                       help="remove objects smaller than N pixels (voxels in 3D) (default: the tuned value)")
    parser.add_argument("--tta", action="store_true",
                        help="test-time augmentation: average the 8 flips/rotations of the image plane, each "
                        "predicted exactly (8x the time; the cost is printed)")
    group.add_argument("--stitch-threshold", type=float, default=DEFAULT_STITCH_THRESHOLD, metavar="IOU",
                       help="stacks predicted plane by plane: objects of consecutive planes (and time points) with "
                       f"IoU >= IOU are one object (default {DEFAULT_STITCH_THRESHOLD}; 0: every plane on its own)")


def instance_kwargs(args: argparse.Namespace, net: UNet) -> dict[str, Any]:
    """The :func:`~napari_tiled_unet.inference.predict_image` keywords the options ask for."""
    changes = {name: getattr(args, name) for name in ("seed_threshold", "foreground_threshold", "min_size")
               if getattr(args, name) is not None}
    if changes and not is_instance_model(net):
        flags = ", ".join("--" + name.replace("_", "-") for name in changes)
        raise ValueError(f"{flags} only apply to instance models, and this model was trained for the "
                         f"{net.metadata.get('task') or 'unknown'} task: leave them out")
    settings = instance_settings_of(net).replace(**changes) if changes else None
    return {"stitch_threshold": args.stitch_threshold, "instance_settings": settings, "tta": bool(args.tta)}
