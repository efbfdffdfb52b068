"""Test helpers: small nets and the one-pass reference of overlap-tile prediction."""

from __future__ import annotations

import numpy as np
import torch

from napari_tiled_unet import UNet, UNetConfig
from napari_tiled_unet.tiling import tile_context


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
    context = tile_context(cfg)
    crop = context - cfg.margin
    spatial = image.shape[-cfg.dims:]
    padded = [cfg.nearest_valid_sizes(s + 2 * context)[1] for s in spatial]
    pads = [(0, 0)] * (image.ndim - cfg.dims) + [(context, p - s - context) for s, p in zip(spatial, padded)]
    canvas = np.pad(image.astype(np.float32), pads, mode="reflect")
    if canvas.ndim == cfg.dims:
        canvas = canvas[None]
    with torch.inference_mode():
        out = net(torch.from_numpy(np.ascontiguousarray(canvas))[None])[0].numpy()
    return out[(slice(None),) + tuple(slice(crop, crop + s) for s in spatial)]
