"""Training quality and throughput on the shipped synthetic nuclei, on this machine, in one run.

Trains (1) from the instance masks of ``nuclei_2d`` and (2) from its sparse scribbles, each for
``--time-limit`` seconds with the default configuration, then scores both on the held-out image
``nuclei_2d_test``: instance F1 at IoU 0.5 and foreground IoU. Also prints the training throughput (steps per
second, patches per second) and the data pipeline's share of a step, measured against the bare
forward/backward step in the same run.

Usage: ``python benchmarks/bench_training.py [--time-limit 120] [--only instances|sparse]``
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch

from napari_tiled_unet.inference import predict_image
from napari_tiled_unet.model import UNet
from napari_tiled_unet.samples import load_nuclei_2d, load_nuclei_2d_test
from napari_tiled_unet.training.config import TrainingConfig
from napari_tiled_unet.training.data import PatchSampler, patch_shape, prepare_training_data
from napari_tiled_unet.training.events import EpochEvent
from napari_tiled_unet.training.loop import train
from napari_tiled_unet.training.losses import training_loss
from napari_tiled_unet.training.metrics import foreground_iou, match_instances


def log_epochs(event):
    if isinstance(event, EpochEvent):
        metrics = " ".join(f"{k}={v:.3f}" for k, v in event.metrics.items())
        print(f"  epoch {event.epoch:3d} step {event.step:4d} {event.elapsed:6.1f}s loss {event.train_loss:.3f} "
              f"val {event.val_loss if event.val_loss is None else round(event.val_loss, 4)} {metrics}", flush=True)


def pipeline_share(config: TrainingConfig, image, labels, steps: int = 15) -> dict:
    """Time the data pipeline and the bare forward/backward step separately, in the same run."""
    data = prepare_training_data(image, labels, config)
    unet = UNet(config.unet.__class__(**{**config.unet.to_dict(), "in_channels": 1,
                                        "n_classes": data.encoding.n_classes}))
    unet.to(memory_format=torch.channels_last).train()
    patch = patch_shape(unet.config, config.patch_size, [i.spatial_shape for i in data.images])
    sampler = PatchSampler(data, unet.config, patch, config.augmentation, np.random.default_rng(0), 0.5)
    optimizer = torch.optim.AdamW(unet.parameters(), lr=1e-3)
    batch = sampler.batch(config.batch_size)
    data_time = step_time = 0.0
    for _ in range(steps):
        t0 = time.perf_counter()
        batch = sampler.batch(config.batch_size)
        t1 = time.perf_counter()
        x = torch.from_numpy(batch[0]).contiguous(memory_format=torch.channels_last)
        loss = training_loss(unet(x), torch.from_numpy(batch[1].astype(np.int64)), torch.from_numpy(batch[2]),
                             config.loss)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        t2 = time.perf_counter()
        data_time += t1 - t0
        step_time += t2 - t1
    return {"patch": list(patch), "batch": config.batch_size, "data_ms_per_batch": 1000 * data_time / steps,
            "compute_ms_per_step": 1000 * step_time / steps, "data_share_of_step": data_time / step_time,
            "steps_per_second_compute_only": steps / step_time}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--time-limit", type=float, default=120.0)
    parser.add_argument("--only", choices=["instances", "sparse"], default=None)
    parser.add_argument("--seed", type=int, default=0, help="training seed (runs of one seed follow one path)")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = parser.parse_args()
    train_set, test_set = load_nuclei_2d(), load_nuclei_2d_test()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cpus")
    results: dict = {"time_limit_s": args.time_limit}
    if args.only in (None, "instances"):
        config = TrainingConfig(task="instances", time_limit=args.time_limit, seed=args.seed)
        results["pipeline"] = pipeline_share(config, train_set["image"], train_set["labels"])
        print("data pipeline:", json.dumps({k: round(v, 3) if isinstance(v, float) else v
                                           for k, v in results["pipeline"].items()}))
        print(f"instances: training {args.time_limit:.0f} s from instance masks")
        net = train(train_set["image"], train_set["labels"], config, callback=log_epochs)
        summary = net.metadata["training"]
        predicted, _ = predict_image(net, test_set["image"], output="instances")
        match = match_instances(predicted, test_set["labels"])
        results["instances"] = {
            "steps": summary["steps"], "steps_per_second": summary["steps"] / summary["seconds"],
            "data_share_in_training": summary["data_share"], "test_instance_f1": match["f1"],
            "test_precision": match["precision"], "test_recall": match["recall"],
            "test_foreground_iou": foreground_iou(predicted > 0, test_set["labels"] > 0),
        }
        print("instances:", json.dumps({k: round(v, 3) for k, v in results["instances"].items()}))
    if args.only in (None, "sparse"):
        config = TrainingConfig(task="semantic", sparse=True, time_limit=args.time_limit,
                                seed=args.seed)
        print(f"sparse: training {args.time_limit:.0f} s from scribbles "
              f"({np.mean(train_set['scribbles'] > 0):.1%} of pixels annotated)")
        net = train(train_set["image"], train_set["scribbles"], config, callback=log_epochs)
        summary = net.metadata["training"]
        labels, _ = predict_image(net, test_set["image"], output="labels")
        train_labels, _ = predict_image(net, train_set["image"], output="labels")
        unannotated = train_set["scribbles"] == 0
        results["sparse"] = {
            "steps": summary["steps"], "steps_per_second": summary["steps"] / summary["seconds"],
            "test_foreground_iou": foreground_iou(labels == 2, test_set["labels"] > 0),
            "train_image_unannotated_foreground_iou": foreground_iou(train_labels == 2, train_set["labels"] > 0,
                                                                     ignore=~unannotated),
        }
        print("sparse:", json.dumps({k: round(v, 3) for k, v in results["sparse"].items()}))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
