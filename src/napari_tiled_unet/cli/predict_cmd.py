"""``napari-tiled-unet predict``: segment TIFF images with a model file, tile by tile."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

import numpy as np
import tifffile

from napari_tiled_unet.axes import loop_letters
from napari_tiled_unet.builtin_models import resolve_model
from napari_tiled_unet.calibration import Calibration
from napari_tiled_unet.cli.image_options import add_image_options, checked_voxel_size, input_calibration, resolve_axes
from napari_tiled_unet.cli.instance_options import add_instance_options, instance_kwargs
from napari_tiled_unet.cli.output_guard import refuse_existing_results, refuse_inputs_as_outputs
from napari_tiled_unet.cli.progress_bar import ProgressBar
from napari_tiled_unet.devices import DEVICE_CHOICES, resolve_device
from napari_tiled_unet.errors import ImageFileError
from napari_tiled_unet.image_io import (
    TIFF_SUFFIXES,
    open_tiff_lazy,
    read_image_and_calibration,
    tiff_calibration,
    tiff_info,
    write_tiff,
    write_zarr,
)
from napari_tiled_unet.inference import CHANNEL_LETTERS, OUTPUT_KINDS, check_axes, predict_image
from napari_tiled_unet.model import UNet
from napari_tiled_unet.model_file import load_model
from napari_tiled_unet.object_scale import check_rescale, largest_radius, rescale_in_words
from napari_tiled_unet.test_time_augmentation import tta_applies
from napari_tiled_unet.uneven_background import flatten_in_words

LAZY_BYTES = 512 * 2**20
ZARR_SUFFIX = ".zarr"


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Register the sub-command."""
    parser = commands.add_parser(
        "predict",
        help="segment TIFF images with a model",
        description="Predict labels, instances or class probabilities for TIFF images with exact overlap-tile "
        "inference. One image writes to the file --out; several write <name>_<output>.tif into the folder --out "
        "(existing results there are kept unless --overwrite). An input is never overwritten. Results keep the "
        "input's axes and calibration (pixel size, Z spacing, unit).",
    )
    parser.add_argument("model", help="model file (.safetensors), or builtin:NAME (see 'napari-tiled-unet models')")
    parser.add_argument("images", nargs="+", help="input TIFF image(s)")
    parser.add_argument("--out", required=True, help="output .tif file (one image) or folder (several images)")
    parser.add_argument("--output", choices=OUTPUT_KINDS, default="labels", help="what to write (default: labels)")
    parser.add_argument("--tile-size", type=int, default=None, metavar="N",
                        help="input tile edge in pixels (default: automatic from the memory budget)")
    parser.add_argument("--batch-size", type=int, default=None, metavar="N", help="tiles per batch (default: auto)")
    parser.add_argument("--device", default="auto", help=f"one of {', '.join(DEVICE_CHOICES)} or cuda:N")
    parser.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                        help="mixed precision (default: on CUDA only; --no-amp keeps float32 everywhere)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace existing <name>_<output>.tif results in the folder --out")
    add_image_options(parser)
    add_instance_options(parser)
    parser.add_argument("--lazy", action="store_true",
                        help="read the image region by region and predict block by block (automatic for images "
                        f"over {LAZY_BYTES // 2**20} MiB, for a .zarr --out and with --scheduler)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="run on a dask.distributed scheduler, e.g. tcp://10.0.0.5:8786 (workers must see the "
                        "input files at the same path)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def output_paths(images: list[Path], out: Path, output: str, overwrite: bool = False,
                 inputs: list[tuple[Path, str]] | None = None) -> list[Path]:
    """Where each result goes; checks the destination before any work starts.

    One image writes to ``out`` (a .tif/.tiff file or a .zarr store); several write ``<stem>_<output>.tif``
    into the folder ``out``, where existing results are refused unless ``overwrite``. No destination may be
    one of ``inputs`` (default: the images), whatever its name.
    """
    inputs = inputs if inputs is not None else [(p, "input image") for p in images]
    if len(images) == 1 and (out.suffix.lower() in TIFF_SUFFIXES or out.suffix.lower() == ZARR_SUFFIX):
        refuse_inputs_as_outputs([(out, f"--out {out}")], inputs)
        if not out.parent.exists():
            raise ValueError(f"cannot write {out}: folder {out.parent} does not exist; create it first")
        if out.suffix.lower() == ZARR_SUFFIX and out.exists():
            raise ValueError(f"output {out} exists: remove it or choose another name (zarr stores are not overwritten)")
        return [out]
    if len(images) == 1 and not out.is_dir() and out.suffix:
        raise ValueError(f"output {out} must end in .tif, .tiff or .zarr (or be a folder): rename it")
    refuse_inputs_as_outputs([(out, f"--out {out}")], inputs)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file but {len(images)} images were given: give a folder")
    names = [out / f"{p.stem}_{output}.tif" for p in images]
    if len(set(names)) != len(names):
        raise ValueError("two input images have the same name: they would overwrite each other's result")
    refuse_inputs_as_outputs([(n, f"the result of {p.name} ({n})") for p, n in zip(images, names)], inputs,
                             option="--out folder")
    refuse_existing_results(names, out, overwrite)
    if not out.exists():
        if not out.parent.exists():
            raise ValueError(f"cannot create folder {out}: its parent {out.parent} does not exist")
        out.mkdir()
    return names


def check_image(path: Path, net: UNet, axes: str | None, channel_axis: int | None = None) -> str:
    """Check an image's readability, axes and channel count from its header, before predicting anything.

    Returns the axis letters to predict it with (``--axes``, or the file's with ``--channel-axis`` applied).
    """
    if not path.exists():
        raise ImageFileError(f"image file {path} does not exist: check the path")
    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            shape, file_axes = tuple(series.shape), series.axes.upper()
    except Exception as err:
        raise ImageFileError(f"{path} is not a readable TIFF image ({type(err).__name__}): give a .tif file") from None
    use_axes = resolve_axes(path, shape, file_axes, axes, channel_axis)
    check_axes(use_axes, shape, net.config.dims)
    channels = [shape[i] for i, a in enumerate(use_axes) if a in CHANNEL_LETTERS]
    n_channels = channels[0] if channels else 1
    if n_channels != net.config.in_channels:
        raise ImageFileError(
            f"{path} has {n_channels} channel(s) (axes {use_axes}, shape {shape}) but the model expects "
            f"{net.config.in_channels}: give a matching image, --axes or --channel-axis"
        )
    return use_axes


def _use_lazy(args: argparse.Namespace, path: Path, destination: Path) -> bool:
    if args.lazy or args.scheduler or destination.suffix.lower() == ZARR_SUFFIX:
        return True
    shape, dtype, _ = tiff_info(path)
    return int(np.prod(shape)) * dtype.itemsize > LAZY_BYTES


def _predict_lazy(args: argparse.Namespace, net: UNet, path: Path, destination: Path, axes: str,
                  calibration: Calibration) -> tuple:
    """Region-by-region reading, block-by-block prediction, on the local threads or a distributed cluster."""
    import dask

    data, _ = open_tiff_lazy(path)
    flattened: list[tuple[float, float | None]] = []
    rescaled: list[tuple[float, float | None]] = []
    result, result_axes = predict_image(net, data, axes=axes, output=args.output, tile_shape=args.tile_size,
                                        batch_size=args.batch_size, amp=args.amp, tta=False,
                                        flatten=args.flatten, on_flatten=lambda *facts: flattened.append(facts),
                                        rescale=args.rescale, on_rescale=lambda *facts: rescaled.append(facts),
                                        **instance_kwargs(args, net, axes))
    _say_what_changed(net, flattened, rescaled)
    # torch already uses every core for one block: more blocks in flight only add memory, not speed
    local = {} if args.scheduler else {"scheduler": "threads", "num_workers": local_block_workers()}
    if destination.suffix.lower() == ZARR_SUFFIX:
        with _progress(args), dask.config.set(**local):
            write_zarr(destination, result, result_axes, calibration)
        return result.shape, result.dtype
    with _progress(args), dask.config.set(**local):
        computed = np.asarray(dask.compute(result)[0]) if hasattr(result, "dask") else result
    write_tiff(destination, computed, result_axes, calibration=calibration)
    return computed.shape, computed.dtype


def _say_what_changed(net: UNet, flattened: list[tuple[float, float | None]],
                      rescaled: list[tuple[float, float | None]]) -> None:
    """Tell on stderr when the background was flattened and when the image was predicted scaled."""
    for variation, limit in flattened:
        print(flatten_in_words(variation, limit), file=sys.stderr)
    for factor, radius in rescaled:
        print(rescale_in_words(factor, radius, largest_radius(net)), file=sys.stderr)


def local_block_workers() -> int:
    """Blocks to predict at once on this machine: the cores divided by torch's threads per block (at least 1)."""
    import os

    import torch

    return max(1, (os.cpu_count() or 1) // max(1, torch.get_num_threads()))


def _progress(args: argparse.Namespace) -> contextlib.AbstractContextManager:
    if args.quiet or args.scheduler:
        return contextlib.nullcontext()
    from dask.diagnostics import ProgressBar as DaskProgressBar

    return DaskProgressBar(out=sys.stderr)


def _connect(address: str) -> contextlib.AbstractContextManager:
    try:
        from distributed import Client
    except ImportError:
        raise ValueError("--scheduler needs dask.distributed: pip install 'napari-tiled-unet[cluster]'") from None
    try:
        return Client(address, timeout="20s")
    except (OSError, TimeoutError) as err:
        raise ValueError(f"cannot reach the dask scheduler at {address} ({err}): check the address") from None


def run(args: argparse.Namespace) -> int:
    """Predict every image and write the results."""
    device = resolve_device(args.device)
    model = resolve_model(args.model)
    net = load_model(model, device=device)
    instance_kwargs(args, net)  # refuse wrong post-processing options before any work
    args.rescale = check_rescale(args.rescale.lower() if isinstance(args.rescale, str) else args.rescale)
    voxel_size = checked_voxel_size(args.voxel_size)
    images = [Path(p) for p in args.images]
    plans = []
    for path in images:
        axes = check_image(path, net, args.axes, args.channel_axis)
        plans.append((axes, input_calibration(path, tiff_calibration(path), axes, voxel_size)))
    inputs = [(p, "input image") for p in images] + [(model, "model")]
    destinations = output_paths(images, Path(args.out), args.output, args.overwrite, inputs)
    with _connect(args.scheduler) if args.scheduler else contextlib.nullcontext():
        for path, destination, (axes, calibration) in zip(images, destinations, plans):
            start = time.perf_counter()
            if _use_lazy(args, path, destination):
                scaled_classes = isinstance(args.rescale, float) and args.output != "instances"
                for flag, asked in (("--tta", args.tta), ("--rescale", scaled_classes)):
                    if asked:
                        raise ValueError(f"{flag} needs the image in memory but {path} is read region by region "
                                         f"(large image, --lazy, a .zarr --out or --scheduler): leave out {flag}")
                shape, dtype = _predict_lazy(args, net, path, destination, axes, calibration)
                use_tta = False
            else:
                use_tta = tta_applies(args.tta, net, len(loop_letters(axes, net.config.dims)), lazy=False)
                shape, dtype = _predict_in_memory(args, net, path, destination, axes, calibration, use_tta)
            if use_tta:
                why = " (the model recommends it; --no-tta turns it off)" if args.tta is None else ""
                print(f"test-time augmentation{why}: 8 passes per plane took {time.perf_counter() - start:.1f} s "
                      "(about 8x a single pass)", file=sys.stderr)
            print(f"wrote {destination} ({args.output}, shape {shape}, {dtype}, {calibration.describe()})",
                  file=sys.stderr)
    return 0


def _predict_in_memory(args: argparse.Namespace, net: UNet, path: Path, destination: Path, axes: str,
                       calibration: Calibration, tta: bool) -> tuple:
    data, _ = read_image_and_calibration(path)
    rescaled: list[tuple[float, float | None]] = []
    flattened: list[tuple[float, float | None]] = []
    bar = None if args.quiet else ProgressBar(f"{path.name}", unit="tile")
    try:
        result, result_axes = predict_image(net, data, axes=axes, output=args.output, tile_shape=args.tile_size,
                                            batch_size=args.batch_size, progress=bar, amp=args.amp,
                                            tta=tta, rescale=args.rescale,
                                            on_rescale=lambda *facts: rescaled.append(facts),
                                            flatten=args.flatten, on_flatten=lambda *facts: flattened.append(facts),
                                            **instance_kwargs(args, net, axes))
    finally:
        if bar is not None:
            bar.close()
    _say_what_changed(net, flattened, rescaled)
    write_tiff(destination, result, result_axes, calibration=calibration)
    return result.shape, result.dtype
