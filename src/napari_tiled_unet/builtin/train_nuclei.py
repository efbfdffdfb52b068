"""Train the built-in nuclei model on synthetic images only, deterministically from a seed.

``python -m napari_tiled_unet.builtin.train_nuclei --out nuclei.safetensors --minutes 30 --seed 0``

The training set is drawn by :mod:`napari_tiled_unet.synthetic`: every image has its own random style
(nucleus sizes 4-40 px, shapes, density, brightness classes, texture, optics, noise, 8 or 16 bit), and its
size grows with its nuclei (256-512 px) so that large nuclei come in numbers too. The same ``--seed`` gives the
same images; with ``--epochs`` (and no time limit) the same weights on the CPU as well. The model file carries a
``description``: a model card with the generator settings, the training time and steps.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from napari_tiled_unet.checks import check_float, check_int
from napari_tiled_unet.model_file import save_model
from napari_tiled_unet.synthetic import StyleRanges, style_for_seed, synthetic_nuclei
from napari_tiled_unet.training.config import TrainingConfig
from napari_tiled_unet.training.events import EpochEvent
from napari_tiled_unet.training.loop import train

MIN_SIDE, MAX_SIDE = 256, 512
# plenty of images: validate on a smaller share of each, and less often than the interactive default
STEPS_PER_EPOCH = 200
VAL_FRACTION = 0.05
#: measured on the shipped model: test-time augmentation lifts zero-shot F1@0.5 on the real and stand-in images
#: (see :mod:`napari_tiled_unet.test_time_augmentation`), so the model file recommends it; and objects of a
#: median radius above about 11 px are segmented better on a shrunk image (:mod:`napari_tiled_unet.object_scale`);
#: the background of its training images varies by at most 0.21 of their range (0.13 for 95% of them), so one that
#: varies by more than 0.3 is flattened first (:mod:`napari_tiled_unet.uneven_background`)
RECOMMENDED_PREDICTION = {"prediction": {"tta": True, "largest_radius": 11.0, "background_limit": 0.3}}


def image_side(radius: float) -> int:
    """Edge of a training image whose typical nucleus radius is ``radius`` (a multiple of 32, 256-512)."""
    return int(np.clip(np.rint(24 * radius / 32) * 32, MIN_SIDE, MAX_SIDE))


def image_seeds(n_images: int, seed: int) -> list[int]:
    """The per-image generator seeds of a training set (deterministic from ``seed``)."""
    check_int("n_images", n_images, 1, 100_000)
    check_int("seed", seed, 0, 2**32 - 1)
    return [int(s) for s in np.random.SeedSequence(seed).generate_state(n_images, dtype=np.uint32)]


def training_set(n_images: int = 128, seed: int = 0,
                 ranges: StyleRanges | None = None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Synthetic images and instance masks of many different looks.

    Parameters
    ----------
    n_images : int
        Number of images.
    seed : int
        Decides every image.
    ranges : StyleRanges, optional
        The ranges the styles are drawn from (default: ``StyleRanges()``).

    Returns
    -------
    images, labels : list of np.ndarray
        ``uint8`` or ``uint16`` images and ``uint16`` instance masks, 256-512 px square.

    """
    images, labels = [], []
    for image_seed in image_seeds(n_images, seed):
        side = image_side(style_for_seed(image_seed, 2, ranges).radius)
        image, masks = synthetic_nuclei((side, side), seed=image_seed, ranges=ranges)
        images.append(image)
        labels.append(masks)
    return images, labels


def builtin_config(**changes: object) -> TrainingConfig:
    """The training configuration of the built-in model, with ``changes`` applied.

    The instance defaults, validated less often and on a smaller share of each image (there are many images).
    """
    return TrainingConfig(task="instances", steps_per_epoch=STEPS_PER_EPOCH, val_fraction=VAL_FRACTION).replace(
        **changes)


def model_card(ranges: StyleRanges, n_images: int, seed: int, config: TrainingConfig,
               summary: dict, seconds: float, images: Sequence[np.ndarray], labels: Sequence[np.ndarray]) -> str:
    """The model's ``description``: what it was trained on and how, in words and numbers."""
    bits = [int(np.iinfo(im.dtype).bits) for im in images]
    nuclei = int(sum(int(lab.max()) for lab in labels))
    best = ", ".join(f"{k} {v}" for k, v in summary.get("best_metrics", {}).items())
    return "\n".join([
        "Built-in nuclei model of napari-tiled-unet: fluorescence nuclei (DAPI/Hoechst-like), 2D, instances "
        f"(touching nuclei are separated; instance head '{config.instance_head}').",
        "Trained on synthetic images only, drawn by napari_tiled_unet.synthetic "
        f"(python -m napari_tiled_unet.builtin.train_nuclei --seed {seed} --images {n_images}).",
        f"Training set: {n_images} images of {MIN_SIDE}-{MAX_SIDE} px, {nuclei} nuclei, "
        f"{bits.count(8)} 8-bit and {bits.count(16)} 16-bit; every image has its own random style.",
        "Generator ranges: " + json.dumps(ranges.to_dict(), sort_keys=True),
        f"Training: {summary.get('steps')} steps in {seconds:.0f} s ({summary.get('epochs')} epochs, "
        f"{summary.get('device')}), stopped by {summary.get('stopped_by')}; best epoch "
        f"{summary.get('best_epoch')} ({best or 'no validation metrics'}).",
        f"Configuration: task={config.task}, patch {config.patch_size}, batch {config.batch_size}, learning rate "
        f"{config.learning_rate}, depth {config.unet.depth}, wf {config.unet.wf}, seed {config.seed}.",
        "Use it on nuclei images with nuclei of radius about 4-40 px; fine-tune it on your own annotations when "
        "your images differ.",
    ])


def _log(event: object) -> None:
    if isinstance(event, EpochEvent):
        metrics = " ".join(f"{k}={v:.3f}" for k, v in event.metrics.items())
        print(f"  epoch {event.epoch:4d} step {event.step:6d} {event.elapsed:8.1f}s loss {event.train_loss:.4f} "
              f"{metrics}{' *' if event.best else ''}", flush=True)


def train_and_write(build: Callable[[], tuple[list[np.ndarray], list[np.ndarray]]], kind: str,
                    config: TrainingConfig, out: Path,
                    card_for: Callable[[dict, float, list[np.ndarray], list[np.ndarray]], str],
                    init: Path | None = None, metadata: dict | None = None) -> None:
    """Build the training set, train on it and write the model with its card, printing progress.

    The steps every built-in model's script shares; ``card_for(summary, seconds, images, labels)`` writes the
    model card from the training summary; ``metadata`` is stored with it.
    """
    start = time.perf_counter()
    images, labels = build()
    print(f"{len(images)} synthetic {kind} ({sum(int(lab.max()) for lab in labels)} nuclei) in "
          f"{time.perf_counter() - start:.1f} s; training", flush=True)
    start = time.perf_counter()
    net = train(images, labels, config, callback=_log, init_model=init)
    seconds = time.perf_counter() - start
    summary = net.metadata["training"]
    card = card_for(summary, seconds, images, labels)
    path = save_model(net, out, metadata={**(metadata or {}), "description": card})
    print(f"wrote {path}: {summary['steps']} steps in {seconds:.0f} s\n{card}")


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m napari_tiled_unet.builtin.train_nuclei",
                                     description="Train the built-in nuclei model on synthetic images.")
    parser.add_argument("--out", type=Path, required=True, help="the model file to write (.safetensors)")
    parser.add_argument("--minutes", type=float, default=None, help="training time (default: 30 without --epochs)")
    parser.add_argument("--epochs", type=int, default=None, help="number of epochs (exactly repeatable on a CPU)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the training set and of the training")
    parser.add_argument("--images", type=int, default=128, help="number of synthetic training images")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--clutter", type=float, default=0.0,
                        help="share of images with textured unlabelled background (StyleRanges.share_clutter)")
    parser.add_argument("--stray-light", type=float, default=0.0,
                        help="share of images with strong additive light varying across the image "
                        "(StyleRanges.share_stray_light)")
    parser.add_argument("--init", type=Path, default=None, help="continue from this model file (a second stage)")
    parser.add_argument("--lr", type=float, default=None, help="peak learning rate (default: the training default; "
                        "with --init the fine-tuning default)")
    args = parser.parse_args(argv)
    if args.minutes is None and args.epochs is None:
        args.minutes = 30.0
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Build the training set, train, write the model; 2 on bad input (one line, no traceback)."""
    args = _parse(argv)
    try:
        if args.minutes is not None:
            check_float("--minutes", args.minutes, 0.01, 7 * 24 * 60.0)
        check_int("--images", args.images, 1, 100_000)
        if not args.out.parent.is_dir():
            raise ValueError(f"cannot write {args.out}: folder {args.out.parent} does not exist; create it first")
        check_float("--clutter", args.clutter, 0.0, 1.0)
        check_float("--stray-light", args.stray_light, 0.0, 1.0)
        if args.init is not None and not args.init.is_file():
            raise ValueError(f"--init {args.init} does not exist: give the model file of the first stage")
        changes = {} if args.lr is None else {"learning_rate": args.lr, "fine_tune_learning_rate": args.lr}
        config = builtin_config(seed=args.seed, epochs=args.epochs, device=args.device,
                                time_limit=None if args.minutes is None else args.minutes * 60.0, **changes)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    ranges = StyleRanges(share_clutter=args.clutter, share_stray_light=args.stray_light)

    def card_for(summary: dict, seconds: float, images: list[np.ndarray], labels: list[np.ndarray]) -> str:
        card = model_card(ranges, args.images, args.seed, config, summary, seconds, images, labels)
        if args.init is not None:
            card += (f"\nSecond stage: continued from {args.init.name} (--init), --clutter {args.clutter:g}, "
                     f"--stray-light {args.stray_light:g}, "
                     f"learning rate {summary['peak_learning_rate']:g}.")
        return card

    train_and_write(lambda: training_set(args.images, args.seed, ranges), "images", config, args.out, card_for,
                    init=args.init, metadata=RECOMMENDED_PREDICTION)
    return 0


if __name__ == "__main__":
    sys.exit(main())
