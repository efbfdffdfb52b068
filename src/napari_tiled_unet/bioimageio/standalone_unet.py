"""A self-contained copy of the napari-tiled-unet U-Net, for bioimage.io model packages.

This file is written verbatim into every exported package (as ``unet_architecture.py``) and named there as the
``pytorch_state_dict`` architecture, so it imports nothing but torch. Its parameter names and its arithmetic
are those of ``napari_tiled_unet.model.UNet``: a state dict of one loads into the other and gives bit-identical
logits (a test checks it), per-axis ``pooling`` and ``kernels`` (anisotropic nets) included. Two options exist
only here, for the exported model:

- ``output_crop``: output pixels removed from every side of every spatial axis, or one number per spatial
  axis (a bilinear-upsampling net needs one pooling cell of them to be exact; 0 otherwise);
- ``final_activation``: "softmax" over the class axis, "sigmoid" for one class, or "none" for logits;
- ``softmax_channels``: with "softmax", only the first this many channels are classes (softmax); the channels
  after them are regression maps, squashed by a sigmoid (an instance model's centre distance). -1: all.

The module is TorchScript-compatible (``torch.jit.script``). U-Net: Ronneberger, Fischer, Brox (2015),
doi 10.1007/978-3-319-24574-4_28.
"""

import torch
from torch import nn


def _conv(dims: int, cin: int, cout: int, kernel: list, padding: list) -> nn.Module:
    if dims == 2:
        return nn.Conv2d(cin, cout, kernel_size=tuple(kernel), padding=tuple(padding))
    return nn.Conv3d(cin, cout, kernel_size=tuple(kernel), padding=tuple(padding))


def _table(value, rows: int, dims: int, default: int) -> list:
    """A per-axis table (rows of ``dims`` ints) from ``value``, or ``default`` everywhere for None."""
    if value is None:
        return [[default] * dims for _ in range(rows)]
    table = [[int(v) for v in row] for row in value]
    if len(table) != rows or any(len(row) != dims for row in table):
        raise ValueError("per-axis table " + str(value) + " needs " + str(rows) + " rows of " + str(dims) + " values")
    return table


def _axis_output_size(size: int, factors: list[int], kernels: list[int]) -> int:
    """Output size along one axis of a valid-padding net (before ``output_crop``); -1 if invalid."""
    x = size
    for i in range(len(factors)):
        x -= 2 * (kernels[i] - 1)
        if x <= 0 or x % factors[i] != 0:
            return -1
        x = x // factors[i]
    x -= 2 * (kernels[len(kernels) - 1] - 1)
    if x <= 0:
        return -1
    for i in range(len(factors) - 1, -1, -1):
        x = factors[i] * x - 2 * (kernels[i] - 1)
        if x <= 0:
            return -1
    return x


class _ConvBlock(nn.Module):
    """Two convolutions of the level's per-axis kernel, each followed by ReLU and optionally batch normalisation."""

    def __init__(self, cin: int, cout: int, dims: int, same: bool, batch_norm: bool, kernel: list) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        padding = [k // 2 if same else 0 for k in kernel]
        for channels_in in (cin, cout):
            layers.append(_conv(dims, channels_in, cout, kernel, padding))
            layers.append(nn.ReLU(inplace=True))
            if batch_norm:
                layers.append(nn.BatchNorm2d(cout) if dims == 2 else nn.BatchNorm3d(cout))
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block."""
        return self.block(x)


class _UpBlock(nn.Module):
    """Upsample by the level's pooling factors, concatenate the centre-cropped skip, then a :class:`_ConvBlock`."""

    def __init__(self, cin: int, cout: int, dims: int, same: bool, batch_norm: bool, up_mode: str, factors: list,
                 kernel: list) -> None:
        super().__init__()
        if up_mode == "upconv":
            transposed = nn.ConvTranspose2d if dims == 2 else nn.ConvTranspose3d
            self.up: nn.Module = transposed(cin, cout, kernel_size=tuple(factors), stride=tuple(factors))
        else:
            mode = "bilinear" if dims == 2 else "trilinear"
            scale = float(factors[0]) if len(set(factors)) == 1 else tuple(float(f) for f in factors)
            self.up = nn.Sequential(nn.Upsample(mode=mode, scale_factor=scale, align_corners=False),
                                    _conv(dims, cin, cout, [1] * dims, [0] * dims))
        self.conv_block = _ConvBlock(cin, cout, dims, same, batch_norm, kernel)

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
        Valid convolutions lose ``3*2**depth - 4`` pixels per side (for the default pooling and kernels);
        same ones keep the size.
    batch_norm : bool
        Batch normalisation after every convolution.
    up_mode : {"upconv", "upsample"}
        2x2 transposed convolution, or bilinear/trilinear upsampling and a 1x1 convolution.
    dims : {2, 3}
        2D or 3D.
    dropout : float
        Dropout at the end of the contracting path (inactive in eval mode).
    pooling : list of lists of int, optional
        Per pooling step (``depth - 1``), the max-pool factor of every spatial axis (1 or 2); None: 2 everywhere.
    kernels : list of lists of int, optional
        Per level (``depth``), the convolution kernel size along every spatial axis (1 or 3); None: 3 everywhere.
    output_crop : int or list of int
        Output pixels removed from each side of every spatial axis, or one number per spatial axis.
    final_activation : {"softmax", "sigmoid", "none"}
        Applied over the class axis.
    softmax_channels : int
        With "softmax": the number of leading class channels (-1: all); the rest get a sigmoid.

    """

    pooling: list[list[int]]  # class-level annotations: TorchScript cannot infer the type of an empty list
    kernels: list[list[int]]
    output_crop: list[int]

    def __init__(self, in_channels: int = 1, n_classes: int = 2, depth: int = 4, wf: int = 4,
                 padding: str = "valid", batch_norm: bool = False, up_mode: str = "upconv", dims: int = 2,
                 dropout: float = 0.0, output_crop=0, final_activation: str = "softmax", pooling=None,
                 kernels=None, softmax_channels: int = -1) -> None:
        super().__init__()
        if dims not in (2, 3) or padding not in ("valid", "same") or up_mode not in ("upconv", "upsample"):
            raise ValueError(f"unsupported U-Net options dims={dims}, padding={padding!r}, up_mode={up_mode!r}")
        if final_activation not in ("softmax", "sigmoid", "none"):
            raise ValueError(f"final_activation={final_activation!r}: use 'softmax', 'sigmoid' or 'none'")
        same = padding == "same"
        self.depth = int(depth)
        self.dims = int(dims)
        self.same = same
        self.pooling = _table(pooling, depth - 1, dims, 2)
        self.kernels = _table(kernels, depth, dims, 3)
        crops = [int(output_crop)] * dims if isinstance(output_crop, (int, float)) else [int(c) for c in output_crop]
        if len(crops) != dims:
            raise ValueError("output_crop=" + str(output_crop) + " needs one number per spatial axis")
        self.output_crop = crops
        self.final_activation = final_activation
        self.softmax_channels = int(softmax_channels) if 0 < int(softmax_channels) < n_classes else n_classes
        self.down_path = nn.ModuleList()
        channels = in_channels
        for level in range(depth):
            self.down_path.append(_ConvBlock(channels, 2 ** (wf + level), dims, same, batch_norm, self.kernels[level]))
            channels = 2 ** (wf + level)
        self.dropout: nn.Module = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.up_path = nn.ModuleList()
        for level in reversed(range(depth - 1)):
            self.up_path.append(_UpBlock(channels, 2 ** (wf + level), dims, same, batch_norm, up_mode,
                                         self.pooling[level], self.kernels[level]))
            channels = 2 ** (wf + level)
        self.last = _conv(dims, channels, n_classes, [1] * dims, [0] * dims)

    def axis_factors(self, axis: int) -> list[int]:
        """Pooling factors of one spatial axis (0 = slowest), one per pooling step."""
        return [step[axis] for step in self.pooling]

    def axis_step(self, axis: int) -> int:
        """Valid input sizes along one spatial axis grow in steps of this: the product of its pooling factors."""
        step = 1
        for factor in self.axis_factors(axis):
            step *= factor
        return step

    def output_size(self, size: int, axis: int = 0) -> int:
        """Output size along one spatial axis (0 = slowest) before ``output_crop``; -1 for an invalid ``size``."""
        if self.same:
            step = self.axis_step(axis)
            return size if size >= step and size % step == 0 else -1
        return _axis_output_size(size, self.axis_factors(axis), [level[axis] for level in self.kernels])

    def _pool(self, x: torch.Tensor, level: int) -> torch.Tensor:
        if self.dims == 2:
            return nn.functional.max_pool2d(x, self.pooling[level])
        return nn.functional.max_pool3d(x, self.pooling[level])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities (or logits) for ``x``; raises ValueError for an invalid spatial size."""
        for dim in range(2, x.dim()):
            out = self.output_size(x.shape[dim], dim - 2)
            if out - 2 * self.output_crop[dim - 2] <= 0:
                raise ValueError("input size " + str(x.shape[dim]) + " on axis " + str(dim) + " is not valid: "
                                 + "use the smallest valid size plus a multiple of " + str(self.axis_step(dim - 2)))
        skips: list[torch.Tensor] = []
        last = len(self.down_path) - 1
        for level, down in enumerate(self.down_path):
            x = down(x)
            if level != last:
                skips.append(x)
                x = self._pool(x, level)
        x = self.dropout(x)
        for i, up in enumerate(self.up_path):
            x = up(x, skips[len(skips) - 1 - i])
        x = self.last(x)
        for dim in range(2, x.dim()):
            crop = self.output_crop[dim - 2]
            if crop > 0:
                x = x.narrow(dim, crop, x.shape[dim] - 2 * crop)
        if self.final_activation == "softmax" and self.softmax_channels < x.shape[1]:
            classes = torch.softmax(x.narrow(1, 0, self.softmax_channels), dim=1)
            maps = torch.sigmoid(x.narrow(1, self.softmax_channels, x.shape[1] - self.softmax_channels))
            x = torch.cat([classes, maps], dim=1)
        elif self.final_activation == "softmax":
            x = torch.softmax(x, dim=1)
        elif self.final_activation == "sigmoid":
            x = torch.sigmoid(x)
        return x
