"""The look of one synthetic nuclei image: every parameter the renderer needs, in one frozen dataclass.

Lengths are in lateral pixels (the Y/X pixel size is the unit, also along Z in 3D); brightness is relative to
a typical nucleus (1.0). :func:`napari_tiled_unet.synthetic.random_style` draws a style from ranges;
:func:`napari_tiled_unet.synthetic.render_nuclei` turns a style and a seed into an image and its masks.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from napari_tiled_unet.checks import check_float

# (low, high) of every numeric field; fields not listed here are checked on their own
_BOUNDS: dict[str, tuple[float, float]] = {
    "radius": (1.5, 200.0),
    "size_spread": (0.0, 1.0),
    "second_radius": (1.5, 200.0),
    "min_radius": (1.0, 200.0),
    "max_radius": (1.0, 400.0),
    "second_share": (0.0, 1.0),
    "aspect": (1.0, 4.0),
    "aspect_spread": (0.0, 1.0),
    "irregularity": (0.0, 0.3),
    "bean_share": (0.0, 1.0),
    "bean_bend": (0.0, 0.8),
    "z_flatten": (0.2, 2.0),
    "coverage": (0.0, 0.9),
    "clustering": (0.0, 1.0),
    "overlap": (0.0, 0.4),
    "brightness_spread": (0.0, 1.5),
    "dim_share": (0.0, 1.0),
    "dim_level": (0.01, 1.0),
    "mitotic_share": (0.0, 1.0),
    "mitotic_level": (1.0, 20.0),
    "dome": (0.0, 1.0),
    "rim": (-0.8, 2.0),
    "texture": (0.0, 1.0),
    "grain": (0.3, 10.0),
    "spots": (0.0, 40.0),
    "spot_gain": (0.0, 5.0),
    "nucleoli": (0.0, 6.0),
    "overlap_glow": (0.0, 1.0),
    "psf_sigma": (0.0, 10.0),
    "psf_sigma_z": (0.0, 30.0),
    "haze": (0.0, 1.0),
    "background": (0.0, 2.0),
    "background_variation": (0.0, 1.0),
    "gradient": (0.0, 0.9),
    "vignetting": (0.0, 0.9),
    "out_of_focus": (0.0, 50.0),
    "clutter": (0.0, 2.0),
    "clutter_grain": (0.3, 20.0),
    "stray_light": (0.0, 20.0),
    "depth_attenuation": (0.0, 0.9),
    "photons": (0.1, 1e6),
    "read_noise": (0.0, 100.0),
    "noise_blur": (0.0, 3.0),
    "target": (1.0, 65535.0),
    "offset": (0.0, 60000.0),
}


@dataclass(frozen=True)
class NucleiStyle:
    """Everything that decides how one synthetic fluorescence-nuclei image looks.

    Parameters
    ----------
    spacing : tuple of float
        Pixel spacing per axis in lateral pixels: ``(1, 1)`` in 2D, ``(dz, 1, 1)`` in 3D (``dz`` = Z step over
        the lateral pixel size).
    radius : float
        Typical nucleus radius (px); each nucleus draws its own from a log-normal around it.
    size_spread : float
        Standard deviation of the log radius.
    second_radius, second_share : float
        A second population of nuclei of typical radius ``second_radius`` makes up ``second_share`` of the
        nuclei (0: one population).
    min_radius, max_radius : float
        No nucleus is smaller or larger than these (px, radius of the circle of the same area).
    aspect, aspect_spread : float
        Typical ratio of the long to the short axis (>= 1) and the standard deviation of its log.
    irregularity : float
        Amplitude of smooth random boundary perturbations (relative radius).
    bean_share, bean_bend : float
        Share of kidney/bean-shaped nuclei and how strongly they bend (relative curvature).
    z_flatten : float
        3D only: Z semi-axis relative to the lateral ones (nuclei are often flatter than wide).
    coverage : float
        Area (2D) or volume (3D) share the nuclei would cover without overlaps.
    clustering : float
        Probability that a nucleus is placed touching an already placed one.
    overlap : float
        How far touching nuclei may overlap: centre distance down to ``1 - overlap`` times the sum of their
        radii; the nucleus in front owns the overlap (occlusion).
    brightness_spread : float
        Standard deviation of the log brightness of ordinary nuclei.
    dim_share, dim_level : float
        Share of dim nuclei and their brightness (relative to a typical nucleus).
    mitotic_share, mitotic_level : float
        Share of small, condensed, very bright (mitotic) nuclei and their brightness.
    dome : float
        0: flat interior (a confocal section); 1: the brightness follows the thickness of the nucleus.
    rim : float
        Brightness change at the nuclear rim: > 0 brighter rim (peripheral heterochromatin), < 0 darker rim.
    texture : float
        Amplitude of the chromatin mottling.
    grain : float
        Size (sigma, px) of the chromatin grain.
    spots, spot_gain : float
        Mean number of bright chromocentres per nucleus of radius 10 px (scales with the area) and their peak
        gain.
    nucleoli : float
        Mean number of dark nucleoli per nucleus.
    overlap_glow : float
        Share of the occluded nucleus' stain still seen through the one in front (widefield adds up).
    psf_sigma, psf_sigma_z : float
        Gaussian PSF sigma laterally and, in 3D, along Z (in lateral px; wider than laterally in real optics).
    haze : float
        Out-of-focus haze: weight of a broad blur of the stain added to the image.
    background : float
        Background (autofluorescence, stray light) level.
    background_variation : float
        Relative amplitude of the smooth background variation.
    gradient, vignetting : float
        Illumination tilt across the image and the fall-off towards the corners (relative).
    out_of_focus : float
        Number of dim, blurred, unlabelled out-of-focus nuclei per 100 x 100 px.
    clutter, clutter_grain : float
        Unlabelled textured background (cytoplasm autofluorescence, debris, compression noise): irregular patches
        of about twice the nucleus radius whose brightness, relative to a typical nucleus, is ``clutter`` times
        a rectified unit field, grained at ``clutter_grain`` px. 0: none.
    stray_light : float
        Additive light that varies across the image (autofluorescent medium, stray and out-of-focus light of a
        widefield microscope): a tilt and a broad glow, peaking at ``stray_light`` times a typical nucleus.
        Unlike ``background_variation`` it can outshine dim nuclei elsewhere, so that only local contrast tells
        nucleus from background. 0: none.
    depth_attenuation : float
        3D only: brightness lost from the first to the last plane.
    photons : float
        Expected photons at a typical nucleus (the noise: few photons is very noisy).
    read_noise : float
        Camera read noise in electrons.
    noise_blur : float
        Sigma (px) of a blur after the noise, as in images that were smoothed, resampled or compressed (the
        noise is then correlated between neighbouring pixels); 0: raw camera pixels.
    bits : int
        8 or 16: the output dtype.
    target : float
        Grey value of a typical nucleus above the offset (how much of the dynamic range is used).
    offset : float
        Camera offset (grey value of no light).

    """

    spacing: tuple[float, ...] = (1.0, 1.0)
    radius: float = 10.0
    size_spread: float = 0.15
    second_radius: float = 10.0
    second_share: float = 0.0
    min_radius: float = 3.0
    max_radius: float = 60.0
    aspect: float = 1.25
    aspect_spread: float = 0.15
    irregularity: float = 0.05
    bean_share: float = 0.1
    bean_bend: float = 0.3
    z_flatten: float = 0.8
    coverage: float = 0.3
    clustering: float = 0.5
    overlap: float = 0.15
    brightness_spread: float = 0.3
    dim_share: float = 0.1
    dim_level: float = 0.3
    mitotic_share: float = 0.03
    mitotic_level: float = 3.0
    dome: float = 0.4
    rim: float = 0.2
    texture: float = 0.25
    grain: float = 1.2
    spots: float = 3.0
    spot_gain: float = 0.8
    nucleoli: float = 1.0
    overlap_glow: float = 0.3
    psf_sigma: float = 1.2
    psf_sigma_z: float = 3.0
    haze: float = 0.1
    background: float = 0.05
    background_variation: float = 0.25
    gradient: float = 0.1
    vignetting: float = 0.2
    out_of_focus: float = 0.3
    clutter: float = 0.0
    clutter_grain: float = 1.5
    stray_light: float = 0.0
    depth_attenuation: float = 0.2
    photons: float = 300.0
    read_noise: float = 2.0
    noise_blur: float = 0.0
    bits: int = 16
    target: float = 1000.0
    offset: float = 100.0

    def __post_init__(self) -> None:
        spacing = tuple(float(s) for s in self.spacing) if isinstance(self.spacing, (tuple, list)) else ()
        if len(spacing) not in (2, 3) or not all(math.isfinite(s) and 0.05 <= s <= 50.0 for s in spacing):
            raise ValueError(f"spacing={self.spacing!r} is invalid: use 2 or 3 numbers from 0.05 to 50, "
                             "e.g. (1, 1) or (2.5, 1, 1)")
        object.__setattr__(self, "spacing", spacing)
        for name, (low, high) in _BOUNDS.items():
            check_float(name, getattr(self, name), low, high)
        if self.min_radius > self.max_radius:
            raise ValueError(f"min_radius={self.min_radius:g} is above max_radius={self.max_radius:g}: swap them")
        if self.bits not in (8, 16):
            raise ValueError(f"bits={self.bits!r} is invalid: use 8 or 16")
        top = 255 if self.bits == 8 else 65535
        if self.offset + self.target > top:
            raise ValueError(f"offset={self.offset:g} + target={self.target:g} is above the {self.bits}-bit range "
                             f"(max {top}): lower them")

    @property
    def ndim(self) -> int:
        """2 or 3."""
        return len(self.spacing)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dictionary of all fields."""
        data = dataclasses.asdict(self)
        data["spacing"] = list(self.spacing)
        return data

    def replace(self, **changes: Any) -> NucleiStyle:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)
