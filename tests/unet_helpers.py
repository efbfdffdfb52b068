"""Test helpers: small nets, the one-pass reference of overlap-tile prediction, and disk-shaped objects."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import strategies as st

from napari_tiled_unet import UNet, UNetConfig
from napari_tiled_unet.tiling import tile_contexts

#: A small anisotropic 3D architecture (Z step about twice the pixel size): Z kept at the first pooling step
#: and convolved within planes at the first level.
ANISO_3D = {"dims": 3, "depth": 3, "pooling": ((1, 2, 2), (2, 2, 2)), "kernels": ((1, 3, 3), (3, 3, 3), (3, 3, 3))}


def make_net(seed: int = 0, **config) -> UNet:
    """A small randomly initialised net in eval mode.

    He initialisation keeps the signal's variance through the layers (PyTorch's default shrinks it, giving a
    nearly constant output that hides tiling errors); batch-norm statistics are randomised so BN matters.
    """
    torch.manual_seed(seed)
    net = UNet(UNetConfig(**config))
    for module in net.modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Conv3d, torch.nn.ConvTranspose2d, torch.nn.ConvTranspose3d)):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        if isinstance(module, (torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.1, 0.1)
    return net.eval()


def one_pass_reference(net: UNet, image: np.ndarray) -> np.ndarray:
    """One pass of ``net`` over the whole image mirror-padded ('reflect') by the tiles' context.

    The high side gets a few more mirrored pixels where the padded size is not a valid input size; they do
    not reach the outputs that are kept.
    """
    cfg = net.config
    contexts = tile_contexts(cfg)  # per axis: an anisotropic net has its own on every axis
    crops = [c - m for c, m in zip(contexts, cfg.margins)]
    spatial = image.shape[-cfg.dims:]
    padded = [cfg.nearest_valid_sizes(s + 2 * c, axis)[1] for axis, (s, c) in enumerate(zip(spatial, contexts))]
    pads = [(0, 0)] * (image.ndim - cfg.dims) + [(c, p - s - c) for s, p, c in zip(spatial, padded, contexts)]
    canvas = np.pad(image.astype(np.float32), pads, mode="reflect")
    if canvas.ndim == cfg.dims:
        canvas = canvas[None]
    with torch.inference_mode():
        out = net(torch.from_numpy(np.ascontiguousarray(canvas))[None])[0].numpy()
    return out[(slice(None),) + tuple(slice(crop, crop + s) for crop, s in zip(crops, spatial))]


@st.composite
def per_axis_configs(draw, dims: int | None = None, max_depth: int = 4, **fixed) -> UNetConfig:
    """Random architectures with per-axis pooling (1 or 2) and kernels (1 or 3), any padding and up mode."""
    dims = draw(st.sampled_from([2, 3])) if dims is None else dims
    depth = draw(st.integers(1, max_depth))
    row = st.tuples(*[st.sampled_from([1, 2]) for _ in range(dims)])
    pooling = draw(st.lists(row, min_size=depth - 1, max_size=depth - 1))
    kernels = draw(st.lists(st.tuples(*[st.sampled_from([1, 3]) for _ in range(dims)]), min_size=depth,
                            max_size=depth))
    options = {"padding": st.sampled_from(["valid", "same"]), "up_mode": st.sampled_from(["upconv", "upsample"]),
               "batch_norm": st.booleans()}
    values = {k: draw(v) for k, v in options.items() if k not in fixed}
    return UNetConfig(dims=dims, depth=depth, wf=0, pooling=tuple(pooling), kernels=tuple(kernels), **values,
                      **fixed)


def disk(shape: tuple[int, int], centre: tuple[float, float], radius: float) -> np.ndarray:
    """Boolean mask of a disk in a 2D image of ``shape``."""
    yy, xx = np.ogrid[: shape[0], : shape[1]]
    return (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius**2


def disks(shape: tuple[int, int], centres: list[tuple[float, float]], radius: float) -> np.ndarray:
    """Instance labels (uint16) of disks numbered 1, 2, ... in the order of ``centres``."""
    labels = np.zeros(shape, np.uint16)
    for k, centre in enumerate(centres, start=1):
        labels[disk(shape, centre, radius)] = k
    return labels


def large_nuclei(radius: float = 24, side: int = 320) -> tuple[np.ndarray, np.ndarray]:
    """A uint16 image of five bright separate disks on a noisy background, and their instance labels."""
    centres = [(70, 70), (70, 190), (200, 90), (230, 240), (110, 280)]
    labels = disks((side, side), centres, radius)
    rng = np.random.default_rng(0)
    image = 400 + 2000 * (labels > 0) + rng.normal(0, 60, labels.shape)
    return image.astype(np.uint16), labels


SIX_SHAPE = (120, 160)
SIX_CENTRES = [(20, 20), (20, 60), (60, 100), (95, 30), (95, 130), (40, 140)]


def six_nuclei() -> tuple[np.ndarray, np.ndarray]:
    """A float32 image of six bright separate nuclei of radius 9 (ids 1..6, :data:`SIX_CENTRES`) and their labels."""
    truth = disks(SIX_SHAPE, SIX_CENTRES, 9).astype(np.int32)
    image = np.where(truth > 0, 200.0, 20.0) + np.random.default_rng(0).normal(0, 4, SIX_SHAPE)
    return image.astype(np.float32), truth


GRID_CENTRES = [(40 + 60 * i, 40 + 60 * j) for i in range(4) for j in range(4)]


def nuclei_on(background: np.ndarray, radius: int = 8, contrast: float = 1000.0) -> tuple[np.ndarray, np.ndarray]:
    """Sixteen separate disks of ``contrast`` above ``background`` (with a little noise), and their labels."""
    labels = disks(background.shape, GRID_CENTRES, radius)
    rng = np.random.default_rng(3)
    image = background + contrast * (labels > 0) + rng.normal(0, 30, labels.shape)
    return image.astype(np.float32), labels


def ramp(shape: tuple[int, int], height: float) -> np.ndarray:
    """A background of 200 rising by ``height`` from the top-left to the bottom-right corner."""
    yy, xx = np.mgrid[: shape[0], : shape[1]].astype(np.float32)
    return 200.0 + height * (yy / shape[0] + xx / shape[1]) / 2


class MetadataNet:
    """Only what the prediction options read of a model (its metadata and dimensionality), without weights."""

    def __init__(self, metadata, dims=2):
        self.metadata = metadata
        self.config = type("Config", (), {"dims": dims})()
