"""``napari-tiled-unet predict``: segment TIFF images with a model file, tile by tile."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import tifffile

from napari_tiled_unet.cli.progress_bar import ProgressBar
from napari_tiled_unet.devices import DEVICE_CHOICES, resolve_device
from napari_tiled_unet.errors import ImageFileError
from napari_tiled_unet.image_io import TIFF_SUFFIXES, read_image, write_tiff
from napari_tiled_unet.inference import CHANNEL_LETTERS, OUTPUT_KINDS, check_axes, predict_image
from napari_tiled_unet.model import UNet
from napari_tiled_unet.model_file import load_model


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Register the sub-command."""
    parser = commands.add_parser(
        "predict",
        help="segment TIFF images with a model",
        description="Predict labels, instances or class probabilities for TIFF images with exact overlap-tile "
        "inference. One image writes to the file --out; several write <name>_<output>.tif into the folder --out.",
    )
    parser.add_argument("model", help="model file (.safetensors)")
    parser.add_argument("images", nargs="+", help="input TIFF image(s)")
    parser.add_argument("--out", required=True, help="output .tif file (one image) or folder (several images)")
    parser.add_argument("--output", choices=OUTPUT_KINDS, default="labels", help="what to write (default: labels)")
    parser.add_argument("--tile-size", type=int, default=None, metavar="N",
                        help="input tile edge in pixels (default: automatic from the memory budget)")
    parser.add_argument("--batch-size", type=int, default=None, metavar="N", help="tiles per batch (default: auto)")
    parser.add_argument("--device", default="auto", help=f"one of {', '.join(DEVICE_CHOICES)} or cuda:N")
    parser.add_argument("--axes", default=None,
                        help="axis letters of the input, e.g. YX, ZYX, TYX, CYX, YXS (default: from the TIFF)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def output_paths(images: list[Path], out: Path, output: str) -> list[Path]:
    """Where each result goes; checks the destination before any work starts."""
    if len(images) == 1 and out.suffix.lower() in TIFF_SUFFIXES:
        if not out.parent.exists():
            raise ValueError(f"cannot write {out}: folder {out.parent} does not exist; create it first")
        return [out]
    if len(images) == 1 and not out.is_dir() and out.suffix:
        raise ValueError(f"output {out} must end in .tif or .tiff (or be a folder): rename it")
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file but {len(images)} images were given: give a folder")
    names = [out / f"{p.stem}_{output}.tif" for p in images]
    if len(set(names)) != len(names):
        raise ValueError("two input images have the same name: they would overwrite each other's result")
    if not out.exists():
        if not out.parent.exists():
            raise ValueError(f"cannot create folder {out}: its parent {out.parent} does not exist")
        out.mkdir()
    return names


def check_image(path: Path, net: UNet, axes: str | None) -> None:
    """Check an image's readability, axes and channel count from its header, before predicting anything."""
    if not path.exists():
        raise ImageFileError(f"image file {path} does not exist: check the path")
    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            shape, file_axes = tuple(series.shape), series.axes.upper()
    except Exception as err:
        raise ImageFileError(f"{path} is not a readable TIFF image ({type(err).__name__}): give a .tif file") from None
    use_axes = (axes or file_axes).upper()
    check_axes(use_axes, shape, net.config.dims)
    channels = [shape[i] for i, a in enumerate(use_axes) if a in CHANNEL_LETTERS]
    n_channels = channels[0] if channels else 1
    if n_channels != net.config.in_channels:
        raise ImageFileError(
            f"{path} has {n_channels} channel(s) (axes {use_axes}, shape {shape}) but the model expects "
            f"{net.config.in_channels}: give a matching image or --axes"
        )


def run(args: argparse.Namespace) -> int:
    """Predict every image and write the results."""
    device = resolve_device(args.device)
    net = load_model(args.model, device=device)
    images = [Path(p) for p in args.images]
    for path in images:
        check_image(path, net, args.axes)
    destinations = output_paths(images, Path(args.out), args.output)
    for path, destination in zip(images, destinations):
        data, file_axes = read_image(path)
        bar = None if args.quiet else ProgressBar(f"{path.name}", unit="tile")
        try:
            result, result_axes = predict_image(net, data, axes=(args.axes or file_axes).upper(), output=args.output,
                                                tile_shape=args.tile_size, batch_size=args.batch_size, progress=bar)
        finally:
            if bar is not None:
                bar.close()
        write_tiff(destination, result, result_axes)
        print(f"wrote {destination} ({args.output}, shape {result.shape}, {result.dtype})", file=sys.stderr)
    return 0
