"""A nuclei model zero-shot on the stand-in and U2OS images made harder: noise, uneven background, uneven light.

Every held-out half (see :mod:`real_data`) is scored as it is and with one change at a time, sized by the
image's own nucleus contrast ``c`` (median of the nuclei minus median of the background):

- ``noise_snr5``, ``noise_snr2.5``: added Gaussian noise of sigma ``c / 5`` and ``c / 2.5``;
- ``add_ramp1``, ``add_ramp3``: added light rising linearly from one corner to the other by ``c`` and ``3c``
  (stray or out-of-focus light of a widefield microscope, autofluorescent medium);
- ``glow2``: added broad glow of ``2c`` off-centre;
- ``light_0.25``: the illumination falling to a quarter from one corner to the other (multiplicative).

Prints instance F1@0.5, mean AP, foreground IoU and object counts per case. Usage:
``python bench_robustness.py [--model builtin:nuclei] [--tta] [--flatten auto|on|off]`` (no training; a few
seconds per case).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from real_data import annotated_images

from napari_tiled_unet.builtin_models import resolve_model
from napari_tiled_unet.inference import predict_image
from napari_tiled_unet.model_file import load_model
from napari_tiled_unet.training.metrics import average_precision, foreground_iou, match_instances

NOISE_SEED = 0


def nucleus_contrast(image: np.ndarray, labels: np.ndarray) -> float:
    """Median of the nuclei minus median of the background."""
    return float(np.median(image[labels > 0]) - np.median(image[labels == 0]))


def harder_versions(image: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """The image as it is and with each change of the module docstring (float32)."""
    rng = np.random.default_rng(NOISE_SEED)
    plain = image.astype(np.float32)
    contrast = nucleus_contrast(plain, labels)
    yy, xx = np.mgrid[0:plain.shape[0], 0:plain.shape[1]].astype(np.float32)
    ramp = (xx / plain.shape[1] + yy / plain.shape[0]) / 2
    glow = np.exp(-(((xx - plain.shape[1] * 0.3) / (plain.shape[1] * 0.4)) ** 2
                    + ((yy - plain.shape[0] * 0.5) / (plain.shape[0] * 0.6)) ** 2))
    return {
        "as_it_is": plain,
        "noise_snr5": plain + rng.normal(0, contrast / 5, plain.shape).astype(np.float32),
        "noise_snr2.5": plain + rng.normal(0, contrast / 2.5, plain.shape).astype(np.float32),
        "add_ramp1": plain + contrast * ramp,
        "add_ramp3": plain + 3 * contrast * ramp,
        "glow2": plain + 2 * contrast * glow,
        "light_0.25": plain * (0.25 + 0.75 * ramp),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="builtin:nuclei", help="model file or builtin:NAME")
    parser.add_argument("--tta", action="store_true", help="with test-time augmentation (8x the time)")
    parser.add_argument("--flatten", default="auto", choices=("auto", "on", "off"),
                        help="flatten an uneven background first (default: auto, as predict does)")
    args = parser.parse_args()
    net = load_model(resolve_model(args.model))
    print(f"{args.model}, zero-shot, TTA {'on' if args.tta else 'off'}, flatten {args.flatten}:")
    totals: dict[str, list[float]] = {}
    for name in ("standin", "u2os"):
        item = annotated_images()[name]
        for case, image in harder_versions(item.test_image, item.test_labels).items():
            start = time.perf_counter()
            flattened: list[float] = []
            predicted, _ = predict_image(net, image, output="instances", tta=args.tta, flatten=args.flatten,
                                         on_flatten=lambda variation, _limit, seen=flattened: seen.append(variation))
            predicted, truth = predicted[item.test_slice], item.test_labels[item.test_slice]
            match = match_instances(predicted, truth, 0.5)
            totals.setdefault(case, []).append(match["f1"])
            mean_ap = average_precision(predicted, truth)["mean_ap"]
            fg_iou = foreground_iou(predicted > 0, truth > 0)
            print(f"  {name:8s} {case:13s} F1 {match['f1']:.3f}  mean AP {mean_ap:.3f}  fg IoU {fg_iou:.3f}  "
                  f"objects {match['n_pred']}/{match['n_true']}  {time.perf_counter() - start:.1f} s"
                  + (f"  (flattened: background varies by {flattened[0]:.2f})" if flattened else ""), flush=True)
    print("  mean F1 over both images: " + ", ".join(f"{case} {np.mean(f):.3f}" for case, f in totals.items()))


if __name__ == "__main__":
    main()
