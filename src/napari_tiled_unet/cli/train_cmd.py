"""``napari-tiled-unet train``: train a U-Net from TIFF images and labels, with a progress bar.

Ctrl-C stops after the current step and keeps the best model; a second Ctrl-C aborts at once.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np

from napari_tiled_unet.cli.progress_bar import ProgressBar
from napari_tiled_unet.config import UNetConfig
from napari_tiled_unet.devices import DEVICE_CHOICES, resolve_device
from napari_tiled_unet.errors import ImageFileError
from napari_tiled_unet.image_io import read_image
from napari_tiled_unet.inference import CHANNEL_LETTERS
from napari_tiled_unet.model_file import MODEL_SUFFIX, save_model
from napari_tiled_unet.training.config import TASKS, TrainingConfig
from napari_tiled_unet.training.events import EpochEvent, FinishedEvent, StepEvent, TrainingEvent
from napari_tiled_unet.training.loop import TrainingFailed, train

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Register the sub-command."""
    defaults = TrainingConfig()
    parser = commands.add_parser(
        "train",
        help="train a U-Net from images and labels",
        description="Train a U-Net from TIFF images and their labels. Dense labels: 0 = background, 1.. = classes. "
        "--sparse scribbles: 0 = not annotated, 1 = background, 2.. = classes. --task instances: labels are object "
        "ids (touching objects different ids). The best model by validation score is saved to --out.",
    )
    parser.add_argument("--images", nargs="+", required=True, metavar="TIF", help="training images")
    parser.add_argument("--labels", nargs="+", required=True, metavar="TIF", help="one label image per image")
    parser.add_argument("--out", required=True, help=f"model file to write ({MODEL_SUFFIX})")
    parser.add_argument("--task", choices=TASKS, default=defaults.task)
    parser.add_argument("--sparse", action="store_true", help="labels are sparse scribbles (0 = not annotated)")
    parser.add_argument("--time-limit", type=float, default=None, metavar="SECONDS",
                        help=f"training time (default {defaults.time_limit:g} s unless --epochs is given)")
    parser.add_argument("--epochs", type=int, default=None, help="number of epochs")
    parser.add_argument("--steps-per-epoch", type=int, default=defaults.steps_per_epoch)
    arch = parser.add_argument_group("architecture")
    arch.add_argument("--dims", type=int, choices=(2, 3), default=2, help="2D (plane by plane) or 3D model")
    arch.add_argument("--depth", type=int, default=None, help="levels (default 4 in 2D, 3 in 3D)")
    arch.add_argument("--wf", type=int, default=defaults.unet.wf, help="2**wf filters at the first level")
    arch.add_argument("--padding", choices=("valid", "same"), default=defaults.unet.padding)
    arch.add_argument("--up-mode", choices=("upconv", "upsample"), default=defaults.unet.up_mode)
    arch.add_argument("--batch-norm", action=argparse.BooleanOptionalAction, default=defaults.unet.batch_norm)
    arch.add_argument("--dropout", type=float, default=defaults.unet.dropout)
    opt = parser.add_argument_group("optimisation")
    opt.add_argument("--patch-size", type=int, default=None, help="input patch edge (default 220 in 2D, 92 in 3D)")
    opt.add_argument("--batch-size", type=int, default=None, help="patches per step (default 4 in 2D, 2 in 3D)")
    opt.add_argument("--lr", type=float, default=defaults.learning_rate, help="peak learning rate")
    opt.add_argument("--val-fraction", type=float, default=defaults.val_fraction)
    opt.add_argument("--no-augmentation", action="store_true", help="switch augmentation off")
    opt.add_argument("--seed", type=int, default=defaults.seed)
    opt.add_argument("--device", default="auto", help=f"one of {', '.join(DEVICE_CHOICES)} or cuda:N")
    opt.add_argument("--init", default=None, metavar="MODEL", help="continue training from this model file")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def config_from_args(args: argparse.Namespace) -> TrainingConfig:
    """The training configuration the arguments describe (validated)."""
    three_d = args.dims == 3
    unet = UNetConfig(depth=args.depth or (3 if three_d else 4), wf=args.wf, padding=args.padding,
                      up_mode=args.up_mode, batch_norm=args.batch_norm, dims=args.dims, dropout=args.dropout)
    time_limit = args.time_limit
    if time_limit is None and args.epochs is None:
        time_limit = TrainingConfig().time_limit
    config = TrainingConfig(
        task=args.task, sparse=args.sparse, unet=unet, time_limit=time_limit, epochs=args.epochs,
        steps_per_epoch=args.steps_per_epoch, patch_size=args.patch_size or (92 if three_d else 220),
        batch_size=args.batch_size or (2 if three_d else 4), learning_rate=args.lr, val_fraction=args.val_fraction,
        seed=args.seed, device=args.device,
    )
    if args.no_augmentation:
        aug = config.augmentation
        config = config.replace(augmentation=aug.__class__(flips=False, elastic=False, intensity=False))
    return config


def read_pair(image_path: str, label_path: str) -> tuple[np.ndarray, np.ndarray]:
    """Read an image (channel axis moved first) and its labels, checking they cover the same pixels."""
    image, image_axes = read_image(image_path)
    labels, label_axes = read_image(label_path)
    if any(a in CHANNEL_LETTERS for a in label_axes):
        raise ImageFileError(
            f"labels {label_path} have a channel axis ({label_axes}): give a single-channel label image"
        )
    channel = [i for i, a in enumerate(image_axes) if a in CHANNEL_LETTERS]
    if channel:
        image = np.moveaxis(image, channel[0], 0)
    spatial = image.shape[1:] if channel else image.shape
    if tuple(spatial) != tuple(labels.shape):
        raise ImageFileError(f"image {image_path} has shape {image.shape} (axes {image_axes}) but labels {label_path} "
                             f"have shape {labels.shape}: give labels that cover the image pixel for pixel")
    return image, labels


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
    config = config_from_args(args)
    resolve_device(config.device)
    pairs = [read_pair(i, lab) for i, lab in zip(args.images, args.labels)]
    cancel = threading.Event()
    previous = _install_interrupt(cancel)
    reporter = _Reporter(args.quiet)
    try:
        net = train([p[0] for p in pairs], [p[1] for p in pairs], config, callback=reporter, cancel=cancel,
                    init_model=args.init, checkpoint=out)
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
    metrics = ", ".join(f"{k}={v}" for k, v in summary["best_metrics"].items()) or "no validation"
    print(f"saved {out}: best epoch {summary['best_epoch']} of {summary['epochs']} ({metrics}); "
          f"{summary['steps']} steps in {summary['seconds']:.0f} s on {summary['device']}, stopped by "
          f"{summary['stopped_by']}", file=sys.stderr)
    return EXIT_INTERRUPTED if summary["stopped_by"] == "cancelled" else 0
