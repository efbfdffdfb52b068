"""What a prediction asks for, in one frozen object that travels from the public API to every tile."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from napari_tiled_unet.cancel import CancelLike, ProgressCallback
from napari_tiled_unet.normalization import ImageNormalizer
from napari_tiled_unet.postprocess import InstanceSettings

OutputKind = Literal["labels", "instances", "probabilities"]
OUTPUT_KINDS: tuple[str, ...] = ("labels", "instances", "probabilities")


@dataclass(frozen=True)
class PredictionRequest:
    """Everything that decides how a net runs over an image, besides the net and the image themselves.

    Parameters
    ----------
    output : {"labels", "instances", "probabilities"}
        What :func:`~napari_tiled_unet.inference.predict_image` returns; the tile engine ignores it.
    tile_shape : int, tuple of int or None
        Wanted input tile per spatial axis (rounded to a valid, useful size); None picks one from the memory
        budget. Any tile gives the same result.
    batch_size : int or None
        Tiles per forward pass; None picks from the memory budget.
    amp : bool or None
        Mixed precision on CUDA (None: on CUDA only); False keeps float32 everywhere.
    normalizer : ImageNormalizer or None
        The model's normalisation bound to the statistics of the whole image; None: tiles are read as given.
    instance_settings : InstanceSettings or None
        Post-processing of instance models (thresholds, minimum size); None: the settings stored in the model.
    tta : bool
        Test-time augmentation: average the logits of the 8 flips/rotations of the Y-X plane, each predicted
        with the exact tiling (8x the time; see :mod:`napari_tiled_unet.test_time_augmentation`).
    progress : callable, optional
        ``progress(done, total)`` after every tile (not part of equality, never sent to dask workers).
    cancel : threading.Event-like or callable, optional
        Checked before every batch of tiles (not part of equality, never sent to dask workers).

    """

    output: OutputKind = "labels"
    tile_shape: int | tuple[int, ...] | None = None
    batch_size: int | None = None
    amp: bool | None = None
    normalizer: ImageNormalizer | None = None
    instance_settings: InstanceSettings | None = None
    tta: bool = False
    progress: ProgressCallback | None = field(default=None, compare=False, repr=False)
    cancel: CancelLike = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.output not in OUTPUT_KINDS:
            raise ValueError(f"output={self.output!r} is unknown: use one of {', '.join(OUTPUT_KINDS)}")
        tile = self.tile_shape
        if isinstance(tile, Sequence) and not isinstance(tile, str):
            object.__setattr__(self, "tile_shape", tuple(int(t) for t in tile))
        if self.batch_size is not None and (isinstance(self.batch_size, bool) or int(self.batch_size) < 1):
            raise ValueError(f"batch_size={self.batch_size} must be at least 1 (or None for automatic)")

    def replace(self, **changes: Any) -> PredictionRequest:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def for_workers(self) -> PredictionRequest:
        """The request without its callbacks: what lazy and distributed tasks carry."""
        return self.replace(progress=None, cancel=None)
