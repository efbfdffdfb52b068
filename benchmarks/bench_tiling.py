"""Tiled prediction speed against one whole-image pass and against the machine's 3x3 convolution ceiling.

Everything is measured in one run on the same machine (shared machines are noisy; compare the ratios):

- output megapixels per second of tiled prediction (automatic tile, channels_last, inference_mode);
- the time ratio tiled / one whole-image pass of the same net over the mirror-padded image;
- useful GFLOP/s (network FLOPs per output pixel x pixels / time) as a share of the 3x3 convolution ceiling
  measured here (a 3x3 conv of the net's own widths at the same resolution);
- that the tiled and the one-pass logits agree.

- with MONAI importable (``make benchmarks`` installs it into ``benchmarks/.monai`` only, never as a
  dependency): MONAI's ``sliding_window_inference`` at its default overlap (0.25) on the same-padding net of
  the same size, with a tile of the same edge, against our exact tiled valid-padding prediction.

Usage: ``python benchmarks/bench_tiling.py [--size 2048] [--depth 4] [--wf 4] [--repeats 2]``
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

from napari_tiled_unet import UNet, UNetConfig, predict_tiled
from napari_tiled_unet.predict import plan_tiles
from napari_tiled_unet.tiling import tile_context


def conv_flops(net: UNet, shape: tuple[int, ...]) -> int:
    """FLOPs of one forward pass over an input of ``shape`` (convolutions only: 2 per multiply-add)."""
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        kernel = int(np.prod(module.kernel_size))
        total += 2 * output.numel() * module.in_channels * kernel // module.groups

    handles = [m.register_forward_hook(hook) for m in net.modules()
               if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d, torch.nn.Conv3d, torch.nn.ConvTranspose3d))]
    with torch.inference_mode():
        net(torch.zeros(1, net.config.in_channels, *shape))
    for handle in handles:
        handle.remove()
    return total


def best_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def conv_ceiling(channels: int, size: int, repeats: int) -> float:
    """GFLOP/s of a channels_last 3x3 convolution at this width: the machine's achievable rate."""
    conv = torch.nn.Conv2d(channels, channels, 3).to(memory_format=torch.channels_last).eval()
    x = torch.rand(1, channels, size, size).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        conv(x)
        seconds = best_time(lambda: conv(x), repeats)
    flops = 2 * channels * channels * 9 * (size - 2) ** 2
    return flops / seconds / 1e9


def monai_comparison(args: argparse.Namespace, image: np.ndarray, roi: int, seconds_ours: float) -> None:
    """MONAI's sliding window (default overlap 0.25, constant blending) on the same-padding net."""
    sys.path.insert(0, str(Path(__file__).parent / ".monai"))
    try:
        from monai.inferers import sliding_window_inference
    except ImportError:
        print("MONAI: not installed (make benchmarks installs it into benchmarks/.monai); comparison skipped")
        return
    same = UNet(UNetConfig(depth=args.depth, wf=args.wf, padding="same")).eval()
    same.to(memory_format=torch.channels_last)
    roi = max(same.config.alignment, roi // same.config.alignment * same.config.alignment)
    x = torch.from_numpy(image)[None, None]

    def run():
        with torch.inference_mode():
            return sliding_window_inference(x, (roi, roi), 1, same, overlap=0.25)

    run()
    seconds = best_time(run, args.repeats)
    print(f"MONAI sliding_window_inference (same padding, roi {roi}, overlap 0.25): {seconds:7.2f} s  "
          f"{args.size**2 / seconds / 1e6:6.2f} output MP/s; ours (exact, valid) / MONAI = "
          f"{seconds_ours / seconds:.3f}")


def peak_tiled_memory(net: UNet, image: np.ndarray, tile: int | None) -> int:
    """Peak resident memory of a tiled prediction alone, measured in a fresh child process."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(_tiled_peak_child, (net.state_dict(), net.config.to_dict(), image, tile))


def _tiled_peak_child(state: dict, config: dict, image: np.ndarray, tile: int | None) -> int:
    child = UNet(UNetConfig.from_dict(config)).eval()
    child.load_state_dict(state)
    predict_tiled(child, image, tile_shape=tile)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--wf", type=int, default=4)
    parser.add_argument("--tile", type=int, default=None, help="tile size (default: automatic)")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(0)
    net = UNet(UNetConfig(depth=args.depth, wf=args.wf)).eval()
    image = np.random.default_rng(0).random((args.size, args.size)).astype(np.float32)
    layout, batch = plan_tiles(net, image.shape, args.tile)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; image {args.size}^2, depth {args.depth}, "
          f"wf {args.wf}, tile {layout.tile_shape} x {layout.n_tiles} (batch {batch}), "
          f"input overhead {layout.overhead:.3f}")

    context = tile_context(net.config)
    padded = net.config.nearest_valid_sizes(args.size + 2 * context)[1]
    canvas = np.pad(image, (context, padded - args.size - context), mode="reflect")
    whole_net = UNet(net.config).eval()
    whole_net.load_state_dict(net.state_dict())
    whole_net.to(memory_format=torch.channels_last)
    x = torch.from_numpy(canvas)[None, None].contiguous(memory_format=torch.channels_last)

    def whole():
        with torch.inference_mode():
            return whole_net(x)[0, :, : args.size, : args.size].numpy()

    tiled_result = predict_tiled(net, image, tile_shape=args.tile)
    whole_result = whole()
    seconds_tiled = best_time(lambda: predict_tiled(net, image, tile_shape=args.tile), args.repeats)
    seconds_whole = best_time(whole, args.repeats)
    flops_per_px = conv_flops(net, (padded, padded)) / (padded - 2 * net.config.margin) ** 2
    useful = flops_per_px * args.size**2 / seconds_tiled / 1e9
    ceiling = max(conv_ceiling(2 ** (args.wf + level), 256 >> level, args.repeats) for level in range(2))
    print(f"tiled:        {seconds_tiled:7.2f} s  {args.size**2 / seconds_tiled / 1e6:6.2f} output MP/s")
    print(f"one pass:     {seconds_whole:7.2f} s  {args.size**2 / seconds_whole / 1e6:6.2f} output MP/s")
    print(f"ratio tiled / one pass: {seconds_tiled / seconds_whole:.3f}")
    print(f"network: {flops_per_px / 1e6:.3f} MFLOP per output pixel; useful {useful:.1f} GFLOP/s = "
          f"{useful / ceiling:.0%} of the 3x3 conv ceiling ({ceiling:.1f} GFLOP/s measured now)")
    print(f"max |tiled - one pass| = {np.abs(tiled_result - whole_result).max():.2e}")
    tiled_peak = peak_tiled_memory(net, image, args.tile)
    print(f"peak resident memory: tiled prediction alone {tiled_peak / 2**30:.2f} GiB (fresh process, torch "
          f"included); this process after the one pass {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f}"
          " GiB")
    monai_comparison(args, image, layout.tile_shape[0], seconds_tiled)


if __name__ == "__main__":
    main()
