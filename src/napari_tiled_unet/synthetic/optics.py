"""From stain to light on the camera: PSF blur, out-of-focus haze and nuclei, background and illumination."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from napari_tiled_unet.synthetic.fields import blur, smooth_noise
from napari_tiled_unet.synthetic.style import NucleiStyle


def psf_sigma(style: NucleiStyle) -> np.ndarray:
    """Gaussian PSF sigma per array axis (3D: wider along Z)."""
    lateral = [style.psf_sigma] * 2
    sigma = np.array(([style.psf_sigma_z] if style.ndim == 3 else []) + lateral, dtype=float)
    return sigma / np.asarray(style.spacing)


def out_of_focus_nuclei(rng: np.random.Generator, shape: tuple[int, ...], style: NucleiStyle,
                        sigma: np.ndarray) -> np.ndarray:
    """Impulses that become dim blurred nuclei above or below the focal plane (unlabelled) after a blur of ``sigma``.

    Each peaks at 4-18% of a typical nucleus after the blur.
    """
    spacing = np.asarray(style.spacing)
    lateral_area = float(np.prod(np.asarray(shape[-2:]) * spacing[-2:]))
    count = rng.poisson(style.out_of_focus * lateral_area / 1e4)
    impulses = np.zeros(shape, dtype=np.float32)
    for _ in range(count):
        where = tuple(int(rng.integers(0, s)) for s in shape)
        impulses[where] += rng.uniform(0.04, 0.18) * float(np.prod(np.sqrt(2.0 * np.pi) * sigma))
    return impulses


def illumination(rng: np.random.Generator, shape: tuple[int, ...], style: NucleiStyle) -> np.ndarray:
    """Relative illumination (peak 1): off-centre vignetting, a linear tilt and, in 3D, loss with depth."""
    grids = np.meshgrid(*[np.linspace(-1.0, 1.0, s, dtype=np.float32) for s in shape[-2:]], indexing="ij",
                        sparse=True)
    cy, cx = rng.uniform(-0.5, 0.5, 2)
    angle = rng.uniform(0.0, 2.0 * np.pi)
    tilt = style.gradient * (np.sin(angle) * grids[0] + np.cos(angle) * grids[1])
    field = (1.0 - 0.5 * style.vignetting * ((grids[0] - cy) ** 2 + (grids[1] - cx) ** 2)) * (1.0 + tilt)
    field = np.clip(field, 0.05, None)
    field = field / field.max()
    if style.ndim == 3:
        depth = np.linspace(0.0, 1.0, shape[0], dtype=np.float32)
        field = field[None] * (1.0 - style.depth_attenuation * depth)[:, None, None]
    return field.astype(np.float32)


def expose(rng: np.random.Generator, stain: np.ndarray, style: NucleiStyle) -> np.ndarray:
    """Relative light on the camera (1 = a typical nucleus) from the in-focus ``stain``.

    Blurs the stain with the PSF, adds the broad haze of the out-of-focus light and out-of-focus nuclei, the
    smoothly varying background, and applies the illumination field.
    """
    shape = stain.shape
    spacing = np.asarray(style.spacing)
    signal = ndi.gaussian_filter(stain, psf_sigma(style)) if style.psf_sigma > 0 else stain
    sigma = np.maximum(1.5 * style.radius / spacing, 1.0)
    broad = blur(style.haze * stain + out_of_focus_nuclei(rng, shape, style, sigma), sigma)
    background = style.background * (1.0 + style.background_variation * smooth_noise(
        rng, shape, max(shape[-1] * spacing[-1], shape[-2] * spacing[-2]) / 5.0 / spacing))
    light = signal + broad + np.clip(background, 0.0, None)
    if style.clutter > 0:  # drawn only when asked for, so that images without it stay as they were
        light += clutter(rng, shape, style)
    if style.stray_light > 0:  # likewise
        light += stray_light(rng, shape, style)
    return light * illumination(rng, shape, style)


def stray_light(rng: np.random.Generator, shape: tuple[int, ...], style: NucleiStyle) -> np.ndarray:
    """Smooth additive light peaking at ``style.stray_light``: a tilt at a random angle and a broad glow.

    The glow is a Gaussian of 20-60% of the image's lateral size at a random place (also outside the image);
    the two are mixed at a random ratio and scaled so that their maximum in the image is ``style.stray_light``.
    In 3D the field is the same in every plane.
    """
    lateral = shape[-2:]
    grids = np.meshgrid(*[np.linspace(0.0, 1.0, s, dtype=np.float32) for s in lateral], indexing="ij", sparse=True)
    angle = rng.uniform(0.0, 2.0 * np.pi)
    tilt = np.sin(angle) * grids[0] + np.cos(angle) * grids[1]
    tilt = tilt - tilt.min()
    centre = rng.uniform(-0.2, 1.2, 2)
    width = rng.uniform(0.2, 0.6)
    glow = np.exp(-((grids[0] - centre[0]) ** 2 + (grids[1] - centre[1]) ** 2) / (2.0 * width**2))
    mix = rng.uniform(0.0, 1.0)
    field = mix * tilt / max(float(tilt.max()), 1e-6) + (1.0 - mix) * glow / max(float(glow.max()), 1e-6)
    field = style.stray_light * field / max(float(field.max()), 1e-6)
    return np.broadcast_to(field, shape).astype(np.float32)


def clutter(rng: np.random.Generator, shape: tuple[int, ...], style: NucleiStyle) -> np.ndarray:
    """Unlabelled textured background: irregular patches (twice the nucleus radius) of grainy light."""
    spacing = np.asarray(style.spacing)
    patches = np.clip(smooth_noise(rng, shape, 2.0 * style.radius / spacing), 0.0, None)
    grain = np.clip(1.0 + 0.7 * smooth_noise(rng, shape, style.clutter_grain / spacing), 0.0, None)
    return (style.clutter * patches * grain).astype(np.float32)
