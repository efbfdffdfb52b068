"""Model selection: which weights training returns, compared on held-out objects with equal training steps.

Variants (``TrainingConfig`` fields ``weight_average`` and ``selection``): no weight averaging with the best
epoch's weights, the exponential moving average with the smoothed score (the default), and the averaged final
weights. Each trains ``--epochs`` epochs (equal steps whatever the load) from the dense masks of the top half of
an image and is scored on its bottom half (instance F1 at IoU 0.5).

Usage: ``python benchmarks/bench_selection.py [--epochs 25] [--seeds 0 1] [--images blobs sample]``
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from real_data import annotated_images

from napari_tiled_unet.inference import predict_image
from napari_tiled_unet.training.config import TrainingConfig
from napari_tiled_unet.training.loop import train
from napari_tiled_unet.training.metrics import match_instances

VARIANTS = {"best epoch, no averaging": {"weight_average": False, "selection": "best"},
            "averaged, smoothed score (default)": {"weight_average": True, "selection": "smoothed"},
            "averaged, final": {"weight_average": True, "selection": "final"}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--images", nargs="+", default=["blobs"], choices=["blobs", "sample", "standin"])
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.epochs} epochs per run")
    items = annotated_images()
    for name in args.images:
        item = items[name]
        for seed in args.seeds:
            for label, changes in VARIANTS.items():
                start = time.perf_counter()
                config = TrainingConfig(task="instances", epochs=args.epochs, time_limit=None, seed=seed, **changes)
                net = train(item.train_image[item.train_slice], item.train_labels[item.train_slice], config)
                predicted, _ = predict_image(net, item.test_image, output="instances")
                match = match_instances(predicted[item.test_slice], item.test_labels[item.test_slice], 0.5)
                summary = net.metadata["training"]
                print(json.dumps({"image": name, "seed": seed, "variant": label, "f1": round(match["f1"], 3),
                                  "objects": [match["n_pred"], match["n_true"]], "kept_epoch": summary["best_epoch"],
                                  "seconds": round(time.perf_counter() - start)}), flush=True)


if __name__ == "__main__":
    main()
