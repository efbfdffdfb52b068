"""Draw a random image style: the spread of looks a training set of synthetic nuclei covers.

Every image gets its own typical nucleus size (log-uniform over ``radius``, with a spread, and in some images
a second population of another size), shape statistics (elongation, irregular and bean shapes), density and
clustering, brightness classes (dim and bright mitotic nuclei next to ordinary ones: a 10-20x range),
texture (mottling, chromocentres, nucleoli, a bright or dark rim), optics (PSF, haze, out-of-focus nuclei,
uneven background and illumination) and camera (very clean to very noisy, 8 or 16 bit, little or much of the
dynamic range used, an offset). Dim nuclei are kept bright enough to be seen above the noise, so that the
masks stay true to the image.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from napari_tiled_unet.checks import check_float
from napari_tiled_unet.synthetic.style import NucleiStyle


@dataclass(frozen=True)
class StyleRanges:
    """The ranges :func:`random_style` draws from.

    Parameters
    ----------
    radius : tuple of float
        Typical nucleus radius per image (px), drawn on a log scale (most often near the geometric middle of the
        range); no nucleus is outside this range.
    coverage : tuple of float
        Share of the image covered by nuclei.
    photons : tuple of float
        Photons at a typical nucleus (log-uniform): the noise from very noisy to very clean.
    psf_sigma : tuple of float
        Lateral PSF sigma (px) for a nucleus of radius 12 px; larger nuclei (higher magnification) get more.
    z_step : tuple of float
        3D only: Z step in lateral pixels.
    share_16bit : float
        Share of 16-bit images (the rest is 8 bit).
    share_mixed_sizes : float
        Share of images with a second population of nuclei of another size.
    max_brightness_ratio : float
        Largest ratio between the brightest (mitotic) and the dimmest nuclei of an image.
    share_clutter : float
        Share of images with textured, unlabelled background (``NucleiStyle.clutter``).
    share_stray_light : float
        Share of images with strong additive light varying across the image (``NucleiStyle.stray_light``,
        log-uniform over ``stray_light``; never so bright that its noise hides the dimmest nuclei).
    stray_light : tuple of float
        Its peak, relative to a typical nucleus.

    """

    radius: tuple[float, float] = (4.0, 40.0)
    coverage: tuple[float, float] = (0.08, 0.5)
    photons: tuple[float, float] = (8.0, 3000.0)
    psf_sigma: tuple[float, float] = (0.5, 1.6)
    z_step: tuple[float, float] = (2.0, 3.0)
    share_16bit: float = 0.5
    share_mixed_sizes: float = 0.25
    max_brightness_ratio: float = 20.0
    share_clutter: float = 0.0
    share_stray_light: float = 0.0
    stray_light: tuple[float, float] = (0.3, 4.0)

    def __post_init__(self) -> None:
        for name, low, high in (("radius", 1.5, 200.0), ("coverage", 0.0, 0.9), ("photons", 0.1, 1e6),
                                ("psf_sigma", 0.0, 10.0), ("z_step", 0.05, 50.0), ("stray_light", 0.01, 20.0)):
            pair = getattr(self, name)
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise ValueError(f"{name}={pair!r} is invalid: use a (low, high) pair")
            check_float(f"{name}[0]", pair[0], low, high)
            check_float(f"{name}[1]", pair[1], pair[0], high)
            object.__setattr__(self, name, (float(pair[0]), float(pair[1])))
        check_float("share_16bit", self.share_16bit, 0.0, 1.0)
        check_float("share_mixed_sizes", self.share_mixed_sizes, 0.0, 1.0)
        check_float("max_brightness_ratio", self.max_brightness_ratio, 1.0, 1000.0)
        check_float("share_clutter", self.share_clutter, 0.0, 1.0)
        check_float("share_stray_light", self.share_stray_light, 0.0, 1.0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dictionary."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


def _sizes(rng: np.random.Generator, ranges: StyleRanges) -> dict[str, float]:
    low, high = ranges.radius
    # log radius from a Beta(1.5, 2.2) over the range: most images near the geometric middle (10 px for 4..40),
    # tails to both ends
    radius = float(low * (high / low) ** rng.beta(1.5, 2.2))
    sizes = {"radius": radius, "size_spread": rng.uniform(0.05, 0.25), "min_radius": low, "max_radius": high,
             "second_radius": radius, "second_share": 0.0}
    if rng.random() < ranges.share_mixed_sizes:
        factor = rng.uniform(0.35, 0.6) if rng.random() < 0.5 else rng.uniform(1.7, 2.8)
        sizes["second_radius"] = float(np.clip(radius * factor, low, high))
        sizes["second_share"] = rng.uniform(0.15, 0.5)
    return sizes


def _shapes_and_layout(rng: np.random.Generator, ranges: StyleRanges) -> dict[str, float]:
    return {
        "aspect": 1.0 + 0.9 * rng.beta(1.5, 3.0),
        "aspect_spread": rng.uniform(0.05, 0.25),
        "irregularity": rng.uniform(0.0, 0.12),
        "bean_share": rng.uniform(0.0, 0.35) if rng.random() < 0.5 else 0.0,
        "bean_bend": rng.uniform(0.2, 0.6),
        "z_flatten": rng.uniform(0.6, 1.0),
        "coverage": rng.uniform(*ranges.coverage),
        "clustering": rng.uniform(0.0, 0.9),
        "overlap": rng.uniform(0.0, 0.3),
    }


def _rim(rng: np.random.Generator) -> float:
    draw = rng.random()
    if draw < 0.4:
        return rng.uniform(0.2, 0.9)  # bright peripheral heterochromatin
    return rng.uniform(-0.5, -0.15) if draw < 0.65 else rng.uniform(-0.1, 0.1)


def _interior(rng: np.random.Generator, radius: float) -> dict[str, float]:
    scale = max(1.0, radius / 12.0) ** 0.5
    return {
        "brightness_spread": rng.uniform(0.1, 0.45),
        "dome": rng.uniform(0.0, 1.0),
        "rim": _rim(rng),
        "texture": rng.uniform(0.05, 0.5),
        "grain": rng.uniform(0.6, 1.6) * scale,
        "spots": rng.uniform(0.0, 6.0),
        "spot_gain": rng.uniform(0.3, 1.5),
        "nucleoli": rng.uniform(0.0, 2.5),
        "overlap_glow": rng.uniform(0.0, 0.6),
    }


def _optics(rng: np.random.Generator, ranges: StyleRanges, radius: float, ndim: int) -> dict[str, float]:
    scale = max(1.0, radius / 12.0) ** 0.5
    psf = rng.uniform(*ranges.psf_sigma) * scale
    return {
        "psf_sigma": psf,
        "psf_sigma_z": psf * rng.uniform(2.0, 3.5),
        "haze": rng.uniform(0.0, 0.5),
        "background": _log_uniform(rng, 0.005, 0.3),
        "background_variation": rng.uniform(0.0, 0.6),
        "gradient": rng.uniform(0.0, 0.4),
        "vignetting": rng.uniform(0.0, 0.6),
        "out_of_focus": 0.0 if ndim == 3 or rng.random() < 0.5 else rng.uniform(0.1, 2.0) * (12.0 / radius) ** 2,
        "depth_attenuation": rng.uniform(0.0, 0.5),
    }


def _brightness_classes(rng: np.random.Generator, ranges: StyleRanges, photons: float, read_noise: float,
                        background: float) -> dict[str, float]:
    # the dimmest nucleus should still stand out of the noise of the background by ~4 sigma
    floor = max(0.1, (4.0 * math.sqrt(photons * (background + 0.2)) + 3.0 * read_noise) / photons)
    mitotic_level = rng.uniform(2.0, 4.5)
    classes = {"mitotic_share": rng.uniform(0.0, 0.08) if rng.random() < 0.6 else 0.0, "mitotic_level": mitotic_level}
    dim_level = rng.uniform(0.1, 0.35)
    dim_level = max(dim_level, floor, mitotic_level / ranges.max_brightness_ratio)
    use_dim = rng.random() < 0.6 and dim_level < 0.6
    classes.update(dim_share=rng.uniform(0.05, 0.3) if use_dim else 0.0, dim_level=min(dim_level, 1.0))
    return classes


def _camera(rng: np.random.Generator, brightest: float, share_16bit: float) -> dict[str, float]:
    if rng.random() >= share_16bit:  # 8 bit
        offset = rng.uniform(0.0, 20.0) if rng.random() < 0.7 else 0.0
        headroom = rng.uniform(0.35, 1.05)
        return {"bits": 8, "offset": offset, "target": max(4.0, headroom * (255.0 - offset) / brightest)}
    offset = float(rng.choice([0.0, 100.0, rng.uniform(50.0, 600.0)]))
    top = rng.uniform(500.0, 4000.0) if rng.random() < 0.6 else rng.uniform(4000.0, 50000.0)
    top = max(top, offset + 300.0)
    return {"bits": 16, "offset": offset, "target": max(4.0, (top - offset) / brightest)}


def random_style(rng: np.random.Generator, ndim: int = 2, ranges: StyleRanges | None = None) -> NucleiStyle:
    """Draw the style of one synthetic image.

    Parameters
    ----------
    rng : numpy.random.Generator
        The random stream (the same stream gives the same style).
    ndim : int
        2 or 3; 3D styles get a Z step from ``ranges.z_step`` and a wider PSF along Z.
    ranges : StyleRanges, optional
        What to draw from; ``StyleRanges()`` by default.

    Returns
    -------
    NucleiStyle
        A valid style.

    """
    if ndim not in (2, 3):
        raise ValueError(f"ndim={ndim!r} is invalid: use 2 or 3")
    ranges = ranges or StyleRanges()
    values: dict[str, Any] = _sizes(rng, ranges)
    values.update(_shapes_and_layout(rng, ranges))
    values.update(_interior(rng, values["radius"]))
    values.update(_optics(rng, ranges, values["radius"], ndim))
    photons = _log_uniform(rng, *ranges.photons)
    read_noise = rng.uniform(0.5, 6.0)
    values.update(photons=photons, read_noise=read_noise,
                  noise_blur=rng.uniform(0.3, 1.2) if rng.random() < 0.3 else 0.0)
    values.update(_brightness_classes(rng, ranges, photons, read_noise, values["background"]))
    brightest = (values["mitotic_level"] if values["mitotic_share"] else math.exp(2 * values["brightness_spread"]))
    values.update(_camera(rng, brightest + values["background"] + 0.3 * values["haze"], ranges.share_16bit))
    values["spacing"] = (rng.uniform(*ranges.z_step), 1.0, 1.0) if ndim == 3 else (1.0, 1.0)
    if ndim == 3:
        values["overlap_glow"] = 0.0  # a voxel holds one nucleus; only projections (2D) add up stain
    if ranges.share_clutter > 0 and rng.random() < ranges.share_clutter:  # drawn last: other draws unchanged
        values.update(clutter=rng.uniform(0.03, 0.15), clutter_grain=rng.uniform(0.8, 3.0))
    if ranges.share_stray_light > 0 and rng.random() < ranges.share_stray_light:  # likewise
        values.update(_stray_light(rng, ranges, values))
    return NucleiStyle(**values)


def _stray_light(rng: np.random.Generator, ranges: StyleRanges, values: dict[str, Any]) -> dict[str, float]:
    """A stray light peak and the camera scale that keeps the image's brightest light where it was."""
    dimmest = values["dim_level"] if values["dim_share"] else math.exp(-2.0 * values["brightness_spread"])
    photons, read_noise, background = values["photons"], values["read_noise"], values["background"]
    # as for the dim nuclei: the dimmest nucleus stays ~4 sigma above the noise of the brightest stray light
    above_read_noise = max(dimmest * photons - 3.0 * read_noise, 0.0)
    allowed = (above_read_noise / 4.0) ** 2 / photons - background - 0.2
    peak = min(_log_uniform(rng, *ranges.stray_light), allowed)
    if peak < ranges.stray_light[0]:
        return {}
    brightest = (values["mitotic_level"] if values["mitotic_share"] else math.exp(2 * values["brightness_spread"]))
    before = brightest + background + 0.3 * values["haze"]
    return {"stray_light": peak, "target": max(1.0, values["target"] * before / (before + peak))}
