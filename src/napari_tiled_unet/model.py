"""The U-Net module (Ronneberger et al. 2015), with the options of jvanvugt/pytorch-unet, in 2D and 3D."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from napari_tiled_unet.config import UNetConfig


def _layers(dims: int) -> dict[str, Any]:
    if dims == 2:
        return {"conv": nn.Conv2d, "up": nn.ConvTranspose2d, "bn": nn.BatchNorm2d, "pool": nn.MaxPool2d,
                "interp": "bilinear"}
    return {"conv": nn.Conv3d, "up": nn.ConvTranspose3d, "bn": nn.BatchNorm3d, "pool": nn.MaxPool3d,
            "interp": "trilinear"}


def _factor(factors: tuple[int, ...]) -> int | tuple[int, ...]:
    """A per-axis factor as torch takes it: one int when every axis agrees (as the isotropic net always had)."""
    return factors[0] if len(set(factors)) == 1 else factors


class ConvBlock(nn.Module):
    """Two convolutions (3x3 by default, per-axis kernels of the level), each followed by ReLU and optionally BN."""

    def __init__(self, in_channels: int, out_channels: int, config: UNetConfig, level: int = 0) -> None:
        super().__init__()
        layers = _layers(config.dims)
        kernel = config.kernel_sizes[level]
        pad = tuple(k // 2 for k in kernel) if config.padding == "same" else 0
        block: list[nn.Module] = []
        for channels_in in (in_channels, out_channels):
            block.append(layers["conv"](channels_in, out_channels, kernel_size=kernel, padding=pad))
            block.append(nn.ReLU(inplace=True))
            if config.batch_norm:
                block.append(layers["bn"](out_channels))
        self.block = nn.Sequential(*block)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block."""
        return self.block(x)


class UpBlock(nn.Module):
    """Upsample by the pooling factors of the level, concatenate the centre-cropped skip, then a :class:`ConvBlock`."""

    def __init__(self, in_channels: int, out_channels: int, config: UNetConfig, level: int = 0) -> None:
        super().__init__()
        layers = _layers(config.dims)
        factors = config.pool_factors[level]
        if config.up_mode == "upconv":
            self.up: nn.Module = layers["up"](in_channels, out_channels, kernel_size=factors, stride=factors)
        else:
            self.up = nn.Sequential(
                nn.Upsample(mode=layers["interp"], scale_factor=_factor(tuple(float(f) for f in factors)),
                            align_corners=False),
                layers["conv"](in_channels, out_channels, kernel_size=1),
            )
        self.conv_block = ConvBlock(in_channels, out_channels, config, level)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """Upsample ``x``, join it with the centre of ``skip`` and convolve."""
        up = self.up(x)
        crop = tuple(slice(None) for _ in range(2)) + tuple(
            slice((s - u) // 2, (s - u) // 2 + u) for s, u in zip(skip.shape[2:], up.shape[2:])
        )
        return self.conv_block(torch.cat([up, skip[crop]], dim=1))


class UNet(nn.Module):
    """A U-Net for 2D or 3D images.

    Parameters
    ----------
    config : UNetConfig
        The architecture. With valid padding the output is smaller than the input by ``config.margins`` on
        every side, and only some input sizes are allowed (see :meth:`UNetConfig.nearest_valid_sizes`).
        Per-axis ``pooling`` gives every pooling step its own max-pool factors (a factor 1 axis is not pooled)
        and the matching transposed-convolution kernel and stride, or upsampling scale; per-axis ``kernels``
        give every level its own convolution kernel.

    Attributes
    ----------
    config : UNetConfig
        The architecture this module was built from.
    metadata : dict
        What a model file carried besides the weights (normalisation, task, classes...); empty for a new net.

    Examples
    --------
    >>> net = UNet(UNetConfig(in_channels=1, n_classes=2, depth=5, wf=6))
    >>> net(torch.zeros(1, 1, 572, 572)).shape
    torch.Size([1, 2, 388, 388])

    """

    def __init__(self, config: UNetConfig | None = None) -> None:
        super().__init__()
        if config is None:
            config = UNetConfig()
        if not isinstance(config, UNetConfig):
            raise TypeError(f"UNet expects a UNetConfig, got {type(config).__name__}")
        self.config = config
        self.metadata: dict[str, Any] = {}
        channels = config.in_channels
        self.down_path = nn.ModuleList()
        for level in range(config.depth):
            self.down_path.append(ConvBlock(channels, 2 ** (config.wf + level), config, level))
            channels = 2 ** (config.wf + level)
        pool = _layers(config.dims)["pool"]
        self.pools = nn.ModuleList(pool(_factor(factors)) for factors in config.pool_factors)
        self.dropout = nn.Dropout(config.dropout) if config.dropout > 0 else nn.Identity()
        self.up_path = nn.ModuleList()
        for level in reversed(range(config.depth - 1)):
            self.up_path.append(UpBlock(channels, 2 ** (config.wf + level), config, level))
            channels = 2 ** (config.wf + level)
        self.last = _layers(config.dims)["conv"](channels, config.n_classes, kernel_size=1)

    def check_input(self, shape: tuple[int, ...]) -> None:
        """Raise ValueError unless ``shape`` is ``(N, in_channels, *valid_spatial)``."""
        cfg = self.config
        if len(shape) != cfg.dims + 2:
            raise ValueError(
                f"input of shape {tuple(shape)} has {len(shape)} axes: a {cfg.dims}D U-Net needs "
                f"(batch, channels, {'Z, Y, X' if cfg.dims == 3 else 'Y, X'})"
            )
        if shape[1] != cfg.in_channels:
            raise ValueError(
                f"input has {shape[1]} channels but the model expects {cfg.in_channels}: "
                "give an image with that many channels"
            )
        cfg.output_shape(tuple(int(s) for s in shape[2:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(N, in_channels, *spatial)`` to ``(N, n_classes, *config.output_shape(spatial))`` logits.

        Raises
        ------
        ValueError
            If the spatial size is not valid for this network (the message names the nearest valid sizes):
            the network never crops silently.

        """
        self.check_input(tuple(x.shape))
        skips = []
        last = len(self.down_path) - 1
        for level, down in enumerate(self.down_path):
            x = down(x)
            if level != last:
                skips.append(x)
                x = self.pools[level](x)
        x = self.dropout(x)
        for up, skip in zip(self.up_path, reversed(skips)):
            x = up(x, skip)
        return self.last(x)
