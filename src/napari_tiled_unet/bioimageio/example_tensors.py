"""Test tensors of an exported model: a raw input crop and what napari-tiled-unet predicts for it.

The bioimage.io runtime normalises the raw test input itself (``scale_range`` over that input) and runs the
network once over it. The expected output is made by napari-tiled-unet's own engine: the input is
normalised with the statistics of the crop, and :func:`~napari_tiled_unet.predict.predict_tiled` predicts a
region of the source image that starts a little before the crop, chosen so that its tiles lie on the same
pooling grid as the crop. The outputs whose context lies inside the crop then equal the runtime's single pass
(the stitching is exact), and they are the test output. A same-padding network is not tile-exact; its test
output is one pass of the network over the normalised crop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from napari_tiled_unet import samples
from napari_tiled_unet.bioimageio.export_geometry import ExportGeometry
from napari_tiled_unet.class_outputs import activated_outputs
from napari_tiled_unet.inference import normalizer_of
from napari_tiled_unet.model import UNet
from napari_tiled_unet.predict import predict_tiled

#: Wanted test input edge per spatial axis (rounded up to a valid size), 2D and 3D.
TEST_TARGET = {2: 256, 3: 64}


@dataclass(frozen=True)
class TestTensors:
    """Arrays written into the package.

    Attributes
    ----------
    raw : numpy.ndarray
        Test input ``(1, C, *spatial)`` float32, before preprocessing.
    expected : numpy.ndarray
        Test output ``(1, K, *spatial_out)`` float32 class probabilities.
    normalized : numpy.ndarray
        The test input after preprocessing ``(C, *spatial)`` (for the cover image).

    """

    __test__ = False  # not a pytest class

    raw: np.ndarray
    expected: np.ndarray
    normalized: np.ndarray


def source_image(net: UNet, image: Any | None) -> np.ndarray:
    """The channel-first float32 image the test crop is cut from: ``image``, or the shipped nuclei sample."""
    cfg = net.config
    if image is None:
        sample = samples.load_nuclei_2d() if cfg.dims == 2 else samples.load_nuclei_3d()
        data = np.asarray(sample["image"], dtype=np.float32)
        return np.repeat(data[None], cfg.in_channels, axis=0)
    data = np.asarray(image)
    if data.dtype == bool or not np.issubdtype(data.dtype, np.number):
        raise ValueError(f"sample image of dtype {data.dtype} is not numeric: give an integer or float image")
    if data.ndim == cfg.dims and cfg.in_channels == 1:
        data = data[None]
    if data.ndim != cfg.dims + 1 or data.shape[0] != cfg.in_channels:
        raise ValueError(f"sample image of shape {data.shape} does not fit the model: give "
                         f"({cfg.in_channels}, {', '.join('ZYX'[-cfg.dims:])}) channel-first")
    data = data.astype(np.float32)
    if not np.isfinite(data).all():
        raise ValueError("sample image contains NaN or infinite values: replace them first")
    return data


def _region(image: np.ndarray, sizes: tuple[int, ...], leads: tuple[int, ...]) -> tuple[np.ndarray, list[int]]:
    """Cut ``lead + size`` pixels per spatial axis around the centre, mirror-extending a too small image."""
    need = [size + lead for size, lead in zip(sizes, leads)]
    pads = [(0, 0)] + [(0, max(0, n - s)) for n, s in zip(need, image.shape[1:])]
    if any(p[1] for p in pads):
        image = np.pad(image, pads, mode="symmetric")
    starts = [(s - n) // 2 for n, s in zip(need, image.shape[1:])]
    box = (slice(None),) + tuple(slice(s, s + n) for s, n in zip(starts, need))
    return image[box], starts


def make_test_tensors(net: UNet, geometry: ExportGeometry, image: Any | None = None) -> TestTensors:
    """Cut a test input from ``image`` (default: the shipped sample) and predict it with our engine.

    Parameters
    ----------
    net : UNet
        A trained model in eval mode on the CPU, with a normalisation in its metadata.
    geometry : ExportGeometry
        The exported sizes.
    image : array-like, optional
        ``(C, *spatial)`` or, for one channel, ``(*spatial)``; any size (mirror-extended if small).

    """
    cfg = net.config
    sizes = geometry.test_shape(TEST_TARGET[cfg.dims])
    source = source_image(net, image)
    normalizer = normalizer_of(net)
    if normalizer is None:
        raise ValueError("the model has no normalisation in its metadata: train it with napari-tiled-unet first")
    # the crop starts on the pooling grid of the tiles predicted over the region (per axis)
    leads = tuple((-c) % step if cfg.padding == "valid" else 0 for c, step in zip(geometry.contexts, geometry.steps))
    region, _ = _region(source, sizes, leads)
    after_lead = (slice(None),) + tuple(slice(lead, None) for lead in leads)
    crop = np.ascontiguousarray(region[after_lead])
    stats = normalizer.compute_stats(crop, channel_axis=0)
    normalized = normalizer.apply(region, channel_axis=0, stats=stats)
    if cfg.padding == "valid":
        logits = predict_tiled(net, normalized, batch_size=1)
        keep = tuple(slice(lead + c, lead + size - c) for lead, c, size in zip(leads, geometry.contexts, sizes))
        logits = logits[(slice(None), *keep)]
    else:
        with torch.inference_mode():
            logits = net(torch.from_numpy(np.ascontiguousarray(normalized))[None])[0].float().numpy()
    expected = activated_outputs(net, np.ascontiguousarray(logits, dtype=np.float32))
    return TestTensors(raw=crop[None].astype(np.float32), expected=expected[None].astype(np.float32),
                       normalized=normalized[after_lead])
