"""The whole job on the shipped sample data, without a display (``make demo``).

1. Trains a U-Net from the instance masks of the synthetic 2D nuclei (``--time-limit`` seconds), and a second
   one from the sparse scribbles of the same image.
2. Predicts the held-out test image tile by tile with a small tile on purpose, and checks that the stitched
   logits equal one pass over the whole image.
3. Writes the models, the labels TIFFs and PNG overlays to ``--out`` and prints the scores against the
   sample's ground truth.

Run ``python -m napari_tiled_unet.demo --help`` for the options.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from skimage.segmentation import find_boundaries

from napari_tiled_unet.atomic import atomic_write_with
from napari_tiled_unet.image_io import write_tiff
from napari_tiled_unet.inference import normalizer_of, predict_image
from napari_tiled_unet.model import UNet
from napari_tiled_unet.model_file import save_model
from napari_tiled_unet.predict import plan_tiles, predict_tiled
from napari_tiled_unet.samples import load_nuclei_2d, load_nuclei_2d_test
from napari_tiled_unet.tiling import tile_context
from napari_tiled_unet.training.config import TrainingConfig
from napari_tiled_unet.training.events import EpochEvent
from napari_tiled_unet.training.loop import train
from napari_tiled_unet.training.metrics import foreground_iou, match_instances


def _log(event: object) -> None:
    if isinstance(event, EpochEvent):
        metrics = " ".join(f"{k}={v:.3f}" for k, v in event.metrics.items())
        print(f"  epoch {event.epoch:2d}  {event.elapsed:5.1f} s  loss {event.train_loss:.3f}  {metrics}"
              f"{'  *' if event.best else ''}", flush=True)


def overlay_png(path: Path, image: np.ndarray, labels: np.ndarray) -> None:
    """Write the image in grey with the outlines of ``labels`` in colour."""
    import imageio.v3 as iio

    low, high = np.percentile(image, (1, 99.8))
    grey = np.clip((image.astype(np.float32) - low) / max(high - low, 1e-6), 0, 1)
    rgb = np.stack([grey] * 3, axis=-1)
    edges = find_boundaries(labels, mode="inner")
    rgb[edges] = (1.0, 0.85, 0.0)
    atomic_write_with(path, lambda tmp: iio.imwrite(tmp, (rgb * 255).astype(np.uint8), extension=".png"))


def exactness_check(net: UNet, image: np.ndarray) -> float:
    """Max |tiled - one pass| of the logits, tiles deliberately small so that there are many seams."""
    normalized = normalizer_of(net).apply(image)
    layout, _ = plan_tiles(net, normalized.shape, tile_shape=140)
    tiled = predict_tiled(net, normalized, tile_shape=140)
    context = tile_context(net.config)
    padded = [net.config.nearest_valid_sizes(s + 2 * context)[1] for s in normalized.shape]
    canvas = np.pad(normalized, [(context, p - s - context) for s, p in zip(normalized.shape, padded)], "reflect")
    with torch.inference_mode():
        whole = net(torch.from_numpy(np.ascontiguousarray(canvas))[None, None])[0].numpy()
    whole = whole[(slice(None), *(slice(0, s) for s in normalized.shape))]
    print(f"  {layout.n_tiles} tiles of {layout.tile_shape} px: max |tiled - one pass| = "
          f"{np.abs(tiled - whole).max():.2e} (logits range {np.ptp(whole):.1f})")
    return float(np.abs(tiled - whole).max())


def run_demo(out: Path, time_limit: float, sparse_time_limit: float) -> dict[str, float]:
    """Train, predict and score; returns the scores."""
    out.mkdir(parents=True, exist_ok=True)
    train_set, test_set = load_nuclei_2d(), load_nuclei_2d_test()
    scores: dict[str, float] = {}

    print(f"1/2 instances: training {time_limit:.0f} s from the instance masks of nuclei_2d (512x512)")
    t0 = time.perf_counter()
    net = train(train_set["image"], train_set["labels"], TrainingConfig(task="instances", time_limit=time_limit),
                callback=_log)
    saved = save_model(net, out / "nuclei_instances.safetensors")
    print(f"  trained in {time.perf_counter() - t0:.0f} s; saved {saved}")
    scores["tiling_max_abs_error"] = exactness_check(net, test_set["image"])
    instances, axes = predict_image(net, test_set["image"], output="instances", tile_shape=140)
    write_tiff(out / "nuclei_2d_test_instances.tif", instances, axes)
    overlay_png(out / "nuclei_2d_test_instances.png", test_set["image"], instances)
    match = match_instances(instances, test_set["labels"])
    scores.update(instance_f1=match["f1"], instance_precision=match["precision"], instance_recall=match["recall"],
                  instances_foreground_iou=foreground_iou(instances > 0, test_set["labels"] > 0))
    print(f"  held-out test image: {match['n_pred']} objects found, {match['n_true']} true; instance F1@0.5 = "
          f"{match['f1']:.3f} (precision {match['precision']:.3f}, recall {match['recall']:.3f}); foreground IoU = "
          f"{scores['instances_foreground_iou']:.3f}")

    annotated = np.mean(train_set["scribbles"] > 0)
    print(f"2/2 scribbles: training {sparse_time_limit:.0f} s from sparse scribbles ({annotated:.1%} of pixels)")
    sparse = train(train_set["image"], train_set["scribbles"],
                   TrainingConfig(task="semantic", sparse=True, time_limit=sparse_time_limit), callback=_log)
    save_model(sparse, out / "nuclei_scribbles.safetensors")
    labels, axes = predict_image(sparse, test_set["image"], output="labels")
    write_tiff(out / "nuclei_2d_test_scribble_labels.tif", labels, axes)
    overlay_png(out / "nuclei_2d_test_scribble_labels.png", test_set["image"], labels == 2)
    scores["scribbles_foreground_iou"] = foreground_iou(labels == 2, test_set["labels"] > 0)
    print(f"  held-out test image: foreground IoU = {scores['scribbles_foreground_iou']:.3f} "
          "(labels: 1 = background, 2 = nucleus, as painted)")
    print(f"results in {out}/: models (.safetensors), labels (.tif), overlays (.png)")
    return scores


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m napari_tiled_unet.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="demo_output", help="output folder (default: demo_output)")
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds of instance training (default 60)")
    parser.add_argument("--sparse-time-limit", type=float, default=30.0,
                        help="seconds of scribble training (default 30)")
    args = parser.parse_args(argv)
    try:
        run_demo(Path(args.out), args.time_limit, args.sparse_time_limit)
    except (ValueError, OSError) as err:
        print(f"demo: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
