"""The U-Net configuration: a frozen, validated dataclass that also knows the network's geometry."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from napari_tiled_unet import geometry

Padding = Literal["valid", "same"]
UpMode = Literal["upconv", "upsample"]

_BOUNDS = {
    "in_channels": (1, 64),
    "n_classes": (1, 255),
    "depth": (1, 8),
    "wf": (0, 10),
    "dims": (2, 3),
}


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
        "valid" convolutions shrink the output by ``margin`` on every side (the paper's choice, and the one
        that tiles exactly); "same" keeps the size and zero-pads inside the network.
    batch_norm : bool
        Batch normalisation after every convolution.
    up_mode : {"upconv", "upsample"}
        2x2 transposed convolution, or bilinear (trilinear in 3D) upsampling followed by a 1x1 convolution.
    dims : {2, 3}
        2D or 3D convolutions.
    dropout : float
        Dropout probability at the end of the contracting path (the paper uses 0.5 there); 0 disables it.

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

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """Return the configuration as a JSON-serialisable dictionary."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UNetConfig:
        """Build a configuration from a dictionary, rejecting unknown keys.

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
        return cls(**dict(data))

    # ------------------------------------------------------------------ geometry
    @property
    def margin(self) -> int:
        """Context lost per side of every spatial axis, in input pixels (0 for same padding)."""
        return geometry.margin(self.depth) if self.padding == "valid" else 0

    @property
    def alignment(self) -> int:
        """Grid on which tile origins must lie for max-pooling to see the same pixel pairs: ``2**(depth-1)``."""
        return 2 ** (self.depth - 1)

    @property
    def upsample_halo(self) -> int:
        """Extra context per side that bilinear upsampling needs for exact tiling (0 for up-convolution).

        Bilinear upsampling clamps at the edge of each feature map, which corrupts the outer few output
        pixels (3, 7, 10 for depth 3, 4, 5). One pooling cell of extra context, ``2**(depth-1)``, covers it
        and keeps tile origins aligned.
        """
        if self.padding == "valid" and self.up_mode == "upsample" and self.depth > 1:
            return self.alignment
        return 0

    @property
    def min_input_size(self) -> int:
        """Smallest valid input size per spatial axis."""
        if self.padding == "same":
            return self.alignment
        return geometry.min_input_size(self.depth)

    def output_size(self, size: int) -> int:
        """Output size along one axis for an input of ``size`` pixels.

        Raises
        ------
        ValueError
            If ``size`` is not a valid input size; the message names the nearest valid sizes.

        """
        out = self._output_size_or_none(size)
        if out is None:
            below, above = self.nearest_valid_sizes(size)
            hint = f"{above}" if below is None else f"{below} or {above}"
            raise ValueError(
                f"input size {size} is not valid for a {self.padding}-padding U-Net of depth {self.depth}: "
                f"use {hint} (valid sizes: at least {self.min_input_size}, "
                f"in steps of {self.alignment})"
            )
        return out

    def output_shape(self, shape: Sequence[int]) -> tuple[int, ...]:
        """Output spatial shape for an input spatial shape (one entry per axis)."""
        self._check_ndim(shape)
        return tuple(self.output_size(int(s)) for s in shape)

    def is_valid_size(self, size: int) -> bool:
        """True if ``size`` is a valid input size along one axis."""
        return self._output_size_or_none(size) is not None

    def is_valid_shape(self, shape: Sequence[int]) -> bool:
        """True if every entry of ``shape`` is a valid input size."""
        return len(shape) == self.dims and all(self.is_valid_size(int(s)) for s in shape)

    def nearest_valid_sizes(self, size: int) -> tuple[int | None, int]:
        """Largest valid input size ``<= size`` (None if there is none) and smallest valid size ``>= size``."""
        step = self.alignment
        low = self.min_input_size
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
        for s in shape:
            below, above = self.nearest_valid_sizes(int(s))
            result.append(above if direction == "up" or below is None else below)
        return tuple(result)

    def _output_size_or_none(self, size: int) -> int | None:
        if self.padding == "same":
            return size if size >= self.alignment and size % self.alignment == 0 else None
        return geometry.valid_output_size(size, self.depth)

    def _check_ndim(self, shape: Sequence[int]) -> None:
        if len(shape) != self.dims:
            raise ValueError(
                f"spatial shape {tuple(shape)} has {len(shape)} axes but the model is {self.dims}D: "
                f"give {self.dims} sizes"
            )
