"""The U-Net configuration: a frozen, validated dataclass that also knows the network's geometry, per axis."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from napari_tiled_unet import geometry
from napari_tiled_unet.per_axis import PerAxis, axis_names, check_per_axis_table

Padding = Literal["valid", "same"]
UpMode = Literal["upconv", "upsample"]

_BOUNDS = {
    "in_channels": (1, 64),
    "n_classes": (1, 255),
    "depth": (1, 8),
    "wf": (0, 10),
    "dims": (2, 3),
}
__all__ = ["PerAxis", "UNetConfig", "axis_names"]
@dataclass(frozen=True)
class UNetConfig:
    """Architecture of a U-Net in the style of Ronneberger et al. (2015) and jvanvugt/pytorch-unet.

    Parameters
    ----------
    in_channels : int
        Number of input channels (1 for a grey-scale image, 3 for RGB).
    n_classes : int
        Number of output channels (logits per class).
    depth : int
        Number of resolution levels; ``depth - 1`` max-pool steps. The paper uses 5.
    wf : int
        Width factor: the first level has ``2**wf`` filters, doubling at every level. The paper uses 6.
    padding : {"valid", "same"}
        "valid" convolutions shrink the output by ``margins`` on every side (the paper's choice, and the one
        that tiles exactly); "same" keeps the size and zero-pads inside the network.
    batch_norm : bool
        Batch normalisation after every convolution.
    up_mode : {"upconv", "upsample"}
        Transposed convolution (kernel = stride = the pooling factor), or bilinear (trilinear in 3D)
        upsampling followed by a 1x1 convolution.
    dims : {2, 3}
        2D or 3D convolutions.
    dropout : float
        Dropout probability at the end of the contracting path (the paper uses 0.5 there); 0 disables it.
    pooling : tuple of tuples of int, optional
        Per pooling step (``depth - 1`` of them), the max-pooling factor of every spatial axis (Z, Y, X), 1 or
        2: ``((1, 2, 2), (2, 2, 2))`` keeps the Z resolution at the first step. None (default) pools every axis
        by 2. See :func:`napari_tiled_unet.anisotropy.plan_pooling` to choose it from the voxel size.
    kernels : tuple of tuples of int, optional
        Per level (``depth`` of them), the convolution kernel size along every spatial axis, 1 or 3:
        ``(1, 3, 3)`` convolves within planes only. None (default) is 3 everywhere.

    Notes
    -----
    An explicit ``pooling`` of 2 everywhere (or ``kernels`` of 3 everywhere) is stored as None, so equal nets
    have equal configurations; :attr:`pool_factors` and :attr:`kernel_sizes` always give the explicit tables.
    Geometry is per spatial axis (:attr:`margins`, :attr:`alignments`, ``output_size(size, axis=...)``...);
    the scalar forms (:attr:`margin`, ``output_size(size)``...) need an :attr:`isotropic` net and raise
    ValueError otherwise.

    """

    in_channels: int = 1
    n_classes: int = 2
    depth: int = 4
    wf: int = 4
    padding: Padding = "valid"
    batch_norm: bool = False
    up_mode: UpMode = "upconv"
    dims: int = 2
    dropout: float = 0.0
    pooling: PerAxis | None = None
    kernels: PerAxis | None = None

    def __post_init__(self) -> None:
        for name, (low, high) in _BOUNDS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"UNetConfig.{name}={value!r} is invalid: use an integer from {low} to {high}")
        if self.padding not in ("valid", "same"):
            raise ValueError(f"UNetConfig.padding={self.padding!r} is invalid: use 'valid' or 'same'")
        if self.up_mode not in ("upconv", "upsample"):
            raise ValueError(f"UNetConfig.up_mode={self.up_mode!r} is invalid: use 'upconv' or 'upsample'")
        if not isinstance(self.batch_norm, bool):
            raise ValueError(f"UNetConfig.batch_norm={self.batch_norm!r} is invalid: use True or False")
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)) or not (
            0.0 <= self.dropout < 1.0
        ):
            raise ValueError(f"UNetConfig.dropout={self.dropout!r} is invalid: use a number in [0, 1)")
        for name in ("pooling", "kernels"):
            object.__setattr__(self, name, check_per_axis_table(name, getattr(self, name), self.depth, self.dims))

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """Return the configuration as a JSON-serialisable dictionary.

        ``pooling`` and ``kernels`` appear (as lists of lists) only when they are not the isotropic default,
        so an isotropic net's dictionary is the one older versions wrote and read.
        """
        data = dataclasses.asdict(self)
        for name in ("pooling", "kernels"):
            if data[name] is None:
                del data[name]
            else:
                data[name] = [list(row) for row in data[name]]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UNetConfig:
        """Build a configuration from a dictionary, rejecting unknown keys (missing ones take their default).

        Raises
        ------
        ValueError
            If a key is unknown or a value is out of range.

        """
        if not isinstance(data, Mapping):
            raise ValueError(f"a U-Net configuration must be a mapping, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown U-Net configuration keys {unknown}: allowed keys are {sorted(known)}")
        values = dict(data)
        for name in ("pooling", "kernels"):
            table = values.get(name)
            if isinstance(table, list):
                values[name] = tuple(tuple(row) if isinstance(row, list) else row for row in table)
        return cls(**values)

    # ------------------------------------------------------------------ architecture per axis
    @property
    def pool_factors(self) -> PerAxis:
        """Pooling factor of every spatial axis at every pooling step (explicit, also for the default)."""
        return self.pooling if self.pooling is not None else ((2,) * self.dims,) * (self.depth - 1)

    @property
    def kernel_sizes(self) -> PerAxis:
        """Convolution kernel size along every spatial axis at every level (explicit, also for the default)."""
        return self.kernels if self.kernels is not None else ((3,) * self.dims,) * self.depth

    def axis_pooling(self, axis: int) -> tuple[int, ...]:
        """Pooling factors of one spatial axis (0 = slowest: Z in 3D), one per pooling step."""
        axis = self._axis(axis)
        return tuple(step[axis] for step in self.pool_factors)

    def axis_kernels(self, axis: int) -> tuple[int, ...]:
        """Kernel sizes of one spatial axis, one per level."""
        axis = self._axis(axis)
        return tuple(level[axis] for level in self.kernel_sizes)

    @property
    def isotropic(self) -> bool:
        """True when every spatial axis has the same pooling factors and kernel sizes (same geometry)."""
        return len({(self.axis_pooling(a), self.axis_kernels(a)) for a in range(self.dims)}) == 1

    def resolve_axis(self, axis: int | None, what: str, per_axis: str | None = None) -> int:
        """The spatial axis a geometry question is about: ``axis``, or 0 for an isotropic net when None.

        ``what`` names the question and ``per_axis`` its per-axis form in the error message (default: "pass
        axis=...").

        Raises
        ------
        ValueError
            If ``axis`` is None and the net is not isotropic (the answer differs per axis), or out of range.

        """
        if axis is not None:
            return self._axis(axis)
        if not self.isotropic:
            raise ValueError(
                f"{what} differs per axis for this anisotropic net (pooling {self.pool_factors}, kernels "
                f"{self.kernel_sizes}): "
                + (per_axis or f"pass axis=0..{self.dims - 1} ({', '.join(axis_names(self.dims))})")
            )
        return 0

    # ------------------------------------------------------------------ geometry per axis
    @property
    def margins(self) -> tuple[int, ...]:
        """Context lost per side of every spatial axis, in input pixels (0 for same padding)."""
        if self.padding == "same":
            return (0,) * self.dims
        return tuple(geometry.axis_margin(self.axis_pooling(a), self.axis_kernels(a)) for a in range(self.dims))

    @property
    def alignments(self) -> tuple[int, ...]:
        """Per axis, the grid of valid sizes and tile origins: the product of that axis's pooling factors."""
        return tuple(geometry.axis_alignment(self.axis_pooling(a)) for a in range(self.dims))

    @property
    def upsample_halos(self) -> tuple[int, ...]:
        """Per axis, the extra context bilinear upsampling needs for exact tiling (0 for up-convolution).

        Bilinear upsampling clamps at the edge of each feature map, which corrupts the outer few output
        pixels (3, 7, 10 for an isotropic depth 3, 4, 5). One pooling cell of extra context covers it and
        keeps tile origins aligned; an axis that is never pooled needs none.
        """
        if self.padding == "valid" and self.up_mode == "upsample":
            return tuple(geometry.axis_upsample_halo(self.axis_pooling(a)) for a in range(self.dims))
        return (0,) * self.dims

    @property
    def min_input_sizes(self) -> tuple[int, ...]:
        """Smallest valid input size of every spatial axis."""
        if self.padding == "same":
            return self.alignments
        return tuple(geometry.axis_min_input_size(self.axis_pooling(a), self.axis_kernels(a))
                     for a in range(self.dims))

    # ------------------------------------------------------------------ scalar geometry (isotropic nets)
    @property
    def margin(self) -> int:
        """Context lost per side of every spatial axis (isotropic nets; else see :attr:`margins`)."""
        return self.margins[self._scalar("margin")]

    @property
    def alignment(self) -> int:
        """Grid of tile origins, ``2**(depth-1)`` for the default net (isotropic nets; else :attr:`alignments`)."""
        return self.alignments[self._scalar("alignment")]

    @property
    def upsample_halo(self) -> int:
        """Extra context bilinear upsampling needs (isotropic nets; else :attr:`upsample_halos`)."""
        return self.upsample_halos[self._scalar("upsample_halo")]

    @property
    def min_input_size(self) -> int:
        """Smallest valid input size per spatial axis (isotropic nets; else :attr:`min_input_sizes`)."""
        return self.min_input_sizes[self._scalar("min_input_size")]

    def _scalar(self, name: str) -> int:
        return self.resolve_axis(None, f"UNetConfig.{name}", f"use UNetConfig.{name}s (one value per spatial axis)")

    # ------------------------------------------------------------------ sizes
    def output_size(self, size: int, axis: int | None = None) -> int:
        """Output size along one axis for an input of ``size`` pixels.

        Parameters
        ----------
        size : int
            Input size along the axis.
        axis : int, optional
            Spatial axis (0 = slowest); may be omitted for an isotropic net.

        Raises
        ------
        ValueError
            If ``size`` is not a valid input size; the message names the nearest valid sizes.

        """
        index = self.resolve_axis(axis, "UNetConfig.output_size(size)")
        out = self._output_size_or_none(size, index)
        if out is None:
            below, above = self.nearest_valid_sizes(size, index)
            hint = f"{above}" if below is None else f"{below} or {above}"
            where = "" if axis is None else f" on axis {axis_names(self.dims)[index]}"
            raise ValueError(
                f"input size {size}{where} is not valid for a {self.padding}-padding U-Net of depth {self.depth}: "
                f"use {hint} (valid sizes: at least {self.min_input_sizes[index]}, "
                f"in steps of {self.alignments[index]})"
            )
        return out

    def output_shape(self, shape: Sequence[int]) -> tuple[int, ...]:
        """Output spatial shape for an input spatial shape (one entry per axis)."""
        self._check_ndim(shape)
        return tuple(self.output_size(int(s), axis=None if self.isotropic else a) for a, s in enumerate(shape))

    def is_valid_size(self, size: int, axis: int | None = None) -> bool:
        """True if ``size`` is a valid input size along one axis (``axis`` may be omitted if isotropic)."""
        index = self.resolve_axis(axis, "UNetConfig.is_valid_size(size)")
        return self._output_size_or_none(size, index) is not None

    def is_valid_shape(self, shape: Sequence[int]) -> bool:
        """True if every entry of ``shape`` is a valid input size along its axis."""
        return len(shape) == self.dims and all(self.is_valid_size(int(s), a) for a, s in enumerate(shape))

    def nearest_valid_sizes(self, size: int, axis: int | None = None) -> tuple[int | None, int]:
        """Largest valid input size ``<= size`` (None if there is none) and smallest valid size ``>= size``.

        ``axis`` (0 = slowest spatial axis) may be omitted for an isotropic net.
        """
        index = self.resolve_axis(axis, "UNetConfig.nearest_valid_sizes(size)")
        step = self.alignments[index]
        low = self.min_input_sizes[index]
        if size <= low:
            return (low if size == low else None), low
        below = low + ((size - low) // step) * step
        above = below if below == size else below + step
        return below, above

    def nearest_valid_shape(self, shape: Sequence[int], direction: Literal["up", "down"] = "up") -> tuple[int, ...]:
        """Nearest valid input shape to ``shape``, rounding every axis up (default) or down.

        Rounding down never goes below the minimum input size.
        """
        self._check_ndim(shape)
        result = []
        for axis, s in enumerate(shape):
            below, above = self.nearest_valid_sizes(int(s), axis)
            result.append(above if direction == "up" or below is None else below)
        return tuple(result)

    def _output_size_or_none(self, size: int, axis: int) -> int | None:
        if self.padding == "same":
            step = self.alignments[axis]
            return size if size >= step and size % step == 0 else None
        return geometry.axis_output_size(size, self.axis_pooling(axis), self.axis_kernels(axis))

    def _axis(self, axis: Any) -> int:
        if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)) or not (
            0 <= axis < self.dims
        ):
            raise ValueError(f"axis={axis!r} is invalid for a {self.dims}D net: use 0 to {self.dims - 1} "
                             f"({', '.join(axis_names(self.dims))})")
        return int(axis)

    def _check_ndim(self, shape: Sequence[int]) -> None:
        if len(shape) != self.dims:
            raise ValueError(
                f"spatial shape {tuple(shape)} has {len(shape)} axes but the model is {self.dims}D: "
                f"give {self.dims} sizes"
            )
