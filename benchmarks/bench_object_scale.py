"""builtin:nuclei zero-shot with and without shrinking large objects, by object size (no training).

Held-out synthetic images of random styles (the generator of the built-in model, another seed than its training
set; nucleus radius 4-40 px), and the stand-in enlarged 1.5x and 2x: instance F1@0.5 with ``rescale="off"``
against the default ``"auto"`` (see :mod:`napari_tiled_unet.object_scale`), grouped by the median radius of the
true objects; and a time-lapse of the stand-in enlarged 2x (one factor for all frames). Usage:
``python bench_object_scale.py [--images 40] [--tta]``.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from real_data import annotated_images
from scipy import ndimage as ndi

from napari_tiled_unet.builtin.train_nuclei import training_set
from napari_tiled_unet.builtin_models import resolve_model
from napari_tiled_unet.inference import predict_image
from napari_tiled_unet.model_file import load_model
from napari_tiled_unet.object_scale import median_radius
from napari_tiled_unet.training.metrics import match_instances

BINS = ((0, 8), (8, 12), (12, 16), (16, 22), (22, 30), (30, 80))
HELD_OUT_SEED = 777


def f1_both_ways(net, image: np.ndarray, labels: np.ndarray, tta: bool) -> tuple[float, float, float]:
    """F1 with rescale off, F1 with auto, and the factor auto used (1.0: not rescaled)."""
    scores, factors = [], []
    for rescale in ("off", "auto"):
        predicted, _ = predict_image(net, image, output="instances", tta=tta, rescale=rescale,
                                     on_rescale=lambda factor, _radius: factors.append(factor))
        scores.append(match_instances(predicted, labels)["f1"])
    return scores[0], scores[1], factors[0] if factors else 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--tta", action="store_true", help="with test-time augmentation (8x the time)")
    args = parser.parse_args()
    net = load_model(resolve_model("builtin:nuclei"))
    images, labels = training_set(n_images=args.images, seed=HELD_OUT_SEED)
    rows = []
    for image, truth in zip(images, labels):
        off, auto, factor = f1_both_ways(net, image, truth, args.tta)
        rows.append((median_radius(truth), off, auto, factor))
    table = np.array(rows)
    print(f"held-out synthetic images ({args.images}, TTA {'on' if args.tta else 'off'}), F1@0.5 off -> auto:")
    for low, high in BINS:
        chosen = (table[:, 0] >= low) & (table[:, 0] < high)
        if chosen.any():
            print(f"  median radius {low}-{high} px, {chosen.sum()} images: {table[chosen, 1].mean():.3f} -> "
                  f"{table[chosen, 2].mean():.3f} (shrunk: {np.sum(table[chosen, 3] < 1)})")
    standin = annotated_images()["standin"]
    image, truth = standin.test_image[standin.test_slice], standin.test_labels[standin.test_slice]
    for zoom in (1.0, 1.5, 2.0):
        scaled = image if zoom == 1 else ndi.zoom(image.astype(np.float32), zoom, order=1)
        scaled_truth = truth if zoom == 1 else ndi.zoom(truth, zoom, order=0)
        off, auto, factor = f1_both_ways(net, scaled, scaled_truth, args.tta)
        print(f"  stand-in x{zoom} (radius {median_radius(scaled_truth):.0f} px): {off:.3f} -> {auto:.3f} "
              f"(factor {factor:.2f})")
    # a time-lapse of three frames of the stand-in enlarged 2x (new noise each): one factor for the stack
    big = ndi.zoom(image.astype(np.float32), 2.0, order=1)
    big_truth = ndi.zoom(truth, 2.0, order=0)
    rng = np.random.default_rng(0)
    movie = np.stack([big + rng.normal(0, 0.05 * big.std(), big.shape) for _ in range(3)]).astype(np.float32)
    for rescale in ("off", "auto"):
        factors = []
        predicted, _ = predict_image(net, movie, axes="TYX", output="instances", rescale=rescale,
                                     stitch_threshold=0.0,
                                     on_rescale=lambda factor, _r, seen=factors: seen.append(factor))
        scores = [match_instances(frame, big_truth)["f1"] for frame in predicted]
        print(f"  time-lapse of 3 frames of the stand-in x2, rescale {rescale}: F1 per frame "
              + ", ".join(f"{f:.3f}" for f in scores) + (f" (factor {factors[0]:.2f})" if factors else ""))
    print(json.dumps({"all_images_off": round(float(table[:, 1].mean()), 3),
                      "all_images_auto": round(float(table[:, 2].mean()), 3)}))


if __name__ == "__main__":
    main()
