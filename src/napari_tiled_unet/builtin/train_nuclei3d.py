"""Train the built-in 3D nuclei model on synthetic confocal-like stacks only, deterministically from a seed.

``python -m napari_tiled_unet.builtin.train_nuclei3d --out nuclei3d.safetensors --minutes 20 --seed 0``

Every stack of the training set has its own random style (:mod:`napari_tiled_unet.synthetic` in 3D: nucleus
radius 7-16 px, shapes, density, brightness classes, texture, noise, 8 or 16 bit) and its own Z step of 1.8 to
3.2 times the pixel size, with the wider Z blur of a confocal. The net is the 3D default (depth 3) at width
``wf`` 3 (twice the training steps of wf 4 on a CPU), with the pooling and kernels planned for a Z step 2.5x
the pixel size: one in-plane pooling, then one over every axis (:func:`~napari_tiled_unet.anisotropy.
plan_pooling`). It therefore fits stacks whose Z step is about 1.5-3.5 pixel sizes, which get that same plan.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from napari_tiled_unet.checks import check_float, check_int
from napari_tiled_unet.synthetic import StyleRanges, style_for_seed, synthetic_nuclei
from napari_tiled_unet.training.config import TrainingConfig

from .train_nuclei import STEPS_PER_EPOCH, VAL_FRACTION, image_seeds, train_and_write

#: Relative voxel size the model is planned and trained for (Z step 2.5 pixel sizes).
PLANNED_SPACING = (2.5, 1.0, 1.0)
RANGES_3D = StyleRanges(radius=(7.0, 16.0), z_step=(1.8, 3.2))
PLANES = 40
MIN_SIDE, MAX_SIDE = 128, 192
WF = 3


def stack_shape(radius: float) -> tuple[int, int, int]:
    """``(Z, Y, X)`` of a training stack whose typical nucleus radius is ``radius`` (sides a multiple of 32)."""
    side = int(np.clip(np.rint(12 * radius / 32) * 32, MIN_SIDE, MAX_SIDE))
    return PLANES, side, side


def training_stacks(n_stacks: int = 48, seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Synthetic 3D stacks and instance masks of many different looks (deterministic from ``seed``)."""
    images, labels = [], []
    for stack_seed in image_seeds(n_stacks, seed):
        shape = stack_shape(style_for_seed(stack_seed, 3, RANGES_3D).radius)
        image, masks = synthetic_nuclei(shape, seed=stack_seed, ranges=RANGES_3D)
        images.append(image)
        labels.append(masks)
    return images, labels


def builtin_config_3d(**changes: object) -> TrainingConfig:
    """The training configuration of the built-in 3D model, with ``changes`` applied."""
    base = TrainingConfig.defaults(3, task="instances", steps_per_epoch=STEPS_PER_EPOCH, val_fraction=VAL_FRACTION,
                                   voxel_size=PLANNED_SPACING)
    return base.replace(unet=dataclasses.replace(base.unet, wf=WF), **changes)


def model_card(n_stacks: int, seed: int, config: TrainingConfig, summary: dict, seconds: float,
               labels: Sequence[np.ndarray]) -> str:
    """The model's ``description``: what it was trained on and how."""
    best = ", ".join(f"{k} {v}" for k, v in summary.get("best_metrics", {}).items())
    nuclei = int(sum(int(lab.max()) for lab in labels))
    return "\n".join([
        "Built-in 3D nuclei model of napari-tiled-unet: fluorescence nuclei in confocal-like stacks whose Z step "
        "is about 1.5-3.5 pixel sizes, instances (touching nuclei are separated).",
        "Trained on synthetic stacks only, drawn by napari_tiled_unet.synthetic "
        f"(python -m napari_tiled_unet.builtin.train_nuclei3d --seed {seed} --stacks {n_stacks}).",
        f"Training set: {n_stacks} stacks of {PLANES} planes, {MIN_SIDE}-{MAX_SIDE} px, {nuclei} nuclei, nucleus "
        f"radius {RANGES_3D.radius[0]:g}-{RANGES_3D.radius[1]:g} px, Z step {RANGES_3D.z_step[0]:g}-"
        f"{RANGES_3D.z_step[1]:g} pixel sizes.",
        f"Training: {summary.get('steps')} steps in {seconds:.0f} s ({summary.get('epochs')} epochs, "
        f"{summary.get('device')}), stopped by {summary.get('stopped_by')}; best epoch "
        f"{summary.get('best_epoch')} ({best or 'no validation metrics'}).",
        f"Configuration: depth {config.unet.depth}, wf {config.unet.wf}, pooling planned for a Z step "
        f"{PLANNED_SPACING[0]:g}x the pixel size, patch {config.patch_size} (memory), batch {config.batch_size}, "
        f"learning rate {config.learning_rate}, seed {config.seed}.",
        "Fine-tune it on a few annotated nuclei of your own stacks (train --dims 3 starts from it when it fits).",
    ])


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m napari_tiled_unet.builtin.train_nuclei3d",
                                     description="Train the built-in 3D nuclei model on synthetic stacks.")
    parser.add_argument("--out", type=Path, required=True, help="model file to write (.safetensors)")
    parser.add_argument("--minutes", type=float, default=20.0, help="training time (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the training set and of the training")
    parser.add_argument("--stacks", type=int, default=48, help="number of synthetic training stacks")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Build the training set, train, write the model; 2 on bad input (one line, no traceback)."""
    args = _parse(argv)
    try:
        check_float("--minutes", args.minutes, 0.01, 7 * 24 * 60.0)
        check_int("--stacks", args.stacks, 1, 100_000)
        if not args.out.parent.is_dir():
            raise ValueError(f"cannot write {args.out}: folder {args.out.parent} does not exist; create it first")
        config = builtin_config_3d(seed=args.seed, device=args.device, time_limit=args.minutes * 60.0)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    train_and_write(lambda: training_stacks(args.stacks, args.seed), "stacks", config, args.out,
                    lambda summary, seconds, _, labels: model_card(args.stacks, args.seed, config, summary, seconds,
                                                                   labels))
    return 0


if __name__ == "__main__":
    sys.exit(main())
