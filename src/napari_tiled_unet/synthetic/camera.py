"""The camera: Poisson shot noise, read noise, gain, offset, rounding and saturation to 8 or 16 bit."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from napari_tiled_unet.synthetic.style import NucleiStyle


def record(rng: np.random.Generator, light: np.ndarray, style: NucleiStyle) -> np.ndarray:
    """Turn relative light (1 = a typical nucleus) into a camera image.

    A typical nucleus yields ``style.photons`` photo-electrons on average; the gain maps that to
    ``style.target`` grey values above ``style.offset``. Read noise is Gaussian, in electrons. An optional blur
    (``style.noise_blur``) smooths the noisy image, as resampling or compression would. Values are rounded and
    clipped to the range of the dtype (bright nuclei may saturate, as on a real camera).

    Returns
    -------
    np.ndarray
        ``uint8`` or ``uint16`` image.

    """
    electrons = rng.poisson(np.clip(light, 0.0, None) * style.photons).astype(np.float32)
    if style.read_noise > 0:
        electrons += rng.normal(0.0, style.read_noise, light.shape).astype(np.float32)
    grey = style.offset + electrons * (style.target / style.photons)
    if style.noise_blur > 0:
        grey = ndi.gaussian_filter(grey, style.noise_blur / np.asarray(style.spacing))
    dtype = np.uint8 if style.bits == 8 else np.uint16
    return np.clip(np.round(grey), 0, np.iinfo(dtype).max).astype(dtype)
