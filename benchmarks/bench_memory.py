"""Peak resident memory of the command line on a big image: ``predict`` of an 8192x8192 uint16 TIFF to labels.

The image is written to a temporary folder (uncompressed, 128 MiB, and zlib-compressed tiled), a D=4, wf=4
model file is made, and ``napari-tiled-unet predict`` runs in a child process whose peak resident set size
(``ru_maxrss``) is read afterwards. The bar: below 2 GiB. Also prints the time and output megapixels/second.

Usage: ``python benchmarks/bench_memory.py [--size 8192] [--compressed]``
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile
import torch

from napari_tiled_unet import UNet, UNetConfig, save_model
from napari_tiled_unet.normalization import PercentileNormalization


def make_image(path: Path, size: int, compressed: bool) -> None:
    rng = np.random.default_rng(0)
    rows = 1024
    shape = (size, size)

    def strips():
        for start in range(0, size, rows):
            yield (rng.random((min(rows, size - start), size)) * 4000).astype(np.uint16)

    if compressed:
        tile = 512

        def tiles():
            for _ in range(0, size, tile):
                block = (rng.random((tile, size)) * 4000).astype(np.uint16)
                for x in range(0, size, tile):
                    yield block[:, x : x + tile]

        tifffile.imwrite(path, tiles(), shape=shape, dtype=np.uint16, tile=(tile, tile), compression="zlib")
    else:
        tifffile.imwrite(path, np.concatenate(list(strips())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=8192)
    parser.add_argument("--compressed", action="store_true", help="zlib-compressed tiled TIFF input")
    parser.add_argument("--lazy", action="store_true", help="force the lazy (dask, region by region) path")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        image = folder / "big.tif"
        make_image(image, args.size, args.compressed)
        torch.manual_seed(0)
        net = UNet(UNetConfig(depth=4, wf=4, n_classes=3))
        net.metadata = {"normalization": PercentileNormalization().to_dict(), "task": "semantic",
                        "label_values": [0, 1, 2]}
        model = save_model(net, folder / "model.safetensors")
        command = [sys.executable, "-m", "napari_tiled_unet.cli", "predict", str(model), str(image), "--out",
                   str(folder / "labels.tif"), "--output", "labels", "--quiet"] + (["--lazy"] if args.lazy else [])
        start = time.perf_counter()
        subprocess.run(command, check=True)
        seconds = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
        labels = tifffile.imread(folder / "labels.tif")
        mode = "lazy" if args.lazy else "automatic"
        kind = "zlib tiled" if args.compressed else "uncompressed"
        print(f"{args.size}x{args.size} uint16 ({kind}, {mode}) -> labels "
              f"{labels.shape} {labels.dtype}: peak RSS {peak / 2**30:.2f} GiB (bar < 2 GiB), {seconds:.1f} s, "
              f"{args.size**2 / seconds / 1e6:.2f} output MP/s")


if __name__ == "__main__":
    main()
