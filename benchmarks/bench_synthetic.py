"""Speed of the synthetic nuclei generator: milliseconds per image, for random styles.

A training script makes thousands of images, so a 256x256 image should take well under 100 ms. Prints the
median, 90th percentile and worst time over ``--images`` random styles (each the best of ``--repeats`` runs, so
that a busy machine disturbs it less), in 2D and for a 32x128x128 stack in 3D, and the CPU time of the process
(close to the wall-clock time on a quiet machine: the generator runs on one core).

Usage: ``python benchmarks/bench_synthetic.py [--images 60] [--repeats 3] [--json out.json]``
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from napari_tiled_unet.synthetic import StyleRanges, render_nuclei, style_for_seed


def best_time(shape: tuple[int, ...], seed: int, repeats: int) -> tuple[float, float]:
    """Best wall-clock and best CPU time (seconds) of rendering one image."""
    style = style_for_seed(seed, len(shape), StyleRanges())
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        render_nuclei(shape, style, seed=seed)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return min(wall), min(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    results = {}
    for name, shape, count in (("2d_256", (256, 256), args.images), ("2d_512", (512, 512), args.images // 3),
                               ("3d_32x128x128", (32, 128, 128), max(3, args.images // 10))):
        times = np.array([best_time(shape, seed, args.repeats) for seed in range(count)]) * 1000
        ms, cpu = times[:, 0], times[:, 1]
        results[name] = {"images": count, "median_ms": float(np.median(ms)), "p90_ms": float(np.percentile(ms, 90)),
                         "max_ms": float(ms.max()), "slowest_seed": int(ms.argmax()),
                         "cpu_median_ms": float(np.median(cpu)), "cpu_max_ms": float(cpu.max())}
        print(f"{name}: " + ", ".join(f"{k}={v:.0f}" if isinstance(v, float) else f"{k}={v}"
                                      for k, v in results[name].items()), flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
