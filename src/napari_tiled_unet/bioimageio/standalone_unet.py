"""A self-contained copy of the napari-tiled-unet U-Net, for bioimage.io model packages.

This file is written verbatim into every exported package (as ``unet_architecture.py``) and named there as the
``pytorch_state_dict`` architecture, so it imports nothing but torch. Its parameter names and its arithmetic
are those of ``napari_tiled_unet.model.UNet``: a state dict of one loads into the other and gives bit-identical
logits (a test checks it). Two options exist only here, for the exported model:

- ``output_crop``: output pixels removed from every side of every spatial axis (a bilinear-upsampling net
  needs ``2**(depth-1)`` of them to be exact; 0 otherwise);
- ``final_activation``: "softmax" over the class axis, "sigmoid" for one class, or "none" for logits.

The module is TorchScript-compatible (``torch.jit.script``). U-Net: Ronneberger, Fischer, Brox (2015),
doi 10.1007/978-3-319-24574-4_28.
"""

import torch
from torch import nn


def _conv(dims: int, cin: int, cout: int, kernel: int, padding: int = 0) -> nn.Module:
    if dims == 2:
        return nn.Conv2d(cin, cout, kernel_size=kernel, padding=padding)
    return nn.Conv3d(cin, cout, kernel_size=kernel, padding=padding)


class _ConvBlock(nn.Module):
    """Two 3x3 convolutions, each followed by ReLU and optionally batch normalisation."""

    def __init__(self, cin: int, cout: int, dims: int, same: bool, batch_norm: bool) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for channels_in in (cin, cout):
            layers.append(_conv(dims, channels_in, cout, 3, padding=1 if same else 0))
            layers.append(nn.ReLU(inplace=True))
            if batch_norm:
                layers.append(nn.BatchNorm2d(cout) if dims == 2 else nn.BatchNorm3d(cout))
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block."""
        return self.block(x)


class _UpBlock(nn.Module):
    """Upsample x2, concatenate the centre-cropped skip connection, then a :class:`_ConvBlock`."""

    def __init__(self, cin: int, cout: int, dims: int, same: bool, batch_norm: bool, up_mode: str) -> None:
        super().__init__()
        if up_mode == "upconv":
            transposed = nn.ConvTranspose2d if dims == 2 else nn.ConvTranspose3d
            self.up: nn.Module = transposed(cin, cout, kernel_size=2, stride=2)
        else:
            mode = "bilinear" if dims == 2 else "trilinear"
            self.up = nn.Sequential(nn.Upsample(mode=mode, scale_factor=2.0, align_corners=False),
                                    _conv(dims, cin, cout, 1))
        self.conv_block = _ConvBlock(cin, cout, dims, same, batch_norm)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """Upsample ``x``, join it with the centre of ``skip`` and convolve."""
        up = self.up(x)
        for dim in range(2, up.dim()):
            skip = skip.narrow(dim, (skip.shape[dim] - up.shape[dim]) // 2, up.shape[dim])
        return self.conv_block(torch.cat([up, skip], 1))


class StandaloneUNet(nn.Module):
    """U-Net for 2D or 3D images, ``(N, in_channels, *spatial) -> (N, n_classes, *spatial - 2*crop)``.

    Parameters
    ----------
    in_channels, n_classes, depth, wf : int
        Input channels, output classes, resolution levels, and ``2**wf`` filters at the first level.
    padding : {"valid", "same"}
        Valid convolutions lose ``3*2**depth - 4`` pixels per side; same ones keep the size.
    batch_norm : bool
        Batch normalisation after every convolution.
    up_mode : {"upconv", "upsample"}
        2x2 transposed convolution, or bilinear/trilinear upsampling and a 1x1 convolution.
    dims : {2, 3}
        2D or 3D.
    dropout : float
        Dropout at the end of the contracting path (inactive in eval mode).
    output_crop : int
        Output pixels removed from each side of every spatial axis.
    final_activation : {"softmax", "sigmoid", "none"}
        Applied over the class axis.

    """

    def __init__(self, in_channels: int = 1, n_classes: int = 2, depth: int = 4, wf: int = 4,
                 padding: str = "valid", batch_norm: bool = False, up_mode: str = "upconv", dims: int = 2,
                 dropout: float = 0.0, output_crop: int = 0, final_activation: str = "softmax") -> None:
        super().__init__()
        if dims not in (2, 3) or padding not in ("valid", "same") or up_mode not in ("upconv", "upsample"):
            raise ValueError(f"unsupported U-Net options dims={dims}, padding={padding!r}, up_mode={up_mode!r}")
        if final_activation not in ("softmax", "sigmoid", "none"):
            raise ValueError(f"final_activation={final_activation!r}: use 'softmax', 'sigmoid' or 'none'")
        same = padding == "same"
        self.depth = int(depth)
        self.same = same
        self.output_crop = int(output_crop)
        self.final_activation = final_activation
        self.down_path = nn.ModuleList()
        channels = in_channels
        for level in range(depth):
            self.down_path.append(_ConvBlock(channels, 2 ** (wf + level), dims, same, batch_norm))
            channels = 2 ** (wf + level)
        self.pool = nn.MaxPool2d(2) if dims == 2 else nn.MaxPool3d(2)
        self.dropout: nn.Module = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.up_path = nn.ModuleList()
        for level in reversed(range(depth - 1)):
            self.up_path.append(_UpBlock(channels, 2 ** (wf + level), dims, same, batch_norm, up_mode))
            channels = 2 ** (wf + level)
        self.last = _conv(dims, channels, n_classes, 1)

    def output_size(self, size: int) -> int:
        """Output size along one axis for an input of ``size`` pixels (before ``output_crop``); -1 if invalid."""
        if self.same:
            step = 2 ** (self.depth - 1)
            return size if size >= step and size % step == 0 else -1
        x = size
        for _ in range(self.depth - 1):
            x -= 4
            if x <= 0 or x % 2 == 1:
                return -1
            x = x // 2
        x -= 4
        if x <= 0:
            return -1
        for _ in range(self.depth - 1):
            x = 2 * x - 4
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities (or logits) for ``x``; raises ValueError for an invalid spatial size."""
        for dim in range(2, x.dim()):
            out = self.output_size(x.shape[dim])
            if out - 2 * self.output_crop <= 0:
                raise ValueError("input size " + str(x.shape[dim]) + " on axis " + str(dim) + " is not valid: "
                                 + "use the smallest valid size plus a multiple of " + str(2 ** (self.depth - 1)))
        skips: list[torch.Tensor] = []
        last = len(self.down_path) - 1
        for level, down in enumerate(self.down_path):
            x = down(x)
            if level != last:
                skips.append(x)
                x = self.pool(x)
        x = self.dropout(x)
        for i, up in enumerate(self.up_path):
            x = up(x, skips[len(skips) - 1 - i])
        x = self.last(x)
        if self.output_crop > 0:
            for dim in range(2, x.dim()):
                x = x.narrow(dim, self.output_crop, x.shape[dim] - 2 * self.output_crop)
        if self.final_activation == "softmax":
            x = torch.softmax(x, dim=1)
        elif self.final_activation == "sigmoid":
            x = torch.sigmoid(x)
        return x
