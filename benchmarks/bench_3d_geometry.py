"""Isotropic against voxel-size-planned 3D U-Nets: receptive field, margins, valid sizes, parameters and speed.

For an anisotropic voxel size (default Z step twice the pixel size) the script compares the classic net
(every axis pooled by 2, 3x3x3 kernels) with the one :func:`napari_tiled_unet.anisotropy.plan_pooling` plans:

- the receptive field per axis, *measured*: the input pixels whose value reaches the centre output pixel
  (gradient of that pixel, with max-pooling replaced by average pooling of the same window and positive
  weights, so that no ReLU or max-pool hides a path), in pixels and in physical units;
- margins, pooling grid and smallest input per axis (from :class:`~napari_tiled_unet.UNetConfig`);
- how many planes an object 8 planes tall and 30 px wide keeps at the bottom level;
- parameter count, and the time of one forward pass over the same valid tile.

Usage: ``python benchmarks/bench_3d_geometry.py [--voxel 2 1 1] [--depth 3] [--wf 4]``
"""

from __future__ import annotations

import argparse
import copy
import math
import time

import torch

from napari_tiled_unet import UNet, UNetConfig
from napari_tiled_unet.anisotropy import plan_pooling


def measured_receptive_field(net: UNet) -> tuple[int, ...]:
    """Extent per axis of the input pixels the centre output pixel depends on (structural, all paths open)."""
    probe = copy.deepcopy(net).double().eval()
    for i, pool in enumerate(probe.pools):
        pool_type = torch.nn.AvgPool2d if net.config.dims == 2 else torch.nn.AvgPool3d
        probe.pools[i] = pool_type(pool.kernel_size)
    with torch.no_grad():
        for p in probe.parameters():
            p.abs_().add_(1e-3)
    cfg = net.config
    shape = tuple(low + 2 * step for low, step in zip(cfg.min_input_sizes, cfg.alignments))
    x = torch.ones(1, cfg.in_channels, *shape, dtype=torch.float64, requires_grad=True)
    out = probe(x)
    centre = tuple(s // 2 for s in out.shape[2:])
    out[(0, 0, *centre)].backward()
    reached = (x.grad[0, 0] != 0).nonzero()
    return tuple(int(reached[:, a].max() - reached[:, a].min() + 1) for a in range(cfg.dims))


def forward_seconds(net: UNet, shape: tuple[int, ...], repeats: int = 3) -> float:
    """Best time of one forward pass over a tile of ``shape`` (channels_last_3d, inference mode)."""
    net = net.eval().to(memory_format=torch.channels_last_3d)
    x = torch.rand(1, net.config.in_channels, *shape).contiguous(memory_format=torch.channels_last_3d)
    best = math.inf
    with torch.inference_mode():
        net(x)
        for _ in range(repeats):
            start = time.perf_counter()
            net(x)
            best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    """Print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--voxel", type=float, nargs=3, default=(2.0, 1.0, 1.0), help="voxel size Z Y X")
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--wf", type=int, default=4)
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    plan = plan_pooling(args.voxel, args.depth)
    nets = {
        "isotropic": UNet(UNetConfig(dims=3, depth=args.depth, wf=args.wf)),
        "planned": UNet(UNetConfig(dims=3, depth=args.depth, wf=args.wf, **plan.config_kwargs())),
    }
    print(f"voxel size (Z, Y, X) {tuple(args.voxel)}, depth {args.depth}, wf {args.wf}")
    print(f"planned pooling {plan.pooling}, kernels {plan.kernels}")
    tile = tuple(max(n.config.nearest_valid_sizes(edge, a)[1] for n in nets.values())
                 for a, edge in enumerate((48, 96, 96)))
    tiles = {name: net.config.nearest_valid_shape(tile) for name, net in nets.items()}
    for name, net in nets.items():
        cfg = net.config
        rf = measured_receptive_field(net)
        physical = tuple(round(r * v, 1) for r, v in zip(rf, args.voxel))
        grid = cfg.alignments
        planes = [8.0, 30.0, 30.0]
        for step in cfg.pool_factors:
            planes = [p / f for p, f in zip(planes, step)]
        print(f"\n{name}: {sum(p.numel() for p in net.parameters()):,} parameters")
        print(f"  margins (Z, Y, X) {cfg.margins} px = {tuple(m * v for m, v in zip(cfg.margins, args.voxel))} "
              f"physical; pooling grid {grid}; smallest input {cfg.min_input_sizes}")
        print(f"  receptive field (measured) {rf} px = {physical} physical "
              f"(Z/XY ratio {physical[0] / physical[2]:.2f})")
        print(f"  an object 8 planes x 30 px x 30 px is {tuple(round(p, 2) for p in planes)} px at the bottom")
        shape = tiles[name]
        seconds = forward_seconds(net, shape)
        out = cfg.output_shape(shape)
        print(f"  forward pass over tile {shape} -> {out}: {seconds * 1000:.0f} ms, "
              f"{math.prod(out) / seconds / 1e6:.2f} output MVoxel/s")


if __name__ == "__main__":
    main()
