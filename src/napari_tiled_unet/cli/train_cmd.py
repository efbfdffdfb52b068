"""``napari-tiled-unet train``: train a U-Net from TIFF images and labels, with a progress bar.

Ctrl-C stops after the current step and keeps the best model; a second Ctrl-C aborts at once.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from napari_tiled_unet.anisotropy import MODES as ANISOTROPY_MODES
from napari_tiled_unet.builtin_models import resolve_model
from napari_tiled_unet.calibration import SPATIAL_LETTERS, Calibration, convert_length
from napari_tiled_unet.cli.image_options import add_image_options, checked_voxel_size, input_calibration, resolve_axes
from napari_tiled_unet.cli.output_guard import refuse_inputs_as_outputs
from napari_tiled_unet.cli.progress_bar import ProgressBar
from napari_tiled_unet.cli.train_config import config_from_args, save_training_config
from napari_tiled_unet.devices import DEVICE_CHOICES, resolve_device
from napari_tiled_unet.errors import ImageFileError
from napari_tiled_unet.image_io import read_image_and_calibration
from napari_tiled_unet.inference import CHANNEL_LETTERS, check_axes
from napari_tiled_unet.model_file import MODEL_SUFFIX, save_model
from napari_tiled_unet.training.config import INSTANCE_HEADS, SPARSE_OBJECTS, TASKS, TrainingConfig
from napari_tiled_unet.training.events import EpochEvent, FinishedEvent, StepEvent, TrainingEvent
from napari_tiled_unet.training.label_report import LabelReport, inspect_labels
from napari_tiled_unet.training.loop import TrainingFailed, train
from napari_tiled_unet.training.selection import kept_epoch_text
from napari_tiled_unet.training.sparse_instances import BACKGROUND_MODES
from napari_tiled_unet.training.start import proposed_start, scribble_suggestion

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


def _class_names(text: str) -> tuple[tuple[int, str], ...]:
    """``'2=nucleus,3=membrane'`` as ``((2, 'nucleus'), (3, 'membrane'))``."""
    pairs = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        value, _, name = item.partition("=")
        if not value.strip().isdigit() or not name.strip():
            raise argparse.ArgumentTypeError(f"{item!r} is not VALUE=NAME: write e.g. '2=nucleus,3=membrane'")
        pairs.append((int(value), name.strip()))
    return tuple(pairs)


def check_labels(pairs: Sequence[TrainingPair], config: TrainingConfig, ignore: bool, quiet: bool,
                 suggestion: LabelReport | None = None) -> None:
    """Say what the labels look like; refuse (exit 2) contradictions with --task/--sparse unless ``ignore``.

    ``suggestion``: the report whose suggested task and sparse setting to say (a shipped model's view of
    scribbles, see :func:`suggested_setting`), else the labels' own.
    """
    report = inspect_labels([p.labels for p in pairs], config.task, config.sparse, images=[p.image for p in pairs])
    if suggestion is not None:
        report = dataclasses.replace(report, suggested_task=suggestion.suggested_task,
                                     suggested_sparse=suggestion.suggested_sparse)
    if not quiet:
        print(f"labels: {report.summary()}", file=sys.stderr)
    for finding in report.findings:
        if finding.severity != "error" and not quiet:
            print(f"{finding.severity}: {finding.message}", file=sys.stderr)
    errors = [f for f in report.errors if f.code != "empty"]  # nothing painted: training says so itself
    if errors and not ignore:
        raise ValueError(f"{errors[0].message} (or pass --ignore-label-check to train anyway)")


def suggested_setting(pairs: Sequence[TrainingPair], config: TrainingConfig, args: argparse.Namespace,
                      ) -> tuple[TrainingConfig, LabelReport | None]:
    """The task and sparse setting the labels suggest when no flag chose them, and the report that suggests it.

    Applies when neither ``--task``, ``--sparse`` nor ``--config`` is given. As the Train widget's *Use
    suggestion*, for labels that are clearly sparse (painted objects, scribbles): a few nuclei painted one by one
    train as sparse instances instead of as dense classes, with every unpainted nucleus learnt as background
    (BBBC007's files without flags: held-out foreground IoU 0.0); scribbles through objects that a shipped
    instance model finds train an instance model from it
    (:func:`~napari_tiled_unet.training.start.scribble_suggestion`, unless ``--init`` names the model).
    Dense-looking labels keep the defaults, and so do labels the suggestion itself would refuse.
    """
    if args.task is not None or args.sparse is not None or getattr(args, "config", None):
        return config, None
    labels, images = [p.labels for p in pairs], [p.image for p in pairs]
    report = inspect_labels(labels, images=images)
    if args.init is None:
        report = scribble_suggestion(report, labels, images, config)
    if not report.suggested_sparse or (report.suggested_task, report.suggested_sparse) == (config.task, config.sparse):
        return config, report
    # sparse labels need two values (background and a class, or two objects): one value is a mask, trained
    # densely as before
    if report.n_values < 2 or inspect_labels(labels, report.suggested_task, True, images=images).errors:
        return config, None
    return config.replace(task=report.suggested_task, sparse=report.suggested_sparse), report


def _pooling(text: str) -> tuple[tuple[int, ...], ...]:
    """``'1x2x2,2x2x2'`` -> ``((1, 2, 2), (2, 2, 2))`` (argparse type of ``--pooling``)."""
    try:
        steps = tuple(tuple(int(f) for f in step.lower().split("x")) for step in text.split(",") if step.strip())
    except ValueError:
        steps = ()
    if not steps or any(f not in (1, 2) for step in steps for f in step):
        raise argparse.ArgumentTypeError(f"{text!r} is not a pooling plan: give one ZxYxX of 1s and 2s per level "
                                         "below the top, e.g. '1x2x2,2x2x2' for depth 3")
    return steps


def _both(name: str, unet: bool = False) -> str:
    """'default X in 2D, Y in 3D' from TrainingConfig.defaults, the one source of defaults."""
    two, three = TrainingConfig.defaults(2), TrainingConfig.defaults(3)
    first, second = (getattr(two.unet, name), getattr(three.unet, name)) if unet else (getattr(two, name),
                                                                                       getattr(three, name))
    return f"default {first}" if first == second else f"default {first} in 2D, {second} in 3D"


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Register the sub-command."""
    defaults = TrainingConfig.defaults(2)
    parser = commands.add_parser(
        "train",
        help="train a U-Net from images and labels",
        description="Train a U-Net from TIFF images and their labels. Dense labels: 0 = background, 1.. = classes. "
        "--sparse scribbles: 0 = not annotated, 1 = background, 2.. = classes. --task instances: labels are object "
        "ids (touching objects different ids). The best model by validation score is saved to --out. Settings "
        "not given come from --config (a JSON file or a model file, to repeat its training) or the defaults.",
    )
    parser.add_argument("--images", nargs="+", required=True, metavar="TIF", help="training images")
    parser.add_argument("--labels", nargs="+", required=True, metavar="TIF", help="one label image per image")
    parser.add_argument("--out", required=True, help=f"model file to write ({MODEL_SUFFIX})")
    parser.add_argument("--config", default=None, metavar="FILE",
                        help="training settings: a JSON file (see --save-config) or a model file (.safetensors or "
                        "builtin:NAME) whose training to repeat; flags given here override its values")
    parser.add_argument("--save-config", default=None, metavar="FILE",
                        help="also write the settings used as JSON (for --config)")
    parser.add_argument("--task", choices=TASKS, default=None, help=f"default {defaults.task}")
    parser.add_argument("--sparse", action=argparse.BooleanOptionalAction, default=None,
                        help="sparse labels: 0 = not annotated, 1 = background, 2.. = classes (semantic) or objects "
                        "each painted completely or strokes through objects (instances)")
    parser.add_argument("--sparse-objects", choices=SPARSE_OBJECTS, default=None,
                        help="sparse instances: 'painted' (2.. are objects painted completely), 'strokes' (2 marks "
                        "strokes drawn through objects, scribbles: the objects are those of the model training "
                        "starts from, --init) or 'auto' (default: strokes when they look like strokes)")
    parser.add_argument("--sparse-background", choices=BACKGROUND_MODES, default=None,
                        help="sparse instances: 'painted' (1 is painted background), 'inferred' (no background was "
                        "painted: every value is an object and clear background is inferred) or 'auto' (default)")
    parser.add_argument("--class-names", type=_class_names, default=None, metavar="V=NAME,...",
                        help="names of label values, e.g. '2=nucleus,3=membrane' (stored in the model)")
    parser.add_argument("--ignore-label-check", action="store_true",
                        help="train even when the labels contradict --task/--sparse (see the message)")
    parser.add_argument("--time-limit", type=float, default=None, metavar="SECONDS",
                        help=f"training time (default {defaults.time_limit:g} s unless --epochs is given)")
    parser.add_argument("--epochs", type=int, default=None, help="number of epochs")
    parser.add_argument("--steps-per-epoch", type=int, default=None, help=_both("steps_per_epoch"))
    add_image_options(parser, training=True)
    arch = parser.add_argument_group("architecture")
    arch.add_argument("--dims", type=int, choices=(2, 3), default=None,
                      help="2D (plane by plane) or 3D model (default 2, or the --config file's)")
    arch.add_argument("--depth", type=int, default=None, help=f"levels ({_both('depth', unet=True)})")
    arch.add_argument("--wf", type=int, default=None, help=f"2**wf filters at the first level ({_both('wf', True)})")
    arch.add_argument("--padding", choices=("valid", "same"), default=None, help=_both("padding", unet=True))
    arch.add_argument("--up-mode", choices=("upconv", "upsample"), default=None, help=_both("up_mode", unet=True))
    arch.add_argument("--batch-norm", action=argparse.BooleanOptionalAction, default=None,
                      help=_both("batch_norm", unet=True))
    arch.add_argument("--dropout", type=float, default=None, help=_both("dropout", unet=True))
    arch.add_argument("--anisotropy", choices=ANISOTROPY_MODES, default=None,
                      help="3D: 'auto' plans the pooling per axis from the voxel size (Z pooled only once its step "
                      "is at most twice the pixel size), 'isotropic' pools every axis by 2 (default auto)")
    arch.add_argument("--pooling", type=_pooling, default=None, metavar="ZxYxX,...",
                      help="3D: pooling factors per level, e.g. '1x2x2,1x2x2,2x2x2' for depth 4 (overrides "
                      "--anisotropy)")
    opt = parser.add_argument_group("optimisation")
    opt.add_argument("--patch-size", type=int, default=None, help=f"input patch edge ({_both('patch_size')})")
    opt.add_argument("--batch-size", type=int, default=None, help=f"patches per step ({_both('batch_size')})")
    opt.add_argument("--lr", type=float, default=None,
                     help=f"peak learning rate of a new network ({_both('learning_rate')})")
    opt.add_argument("--fine-tune-lr", type=float, default=None,
                     help=f"peak learning rate when starting from a model, --init ({_both('fine_tune_learning_rate')})")
    opt.add_argument("--val-fraction", type=float, default=None, help=_both("val_fraction"))
    opt.add_argument("--augmentation", action=argparse.BooleanOptionalAction, default=None,
                     help="flips, elastic deformation and intensity changes (default on)")
    opt.add_argument("--seed", type=int, default=None, help=_both("seed"))
    opt.add_argument("--device", default=None, help=f"one of {', '.join(DEVICE_CHOICES)} or cuda:N (default auto)")
    opt.add_argument("--instance-head", choices=INSTANCE_HEADS, default=None,
                     help="instances: 'distance' (classes + centre distance, splits touching objects best; default) "
                     "or 'classes' (background/interior/boundary only)")
    opt.add_argument("--init", default=None, metavar="MODEL",
                     help="continue training from this model file (or builtin:NAME); default: builtin:nuclei for "
                     "instances of one-channel 2D images with the default architecture, else a new network; "
                     "'none': always a new network")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


@dataclass(frozen=True)
class TrainingPair:
    """One training image (channel axis first, if any) with its labels and what the files say about it.

    Parameters
    ----------
    image, labels : numpy.ndarray
        The image (``(C, *spatial)`` with a channel axis, else ``spatial``) and its labels (``spatial``).
    calibration : Calibration
        The image's calibration for the axes of ``image`` (``--voxel-size`` applied).
    channel_axis : int or None
        Where the channels were in the file (None: single channel); ``image`` has them first.

    """

    image: np.ndarray
    labels: np.ndarray
    calibration: Calibration
    channel_axis: int | None


def read_pair(image_path: str, label_path: str, channel_axis: int | None = None,
              voxel_size: tuple[float, ...] | None = None, axes: str | None = None, dims: int = 2) -> TrainingPair:
    """Read an image (channel axis moved first) and its labels, checking they cover the same pixels.

    ``axes``, ``channel_axis`` and ``voxel_size`` are ``--axes``, ``--channel-axis`` and ``--voxel-size``;
    ``dims`` is the model's (the image needs that many spatial axes).
    """
    image, file_calibration = read_image_and_calibration(image_path)
    axes = resolve_axes(Path(image_path), image.shape, file_calibration.axes, axes, channel_axis)
    try:
        check_axes(axes, image.shape, dims)
    except ValueError as err:
        raise ImageFileError(f"image {image_path}: {err}: give the right --axes or --channel-axis") from None
    labels, label_calibration = read_image_and_calibration(label_path)
    if any(a in CHANNEL_LETTERS for a in label_calibration.axes):
        raise ImageFileError(
            f"labels {label_path} have a channel axis ({label_calibration.axes}): give a single-channel label image"
        )
    channel = next((i for i, a in enumerate(axes) if a in CHANNEL_LETTERS), None)
    if channel is not None:
        image = np.moveaxis(image, channel, 0)
        axes = axes[channel] + axes[:channel] + axes[channel + 1:]
    spatial = image.shape[1:] if channel is not None else image.shape
    if tuple(spatial) != tuple(labels.shape):
        raise ImageFileError(f"image {image_path} has shape {image.shape} (axes {axes}) but labels {label_path} "
                             f"have shape {labels.shape}: give labels that cover the image pixel for pixel")
    calibration = input_calibration(Path(image_path), file_calibration, axes, voxel_size)
    return TrainingPair(image, labels, calibration, channel)


def training_voxel_size(calibrations: Sequence[Calibration], dims: int) -> tuple[float, ...] | None:
    """The pixel size of the training images in micrometres: (Z, Y, X) for a 3D model, (Y, X) for 2D.

    None when an image does not say it (and no ``--voxel-size`` was given) or the images disagree by more
    than 1%. This is what the training core will record in the model (and use to plan anisotropic 3D nets);
    the CLI computes it here, ready to be passed on.
    """
    letters = SPATIAL_LETTERS[-dims:]
    sizes = []
    for calibration in calibrations:
        if calibration.unit is None or any(calibration.size(a) is None for a in letters):
            return None
        sizes.append(tuple(convert_length(calibration.size(a), calibration.unit, "um") for a in letters))
    if not sizes or any(not all(math.isclose(a, b, rel_tol=0.01) for a, b in zip(s, sizes[0])) for s in sizes):
        return None
    return sizes[0]


class _Reporter:
    """Turns training events into a progress bar and epoch lines."""

    def __init__(self, quiet: bool) -> None:
        self.bar = None if quiet else ProgressBar("training", unit="%")

    def __call__(self, event: TrainingEvent) -> None:
        if self.bar is None:
            return
        if isinstance(event, StepEvent):
            self.bar(round(event.progress * 100), 100)
            self.bar.set_postfix(loss=f"{event.loss:.4f}", epoch=event.epoch)
        elif isinstance(event, EpochEvent):
            metrics = " ".join(f"{k}={v:.3f}" for k, v in event.metrics.items())
            val = "" if event.val_loss is None else f" val_loss={event.val_loss:.4f}"
            self.bar.write(f"epoch {event.epoch}: train_loss={event.train_loss:.4f}{val} {metrics}"
                           f"{' (best, kept)' if event.best else ''}")
        elif isinstance(event, FinishedEvent):
            self.bar(100, 100)
            self.bar.close()


def _install_interrupt(cancel: threading.Event) -> Any:
    def handler(signum: int, frame: Any) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        print("\nstopping after this step (Ctrl-C again to abort)...", file=sys.stderr)

    if threading.current_thread() is threading.main_thread():
        return signal.signal(signal.SIGINT, handler)
    return None


def run(args: argparse.Namespace) -> int:
    """Train and save the best model."""
    out = Path(args.out)
    if out.suffix != MODEL_SUFFIX:
        raise ValueError(f"--out {out} must end in {MODEL_SUFFIX}: rename it (e.g. {out.with_suffix(MODEL_SUFFIX)})")
    if not out.parent.is_dir():
        raise ValueError(f"cannot write {out}: folder {out.parent} does not exist; create it first")
    if len(args.images) != len(args.labels):
        raise ValueError(f"{len(args.images)} images but {len(args.labels)} label files: give one label file per image")
    init = resolve_model(args.init) if args.init and args.init.lower() != "none" else None
    inputs = [(p, "training image") for p in args.images] + [(p, "label image") for p in args.labels]
    inputs += [(init, "initial model (--init)")] if init is not None else []
    config_file = resolve_model(args.config) if args.config else None
    inputs += [(config_file, "--config file")] if config_file is not None else []
    refuse_inputs_as_outputs([(out, f"--out {out}")], inputs)
    if args.save_config:
        refuse_inputs_as_outputs([(args.save_config, f"--save-config {args.save_config}")],
                                 [*inputs, (out, "--out model")], option="--save-config")
    config = config_from_args(args)
    resolve_device(config.device)
    voxel_size = checked_voxel_size(args.voxel_size)
    pairs = [read_pair(i, lab, args.channel_axis, voxel_size, args.axes, config.unet.dims)
             for i, lab in zip(args.images, args.labels)]
    suggested, suggestion = suggested_setting(pairs, config, args)
    check_labels(pairs, suggested, args.ignore_label_check, args.quiet, suggestion)
    for finding in suggestion.findings if suggestion is not None and not args.quiet else ():
        if finding.code.startswith("scribbles_"):
            print(f"labels: {finding.message}", file=sys.stderr)
    if suggested != config and not args.quiet:
        print(f"training task {suggested.task}, {'sparse' if suggested.sparse else 'dense'} as the labels suggest "
              "(--task and --sparse / --no-sparse choose)", file=sys.stderr)
    config = suggested
    image_voxel_size = training_voxel_size([p.calibration for p in pairs], config.unet.dims)
    if image_voxel_size is not None:
        config = config.replace(voxel_size=image_voxel_size)
        if not args.quiet:
            print("voxel size of the training images: " + " x ".join(f"{v:g}" for v in image_voxel_size) + " um",
                  file=sys.stderr)
    if pairs[0].channel_axis is not None and not config.channel_names:
        config = config.replace(channel_names=tuple(f"channel {i}" for i in range(pairs[0].image.shape[0])))
    if args.save_config:
        print(f"wrote {save_training_config(config, args.save_config)} (the settings of this training)",
              file=sys.stderr)
    if args.init is None and (proposed := proposed_start(config, pairs[0].image.shape[0]
                                                          if pairs[0].channel_axis is not None else 1)):
        init = resolve_model(proposed)
        if not args.quiet:
            print(f"starting from {proposed}, the shipped model for this kind of data (--init none trains a new "
                  "network)", file=sys.stderr)
    cancel = threading.Event()
    previous = _install_interrupt(cancel)
    reporter = _Reporter(args.quiet)
    try:
        net = train([p.image for p in pairs], [p.labels for p in pairs], config, callback=reporter, cancel=cancel,
                    init_model=init, checkpoint=out)
    except TrainingFailed as err:
        if err.best_model is not None:
            save_model(err.best_model, out)
            print(f"napari-tiled-unet: {err}; the best model so far was saved to {out}", file=sys.stderr)
        else:
            print(f"napari-tiled-unet: {err}; no model was saved", file=sys.stderr)
        return EXIT_FAILED
    finally:
        if reporter.bar is not None:
            reporter.bar.close()
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    summary = net.metadata["training"]
    for note in summary.get("notes", []):
        print(f"note: {note}", file=sys.stderr)
    metrics = ", ".join(f"{k}={v}" for k, v in summary["best_metrics"].items()) or "no validation"
    print(f"saved {out}: {kept_epoch_text(summary)} ({metrics}); "
          f"{summary['steps']} steps in {summary['seconds']:.0f} s on {summary['device']}, stopped by "
          f"{summary['stopped_by']}", file=sys.stderr)
    return EXIT_INTERRUPTED if summary["stopped_by"] == "cancelled" else 0
