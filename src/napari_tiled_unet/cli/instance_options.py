"""Options of ``predict`` beyond tiling: instance post-processing, linking of stack planes, test-time augmentation."""

from __future__ import annotations

import argparse
from typing import Any

from napari_tiled_unet.axes import loop_letters
from napari_tiled_unet.checks import check_float
from napari_tiled_unet.instance_output import instance_settings_of, is_instance_model, links_z_planes
from napari_tiled_unet.model import UNet
from napari_tiled_unet.postprocess import SETTING_NAMES
from napari_tiled_unet.stitching import DEFAULT_STITCH_THRESHOLD, DEFAULT_VALLEY_RATIO


def add_instance_options(parser: argparse.ArgumentParser) -> None:
    """Register the post-processing and the options of how an image is predicted (``--tta``, ``--flatten``...)."""
    group = parser.add_argument_group("instances (--output instances)")
    group.add_argument("--seed-threshold", type=float, default=None, metavar="P",
                       help="seeds where the centre distance is above P (default: the value tuned after training, "
                       "see 'napari-tiled-unet info MODEL')")
    group.add_argument("--foreground-threshold", type=float, default=None, metavar="P",
                       help="objects grow where 1 - p(background) is above P (default: the tuned value)")
    group.add_argument("--min-size", type=int, default=None, metavar="N",
                       help="remove objects smaller than N pixels (voxels in 3D) (default: the tuned value)")
    group.add_argument("--split-depth", type=float, default=None, metavar="D",
                       help="cut a seed in two where it holds two centres whose centre distance rises D above the "
                       "valley between them: touching nuclei sharing one seed (default: the model's value, "
                       "0.25 where it names none; 0: no cuts; lower cuts more)")
    parser.add_argument("--tta", action=argparse.BooleanOptionalAction, default=None,
                        help="test-time augmentation: average the 8 flips/rotations of the image plane, each "
                        "predicted exactly (8x the time; the cost is printed) (default: on for a single 2D image "
                        "where the model recommends it, as builtin:nuclei does; off otherwise)")
    parser.add_argument("--rescale", default=None, metavar="auto|off|FACTOR",
                        help="predict on the image scaled by FACTOR and scale the result back (0.5 for objects "
                        "twice the size the model segments best); auto: shrink the image when the objects come out "
                        "larger than the radius the model names (builtin:nuclei: 11 px) (default: auto for the "
                        "instances of a 2D model where the model names a radius, one factor for all planes of a "
                        "stack, an image read region by region read into memory for the scaled pass; off "
                        "otherwise; a FACTOR of labels or probabilities needs the image in memory)")
    parser.add_argument("--flatten", default=None, choices=("auto", "on", "off"), type=str.lower,
                        help="subtract a strongly uneven background (stray light, a glow) before predicting; auto: "
                        "where it varies more than the model was trained on (builtin:nuclei names it) (default: "
                        "auto for an image in memory; off where the model names no limit)")
    group.add_argument("--stitch-threshold", type=float, default=DEFAULT_STITCH_THRESHOLD, metavar="SHARE",
                       help="stacks predicted plane by plane: objects of consecutive planes (and time points) are "
                       "one object when SHARE of the smaller one overlaps the other (default "
                       f"{DEFAULT_STITCH_THRESHOLD}; 0: every plane on its own)")
    group.add_argument("--valley-ratio", type=float, default=DEFAULT_VALLEY_RATIO, metavar="R",
                       help="Z stacks predicted plane by plane: cut a linked object where its area falls below R "
                       f"times its peaks above and below (nuclei stacked in Z) (default {DEFAULT_VALLEY_RATIO}; "
                       "0: no cuts)")


def instance_kwargs(args: argparse.Namespace, net: UNet, axes: str | None = None) -> dict[str, Any]:
    """The :func:`~napari_tiled_unet.inference.predict_image` keywords of post-processing and linking.

    ``--tta`` is resolved per image by the caller (it depends on the image's planes and on lazy reading).
    Flags change the model's settings for the image's ``axes``: those it stores for Z planes linked into 3D
    objects where a 2D model's planes are linked, else those for single images.
    """
    changes = {name: getattr(args, name) for name in SETTING_NAMES
               if getattr(args, name) is not None}
    if changes and not is_instance_model(net):
        flags = ", ".join("--" + name.replace("_", "-") for name in changes)
        raise ValueError(f"{flags} only apply to instance models, and this model was trained for the "
                         f"{net.metadata.get('task') or 'unknown'} task: leave them out")
    linked = axes is not None and links_z_planes(net, loop_letters(axes, net.config.dims), args.output,
                                                 args.stitch_threshold)
    settings = instance_settings_of(net, linked_planes=linked).replace(**changes) if changes else None
    check_float("--stitch-threshold", args.stitch_threshold, 0.0, 0.999)
    check_float("--valley-ratio", args.valley_ratio, 0.0, 0.999)
    return {"stitch_threshold": args.stitch_threshold, "valley_ratio": args.valley_ratio, "instance_settings": settings}
