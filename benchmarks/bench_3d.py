"""3D nuclei in stacks with a coarse Z step: isotropic against per-axis pooling, 2D models with linking, speed.

On synthetic confocal-like stacks (:mod:`anisotropic_nuclei`: nuclei about 10 planes tall, many touching, Z blur
wider than XY, noise), generated here with a Z step 2x and 3x the pixel size, and on the 2x stack with every
second plane removed (4x, nuclei about 5 planes tall), the script trains on one stack and scores on another
(held out, other seed), each training ``--time-limit`` seconds on the CPU from the 3D defaults
(``TrainingConfig.defaults(3)``) with the voxel size given:

- ``isotropic``: ``anisotropy="isotropic"``, the classic net on the default cube patches;
- ``auto``: the per-axis pooling planned from the voxel size, on patches of about equal physical edges within
  the same patch memory (the activations a step keeps, estimated per patch and printed as a share of the
  default cube's);
- ``2d``: a 2D model (``TrainingConfig.defaults(2)``) trained on the planes of the training stack, predicted
  plane by plane and linked across planes at several stitch thresholds (share of the smaller object; 0 = not
  linked), cut at area valleys (``0.5-uncut``: linked at 0.5, not cut at valleys); the planes are post-processed
  with the settings the model stores for linked Z planes (tuned without seed cuts), ``0.5-seeds-cut`` with its
  single-image settings (seeds cut) instead;
- ``builtin``: ``auto`` fine-tuned from the shipped ``builtin:nuclei3d`` (trained on another generator's
  stacks, :mod:`napari_tiled_unet.synthetic`) for the same time, as ``train`` does by default for 3D nuclei;
  ``builtin-zeroshot``: that model as it is, no training; ``2d-builtin``: ``2d`` fine-tuned from
  ``builtin:nuclei``, as ``train`` does by default for the planes of a stack.

Scores: 3D instance F1 at IoU 0.5 and the mean over IoU 0.5:0.05:0.95 of TP / (TP + FP + FN) ("mAP", the Data
Science Bowl / StarDist average precision), plus the training steps and patch shape. ``speed`` times the 3D
tiled prediction (the automatic tile) against one pass over the whole volume, in the same run, and checks they
agree. Timings of a loaded machine are noisy; compare within one run.

Usage: ``python benchmarks/bench_3d.py [--time-limit 120 | --epochs 9] [--patch-size 92] [--only 2:1 3:1 half-z
speed] [--variants isotropic auto 2d 2d-builtin builtin builtin-zeroshot] [--json results.json]``
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time

import numpy as np
import torch
from anisotropic_nuclei import make_stack
from skimage.segmentation import relabel_sequential

from napari_tiled_unet import UNet, predict_tiled
from napari_tiled_unet.anisotropy import planned_config
from napari_tiled_unet.builtin_models import builtin_model_names, resolve_model
from napari_tiled_unet.inference import predict_image
from napari_tiled_unet.instance_output import instance_settings_of
from napari_tiled_unet.model_file import load_model
from napari_tiled_unet.stitching import link_planes
from napari_tiled_unet.tile_engine import plan_tiles
from napari_tiled_unet.tiling import smallest_tile_for_step
from napari_tiled_unet.training.anisotropic_patches import reference_budget, training_feature_elements
from napari_tiled_unet.training.config import TrainingConfig
from napari_tiled_unet.training.loop import train
from napari_tiled_unet.training.metrics import match_instances

PIXEL_UM = 0.5
CASES = {"2:1": ((2.0, 1.0, 1.0), (44, 176, 176)), "3:1": ((3.0, 1.0, 1.0), (40, 192, 192))}
TRAIN_SEED, TEST_SEED = 11, 12
STITCH_THRESHOLDS = (0.0, 0.3, 0.5, 0.7)
BUILTIN_3D = "builtin:nuclei3d"
BUILTIN_2D = "builtin:nuclei"
IOU_THRESHOLDS = tuple(np.round(np.arange(0.5, 0.96, 0.05), 2))


def stacks(case: str) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray], tuple[float, ...]]:
    """Training and test stacks with their labels, and the voxel size in micrometres."""
    spacing, shape = CASES["2:1" if case == "half-z" else case]
    pairs = [make_stack(shape, spacing, seed) for seed in (TRAIN_SEED, TEST_SEED)]
    if case == "half-z":  # every second plane removed: a Z step twice as coarse, objects half as many planes
        pairs = [(image[::2], relabel_sequential(labels[::2])[0]) for image, labels in pairs]
        spacing = (2 * spacing[0], *spacing[1:])
    return pairs[0], pairs[1], tuple(s * PIXEL_UM for s in spacing)


def scores(predicted: np.ndarray, truth: np.ndarray) -> dict:
    """F1, precision and recall at IoU 0.5, the mean AP over IoU 0.5:0.95, and the object counts."""
    at_half = match_instances(predicted, truth, 0.5)
    aps = []
    for threshold in IOU_THRESHOLDS:
        match = match_instances(predicted, truth, float(threshold))
        aps.append(match["tp"] / max(1, match["tp"] + match["fp"] + match["fn"]))
    return {"f1": at_half["f1"], "precision": at_half["precision"], "recall": at_half["recall"],
            "mean_ap": float(np.mean(aps)), "n_pred": at_half["n_pred"], "n_true": at_half["n_true"]}


def training_summary(net: UNet, seconds: float) -> dict:
    """Steps, time, patch, architecture and patch memory (share of the default cube's) of a trained model."""
    summary = net.metadata["training"]
    patch = tuple(summary["patch_shape"])
    config = summary["config"]
    memory = training_feature_elements(net.config, patch) / reference_budget(net.config, config["patch_size"])
    return {"steps": summary["steps"], "train_seconds": round(seconds, 1), "patch": list(patch),
            "pooling": [list(p) for p in net.config.pool_factors], "patch_memory_share": round(memory, 3),
            "best_epoch": summary["best_epoch"], "postprocess": net.metadata.get("postprocess")}


def budget(args: argparse.Namespace) -> dict:
    """The training budget: ``--time-limit`` seconds, or ``--epochs`` epochs whatever they take."""
    if args.epochs:
        return {"epochs": args.epochs, "time_limit": None}
    return {"time_limit": args.time_limit}


def run_3d(train_pair, test_pair, voxel, anisotropy: str, args: argparse.Namespace, init: str | None = None) -> dict:
    """Train a 3D model (from a new network, or fine-tuned from ``init``) and score it on the test stack."""
    changes = {"patch_size": args.patch_size} if args.patch_size else {}
    config = TrainingConfig.defaults(3, task="instances", voxel_size=voxel, anisotropy=anisotropy, device="cpu",
                                     **budget(args), **changes)
    start = time.perf_counter()
    net = train(train_pair[0], train_pair[1], config, init_model=None if init is None else resolve_model(init))
    result = training_summary(net, time.perf_counter() - start)
    start = time.perf_counter()
    predicted, _ = predict_image(net, test_pair[0], output="instances")
    result["predict_seconds"] = round(time.perf_counter() - start, 1)
    result.update(scores(predicted, test_pair[1]))
    return result


def run_builtin_zeroshot(test_pair) -> dict:
    """The shipped 3D nuclei model as it is, scored on the test stack."""
    net = load_model(resolve_model(BUILTIN_3D))
    start = time.perf_counter()
    predicted, _ = predict_image(net, test_pair[0], output="instances")
    return {"predict_seconds": round(time.perf_counter() - start, 1), **scores(predicted, test_pair[1])}


def run_2d(train_pair, test_pair, voxel, args: argparse.Namespace, init: str | None = None) -> dict:
    """Train a 2D model on the planes (new, or from ``init``), predict plane by plane and link across planes at
    several thresholds."""
    config = TrainingConfig.defaults(2, task="instances", voxel_size=voxel, device="cpu", **budget(args))
    start = time.perf_counter()
    net = train(train_pair[0], train_pair[1], config, init_model=None if init is None else resolve_model(init))
    result = training_summary(net, time.perf_counter() - start)
    start = time.perf_counter()
    product, _ = predict_image(net, test_pair[0], axes="ZYX", output="instances")  # as predict does it (0.5)
    result["predict_seconds"] = round(time.perf_counter() - start, 1)
    # the planes with the settings predict uses for linked Z planes (tuned without seed cuts where the model
    # stores them), and with the single-image settings (seeds cut), linked here at several thresholds
    linked_settings = instance_settings_of(net, linked_planes=True)
    planes, _ = predict_image(net, test_pair[0], axes="ZYX", output="instances", instance_settings=linked_settings,
                              stitch_threshold=0.0)
    cut_planes, _ = predict_image(net, test_pair[0], axes="ZYX", output="instances", stitch_threshold=0.0)
    result["by_stitch_threshold"] = {
        str(t): scores(product if t == 0.5 else link_planes(planes if t else cut_planes, t), test_pair[1])
        for t in STITCH_THRESHOLDS}
    result["by_stitch_threshold"]["0.5-uncut"] = scores(link_planes(planes, 0.5, valley_ratio=0.0), test_pair[1])
    result["by_stitch_threshold"]["0.5-seeds-cut"] = scores(link_planes(cut_planes, 0.5), test_pair[1])
    result["linked_planes_settings"] = linked_settings.to_dict()
    return result


def run_speed(voxel, shape=(48, 256, 256), repeats: int = 2) -> dict:
    """Seconds of the tiled prediction (automatic tiles) and of one pass over the whole volume, same run."""
    torch.manual_seed(0)
    unet = planned_config(dataclasses.replace(TrainingConfig.defaults(3).unet, n_classes=4), voxel)
    net = UNet(unet).eval()
    volume = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    whole = tuple(smallest_tile_for_step(unet, n, a) for a, n in enumerate(shape))
    times: dict[str, float] = {}
    outputs = {}
    for name, tile in (("tiled", None), ("whole", whole)):
        best = np.inf
        for _ in range(repeats):
            start = time.perf_counter()
            outputs[name] = predict_tiled(net, volume, tile_shape=tile)
            best = min(best, time.perf_counter() - start)
        times[name] = best
    layout, batch = plan_tiles(net, shape)
    computed = layout.n_tiles * math.prod(unet.output_shape(layout.tile_shape)) / math.prod(unet.output_shape(whole))
    return {"shape": list(shape), "pooling": [list(p) for p in unet.pool_factors], "whole_tile": list(whole),
            "auto_tile": list(layout.tile_shape), "tiles": layout.n_tiles, "batch": batch,
            "tiled_output_over_whole_output": round(computed, 3),
            "tiled_seconds": round(times["tiled"], 2), "whole_seconds": round(times["whole"], 2),
            "whole_over_tiled": round(times["whole"] / times["tiled"], 3),
            "max_abs_difference": float(np.abs(outputs["tiled"] - outputs["whole"]).max())}


def _line(name: str, result: dict) -> str:
    keys = ("f1", "mean_ap", "precision", "recall", "n_pred", "n_true", "steps", "patch", "patch_memory_share",
            "pooling", "train_seconds", "predict_seconds")
    return f"  {name:10s} " + " ".join(f"{k}={round(result[k], 3) if isinstance(result[k], float) else result[k]}"
                                       for k in keys if k in result)


def main() -> None:
    """Run the selected cases and print (and optionally save) the results."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--time-limit", type=float, default=120.0, help="seconds of training per model")
    parser.add_argument("--epochs", type=int, default=None,
                        help="train this many epochs (20 steps each) instead: equal steps whatever the machine's load")
    parser.add_argument("--patch-size", type=int, default=None,
                        help="the 3D models' patch_size (the cube whose memory the patches use; default: the 3D "
                             "default)")
    parser.add_argument("--only", nargs="+", choices=[*CASES, "half-z", "speed"], default=None)
    parser.add_argument("--variants", nargs="+", choices=["isotropic", "auto", "2d", "2d-builtin", "builtin",
                                                       "builtin-zeroshot"],
                        default=["isotropic", "auto", "2d", "2d-builtin", "builtin", "builtin-zeroshot"])
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = parser.parse_args()
    print("command:", " ".join([os.path.basename(sys.executable), *sys.argv]))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cpus, "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    results: dict = {"budget": budget(args), "patch_size": args.patch_size, "load_average": os.getloadavg()[0]}
    for case in args.only or [*CASES, "half-z", "speed"]:
        if case == "speed":
            results["speed"] = {name: run_speed(voxel) for name, voxel in
                                (("auto 2:1", (1.0, 0.5, 0.5)), ("isotropic", (0.5, 0.5, 0.5)))}
            for name, result in results["speed"].items():
                print(f"speed {name}:", json.dumps(result), flush=True)
            continue
        train_pair, test_pair, voxel = stacks(case)
        print(f"{case}: voxel {voxel} um, train {train_pair[0].shape} ({int(train_pair[1].max())} nuclei), "
              f"test {test_pair[0].shape} ({int(test_pair[1].max())} nuclei)", flush=True)
        results[case] = {}
        for variant in args.variants:
            needed = {"builtin": BUILTIN_3D, "builtin-zeroshot": BUILTIN_3D, "2d-builtin": BUILTIN_2D}.get(variant)
            if needed and needed.split(":")[1] not in builtin_model_names():
                print(f"  {variant:10s} not run: this installation ships no {needed}", flush=True)
                continue
            if variant == "builtin-zeroshot":
                result = run_builtin_zeroshot(test_pair)
                print(_line(variant, result), flush=True)
            elif variant in ("2d", "2d-builtin"):
                init = BUILTIN_2D if variant == "2d-builtin" else None
                result = run_2d(train_pair, test_pair, voxel, args, init)
                for threshold, linked in result["by_stitch_threshold"].items():
                    print(_line(f"{variant}@{threshold}", {**result, **linked}), flush=True)
            else:
                init = BUILTIN_3D if variant == "builtin" else None
                result = run_3d(train_pair, test_pair, voxel, "auto" if init else variant, args, init)
                print(_line(variant, result), flush=True)
            results[case][variant] = result
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2, default=float)


if __name__ == "__main__":
    main()
