"""Deterministic generator of synthetic fluorescence-nuclei sample data.

Run ``python sample_data/generate.py`` to (re)write the TIFF files next to this script.

The 2D images mimic DAPI/Hoechst-stained nuclei recorded with a widefield microscope and an sCMOS camera:
touching and slightly overlapping nuclei of varied size, elliptical shapes with low-frequency boundary
perturbations, chromatin-like texture with bright chromocenters and dim nucleoli, Gaussian PSF blur,
out-of-focus haze, uneven illumination, a low autofluorescence background and Poisson-Gaussian camera noise,
stored as ``uint16``. They are made by the functions of this script (numpy, scipy and scikit-image only).

The 3D stack looks like a confocal stack of nuclei in a tissue: voxels 2.5 times deeper than wide
(1.0 x 0.4 x 0.4 um), nuclei about 10 planes tall, an anisotropic PSF (wider along Z), loss of signal with
depth. It is rendered by the package's synthetic generator (:mod:`napari_tiled_unet.synthetic`) with a fixed
style, see :data:`CONFOCAL_3D`.

The generator functions :func:`make_nuclei_2d`, :func:`make_nuclei_3d` and :func:`make_scribbles` can be
imported from this file (e.g. with :mod:`importlib.util`).
"""

from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import tifffile
from scipy import ndimage as ndi
from skimage.draw import line as draw_line
from skimage.morphology import disk
from skimage.segmentation import relabel_sequential

try:
    from napari_tiled_unet.synthetic import NucleiStyle, render_nuclei
except ImportError:  # a source checkout without the package installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from napari_tiled_unet.synthetic import NucleiStyle, render_nuclei

#: Lateral pixel size (micrometres) of the 2D sample images.
PIXEL_SIZE_UM = 0.5
#: Voxel size (z, y, x) in micrometres of the 3D sample: a Z step 2.5 times the lateral pixel size.
VOXEL_SIZE_3D_UM = (1.0, 0.4, 0.4)
#: Voxel spacing of the 3D sample relative to its lateral pixel size (napari ``scale``).
SPACING_3D = tuple(v / VOXEL_SIZE_3D_UM[-1] for v in VOXEL_SIZE_3D_UM)
#: Shape (Z, Y, X) of the 3D sample.
SHAPE_3D = (32, 192, 192)

#: The look of the 3D sample (lengths in lateral pixels of 0.4 um): nuclei of radius ~12.5 px (5 um, about
#: 10 planes tall), a confocal section's flat interior with a brighter rim, chromocentres and nucleoli, a PSF of
#: sigma 0.4 um laterally and 1.2 um axially, little haze, 35% signal loss over the depth, PMT-like noise.
CONFOCAL_3D = NucleiStyle(
    spacing=SPACING_3D, radius=12.5, size_spread=0.12, min_radius=7.0, max_radius=20.0, aspect=1.2,
    aspect_spread=0.1, irregularity=0.05, bean_share=0.1, bean_bend=0.3, z_flatten=1.0, coverage=0.33,
    clustering=0.6, overlap=0.12, brightness_spread=0.3, dim_share=0.1, dim_level=0.3, mitotic_share=0.03,
    mitotic_level=3.0, dome=0.1, rim=0.3, texture=0.3, grain=1.0, spots=4.0, spot_gain=0.8, nucleoli=1.5,
    overlap_glow=0.0, psf_sigma=1.0, psf_sigma_z=3.0, haze=0.05, background=0.03, background_variation=0.3,
    gradient=0.1, vignetting=0.2, out_of_focus=0.0, depth_attenuation=0.35, photons=150.0, read_noise=1.0,
    bits=16, target=800.0, offset=100.0,
)

#: Seeds of the files written by :func:`main`.
SEED_2D = 20240501
SEED_2D_TEST = 20240502
SEED_3D = 20240503
SEED_SCRIBBLES = 20240504

OUT_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Optics:
    """Imaging parameters, lengths in lateral pixels (physical units).

    Attributes
    ----------
    psf_sigma : tuple of float
        Gaussian PSF sigma per axis in physical units (lateral pixels).
    haze_sigma : tuple of float
        Sigma of the broad out-of-focus haze component per axis.
    haze_fraction : float
        Weight of the haze relative to the in-focus signal.
    photons : float
        Expected photons at a nucleus of unit brightness.
    background : float
        Autofluorescence level relative to unit nucleus brightness.
    adu_per_photon : float
        Camera conversion gain (ADU per photo-electron).
    offset : float
        Camera offset in ADU.
    read_noise : float
        Gaussian camera read noise (standard deviation in ADU).
    """

    psf_sigma: tuple[float, ...]
    haze_sigma: tuple[float, ...]
    haze_fraction: float
    photons: float = 260.0
    background: float = 0.06
    adu_per_photon: float = 2.2
    offset: float = 100.0
    read_noise: float = 3.0


@dataclass(frozen=True)
class Nucleus:
    """Geometry and appearance of one synthetic nucleus (physical units).

    Attributes
    ----------
    center : np.ndarray
        Center coordinates, shape ``(ndim,)``.
    axes : np.ndarray
        Semi-axes of the ellipse/ellipsoid in its body frame, shape ``(ndim,)``.
    rotation : np.ndarray
        Orthonormal matrix whose columns are the body axes, shape ``(ndim, ndim)``.
    wobble_dirs : np.ndarray
        Unit vectors of the boundary perturbation terms, shape ``(k, ndim)``.
    wobble_freq, wobble_phase, wobble_amp : np.ndarray
        Frequency, phase and relative amplitude of each perturbation term, shape ``(k,)``.
    brightness : float
        Mean stain density (1 is a typical nucleus).
    texture_amp : float
        Relative amplitude of the chromatin texture.
    """

    center: np.ndarray
    axes: np.ndarray
    rotation: np.ndarray
    wobble_dirs: np.ndarray
    wobble_freq: np.ndarray
    wobble_phase: np.ndarray
    wobble_amp: np.ndarray
    brightness: float
    texture_amp: float

    def radius_towards(self, direction: np.ndarray) -> float:
        """Return the unperturbed boundary distance from the center along a unit direction."""
        body = self.rotation.T @ direction
        return float(1.0 / np.sqrt(np.sum((body / self.axes) ** 2)))

    @property
    def extent(self) -> float:
        """Upper bound of the distance between the center and any boundary point."""
        return float(self.axes.max() * (1.0 + self.wobble_amp.sum()) + 1.0)


def _random_rotation(rng: np.random.Generator, ndim: int) -> np.ndarray:
    """Draw a uniformly random proper rotation matrix."""
    q, r = np.linalg.qr(rng.normal(size=(ndim, ndim)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def _random_unit_vector(rng: np.random.Generator, ndim: int) -> np.ndarray:
    """Draw a uniformly random unit vector."""
    v = rng.normal(size=ndim)
    return v / np.linalg.norm(v)


def _sample_nucleus(rng: np.random.Generator, ndim: int, radius_range: tuple[float, float]) -> Nucleus:
    """Draw the shape and appearance parameters of one nucleus (center set to zero).

    A small fraction of nuclei are condensed (mitotic/apoptotic-like): small, round and bright.
    """
    condensed = rng.random() < 0.04
    lo, hi = radius_range
    if condensed:
        radius = rng.uniform(0.7, 0.95) * lo
        aspect = rng.uniform(1.0, 1.25, size=ndim)
        brightness = rng.uniform(2.0, 2.8)
        texture_amp = rng.uniform(0.3, 0.45)
    else:
        radius = lo + (hi - lo) * rng.beta(2.0, 2.2)
        aspect = np.exp(rng.normal(0.0, 0.17, size=ndim))
        aspect[0] *= rng.uniform(1.1, 1.45)
        brightness = float(np.exp(rng.normal(0.0, 0.3)))
        texture_amp = rng.uniform(0.12, 0.3)
    k = 3
    return Nucleus(
        center=np.zeros(ndim),
        axes=radius * aspect / np.prod(aspect) ** (1.0 / ndim),
        rotation=_random_rotation(rng, ndim),
        wobble_dirs=np.stack([_random_unit_vector(rng, ndim) for _ in range(k)]),
        wobble_freq=rng.choice([1.0, 1.5, 2.0, 2.5, 3.0], size=k),
        wobble_phase=rng.uniform(0.0, 2.0 * np.pi, size=k),
        wobble_amp=rng.uniform(0.0, 0.045 if condensed else 0.07, size=k),
        brightness=float(brightness),
        texture_amp=float(texture_amp),
    )


def _far_enough(a: Nucleus, b: Nucleus, center_a: np.ndarray, factor: float) -> bool:
    """Return True when ``a`` at ``center_a`` is at least ``factor`` x (sum of radii) away from ``b``."""
    delta = center_a - b.center
    dist = float(np.linalg.norm(delta))
    if dist < 1e-6:
        return False
    u = delta / dist
    return dist >= factor * (a.radius_towards(u) + b.radius_towards(u))


def _place_nuclei(
    rng: np.random.Generator,
    extent: np.ndarray,
    n_nuclei: int,
    radius_range: tuple[float, float],
    cluster_prob: float,
    overlap: tuple[float, float],
) -> list[Nucleus]:
    """Place nuclei in a box of size ``extent`` (physical units), many of them in touching clusters.

    With probability ``cluster_prob`` a new nucleus is attached to an existing one at a center distance
    of ``U(*overlap)`` times the sum of their radii along the connecting direction (slight overlap or
    contact); otherwise it is placed freely with a gap to all others. No pair may overlap more than
    ``overlap[0]``.
    """
    ndim = len(extent)
    nuclei: list[Nucleus] = []
    for _ in range(20 * n_nuclei):
        if len(nuclei) == n_nuclei:
            break
        nuc = _sample_nucleus(rng, ndim, radius_range)
        attach = bool(nuclei) and rng.random() < cluster_prob
        if attach:
            anchor = nuclei[rng.integers(len(nuclei))]
            u = _random_unit_vector(rng, ndim)
            dist = rng.uniform(*overlap) * (nuc.radius_towards(u) + anchor.radius_towards(u))
            center = anchor.center + dist * u
            factor = overlap[0]
        else:
            center = rng.uniform(0.0, 1.0, size=ndim) * extent
            factor = 1.15
        if np.any(center < 0) or np.any(center >= extent):
            continue
        if all(_far_enough(nuc, other, center, factor) for other in nuclei):
            nuclei.append(_with_center(nuc, center))
    return nuclei


def _with_center(nuc: Nucleus, center: np.ndarray) -> Nucleus:
    """Return a copy of ``nuc`` moved to ``center``."""
    return replace(nuc, center=np.asarray(center, dtype=float))


def _local_box(
    nuc: Nucleus, shape: tuple[int, ...], spacing: np.ndarray
) -> tuple[tuple[slice, ...], list[np.ndarray]] | None:
    """Return the voxel bounding box of a nucleus and the physical offsets from its center."""
    lo = np.floor((nuc.center - nuc.extent) / spacing).astype(int)
    hi = np.ceil((nuc.center + nuc.extent) / spacing).astype(int) + 1
    lo = np.maximum(lo, 0)
    hi = np.minimum(hi, shape)
    if np.any(hi <= lo):
        return None
    slices = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    coords = np.meshgrid(
        *[np.arange(a, b) * s - c for a, b, s, c in zip(lo, hi, spacing, nuc.center, strict=True)],
        indexing="ij",
    )
    return slices, coords


def _normalized_radius(nuc: Nucleus, offsets: list[np.ndarray]) -> np.ndarray:
    """Return the perturbed normalized ellipsoid radius (< 1 inside the nucleus) at the offsets."""
    stacked = np.stack(offsets, axis=-1)
    body = stacked @ nuc.rotation
    ell = np.sqrt(np.sum((body / nuc.axes) ** 2, axis=-1))
    norm = np.linalg.norm(stacked, axis=-1)
    direction = stacked / np.maximum(norm, 1e-9)[..., None]
    wobble = np.zeros(ell.shape)
    for v, f, p, a in zip(nuc.wobble_dirs, nuc.wobble_freq, nuc.wobble_phase, nuc.wobble_amp, strict=True):
        wobble += a * np.cos(np.pi * f * (direction @ v) + p)
    return ell / (1.0 + wobble)


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], sigma: np.ndarray) -> np.ndarray:
    """Return Gaussian-filtered white noise normalized to zero mean and unit standard deviation."""
    field = ndi.gaussian_filter(rng.normal(size=shape), sigma, mode="wrap")
    return (field - field.mean()) / field.std()


def _render(
    rng: np.random.Generator,
    nuclei: list[Nucleus],
    shape: tuple[int, ...],
    spacing: np.ndarray,
    projected: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Rasterize nuclei into a stain-density map and an instance label image.

    Nuclei are painted in random depth order; the nucleus painted last is in front and wins the
    labels. In a 2D projection (``projected``) overlapping stain adds up; in 3D the front nucleus
    replaces the density.
    """
    density = np.zeros(shape, dtype=np.float64)
    labels = np.zeros(shape, dtype=np.int32)
    fine = _smooth_noise(rng, shape, 0.9 / spacing)
    coarse = _smooth_noise(rng, shape, 2.8 / spacing)
    for label_id, idx in enumerate(rng.permutation(len(nuclei)), start=1):
        nuc = nuclei[idx]
        box = _local_box(nuc, shape, spacing)
        if box is None:
            continue
        slices, offsets = box
        rho = _normalized_radius(nuc, offsets)
        mask = rho < 1.0
        if projected:
            # thickness of a flattened ellipsoid seen from above
            profile = 0.5 + 0.5 * np.sqrt(np.clip(1.0 - rho**2, 0.0, None)) ** 0.6
        else:
            # slightly brighter peripheral heterochromatin
            profile = 0.9 + 0.25 * np.exp(-(((1.0 - rho) / 0.12) ** 2))
        texture = 1.0 + nuc.texture_amp * (0.8 * fine[slices] + 0.6 * coarse[slices])
        value = nuc.brightness * profile * np.clip(texture, 0.15, None)
        value = value * _spots(rng, nuc, offsets, mask)
        if projected:
            density[slices][mask] += value[mask]
        else:
            density[slices][mask] = value[mask]
        labels[slices][mask] = label_id
    return density, labels


def _spots(rng: np.random.Generator, nuc: Nucleus, offsets: list[np.ndarray], mask: np.ndarray) -> np.ndarray:
    """Return a multiplicative field with bright chromocenters and dim nucleoli inside one nucleus."""
    stacked = np.stack(offsets, axis=-1)
    field = np.ones(mask.shape)
    inside = np.argwhere(mask)
    if len(inside) == 0:
        return field
    radius = float(np.mean(nuc.axes))
    n_bright = rng.poisson(2.5 * (radius / 10.0) ** 2)
    n_dim = rng.poisson(1.2)
    for n, gain, sigma in ((n_bright, rng.uniform(0.5, 1.2), 0.9), (n_dim, -0.35, 0.2 * radius)):
        for _ in range(n):
            pos = stacked[tuple(inside[rng.integers(len(inside))])]
            r2 = np.sum((stacked - pos) ** 2, axis=-1)
            field += gain * rng.uniform(0.6, 1.0) * np.exp(-r2 / (2.0 * sigma**2))
    return np.clip(field, 0.3, None)


def _resolve_fragments(labels: np.ndarray) -> np.ndarray:
    """Keep one connected piece per instance; give occlusion fragments to the neighbouring nucleus."""
    out = labels.copy()
    for label_id, slc in enumerate(ndi.find_objects(labels), start=1):
        if slc is None:
            continue
        padded = tuple(slice(max(s.start - 1, 0), s.stop + 1) for s in slc)
        local = out[padded]
        comps, n = ndi.label(local == label_id)
        if n <= 1:
            continue
        sizes = ndi.sum_labels(np.ones_like(comps), comps, index=np.arange(1, n + 1))
        keep = int(np.argmax(sizes)) + 1
        for comp in range(1, n + 1):
            if comp == keep:
                continue
            frag = comps == comp
            ring = ndi.binary_dilation(frag) & ~frag
            neighbours = local[ring]
            neighbours = neighbours[(neighbours != 0) & (neighbours != label_id)]
            local[frag] = np.bincount(neighbours).argmax() if neighbours.size else 0
    return out


def _background_blobs(
    rng: np.random.Generator, shape: tuple[int, ...], spacing: np.ndarray, n: int
) -> np.ndarray:
    """Return dim, strongly blurred discs mimicking out-of-focus nuclei from other planes."""
    impulses = np.zeros(shape)
    for _ in range(n):
        pos = tuple(rng.integers(0, s) for s in shape)
        impulses[pos] = rng.uniform(0.08, 0.2)
    sigma = rng.uniform(6.0, 8.0) / spacing
    # scale so that each blob peaks at its impulse amplitude
    return ndi.gaussian_filter(impulses, sigma) * float(np.prod(np.sqrt(2.0 * np.pi) * sigma))


def _illumination(rng: np.random.Generator, shape: tuple[int, ...], spacing: np.ndarray) -> np.ndarray:
    """Return an uneven illumination field: off-center vignetting, a linear tilt and depth attenuation."""
    grids = np.meshgrid(*[np.linspace(-1.0, 1.0, s) for s in shape[-2:]], indexing="ij")
    cy, cx = rng.uniform(-0.4, 0.4, size=2)
    gy, gx = rng.uniform(-0.12, 0.12, size=2)
    field = 1.0 - 0.22 * ((grids[0] - cy) ** 2 + (grids[1] - cx) ** 2) + gy * grids[0] + gx * grids[1]
    field = field / field.max()
    if len(shape) == 3:
        depth = np.arange(shape[0]) * spacing[0]
        field = field[None] * np.exp(-depth / (6.0 * depth.max() + 1e-9))[:, None, None]
    return field


def _camera(rng: np.random.Generator, photons: np.ndarray, optics: Optics) -> np.ndarray:
    """Apply shot noise, conversion gain, offset and read noise; return a ``uint16`` image."""
    electrons = rng.poisson(np.clip(photons, 0.0, None))
    read_noise = rng.normal(0.0, optics.read_noise, photons.shape)
    adu = optics.offset + optics.adu_per_photon * electrons + read_noise
    return np.clip(np.round(adu), 0, np.iinfo(np.uint16).max).astype(np.uint16)


def make_nuclei(
    shape: tuple[int, ...],
    n_nuclei: int,
    seed: int,
    spacing: tuple[float, ...],
    radius_range: tuple[float, float],
    optics: Optics,
    cluster_prob: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """Generate a synthetic nuclei image and its instance labels (2D or 3D).

    Parameters
    ----------
    shape : tuple of int
        Output shape ``(Y, X)`` or ``(Z, Y, X)``.
    n_nuclei : int
        Target number of nuclei (fewer when the field is too crowded).
    seed : int
        Seed of the random generator; identical arguments give identical outputs.
    spacing : tuple of float
        Voxel spacing per axis in lateral pixels, e.g. ``(2.0, 1.0, 1.0)``.
    radius_range : tuple of float
        Range of the mean nucleus radius in lateral pixels.
    optics : Optics
        Blur, illumination and camera parameters.
    cluster_prob : float, optional
        Probability that a nucleus is placed in contact with an already placed one.

    Returns
    -------
    image : np.ndarray
        ``uint16`` camera image.
    labels : np.ndarray
        ``uint16`` instance labels, 0 = background, 1..N = nuclei.
    """
    rng = np.random.default_rng(seed)
    spacing_arr = np.asarray(spacing, dtype=float)
    extent = np.asarray(shape) * spacing_arr
    nuclei = _place_nuclei(rng, extent, n_nuclei, radius_range, cluster_prob, (0.8, 0.97))
    density, labels = _render(rng, nuclei, tuple(shape), spacing_arr, projected=len(shape) == 2)
    labels = relabel_sequential(_resolve_fragments(labels))[0].astype(np.uint16)
    psf = np.asarray(optics.psf_sigma) / spacing_arr
    haze = np.asarray(optics.haze_sigma) / spacing_arr
    signal = ndi.gaussian_filter(density, psf) + optics.haze_fraction * ndi.gaussian_filter(density, haze)
    if len(shape) == 2:
        signal += _background_blobs(rng, tuple(shape), spacing_arr, max(2, n_nuclei // 15))
    autofluorescence = optics.background * (1.0 + 0.25 * _smooth_noise(rng, tuple(shape), 40.0 / spacing_arr))
    photons = optics.photons * _illumination(rng, tuple(shape), spacing_arr) * (signal + autofluorescence)
    return _camera(rng, photons, optics), labels


def make_nuclei_2d(
    shape: tuple[int, int] = (512, 512), n_nuclei: int = 150, seed: int = SEED_2D
) -> tuple[np.ndarray, np.ndarray]:
    """Generate a 2D widefield-like nuclei image (radius ~6-16 px) with instance labels.

    Parameters
    ----------
    shape : tuple of int, optional
        Image shape ``(Y, X)``.
    n_nuclei : int, optional
        Target number of nuclei.
    seed : int, optional
        Random seed.

    Returns
    -------
    image : np.ndarray
        ``uint16`` image.
    labels : np.ndarray
        ``uint16`` instance labels (0 = background).
    """
    optics = Optics(psf_sigma=(1.3, 1.3), haze_sigma=(9.0, 9.0), haze_fraction=0.12)
    return make_nuclei(shape, n_nuclei, seed, (1.0, 1.0), (6.0, 16.0), optics)


def make_nuclei_3d(
    shape: tuple[int, int, int] = SHAPE_3D, seed: int = SEED_3D, style: NucleiStyle = CONFOCAL_3D
) -> tuple[np.ndarray, np.ndarray]:
    """Generate a confocal-like 3D nuclei stack ``(Z, Y, X)`` with instance labels.

    Voxels are :data:`SPACING_3D` ``= (2.5, 1, 1)`` lateral pixels large; the PSF is three times wider along
    Z than laterally. Rendered by :func:`napari_tiled_unet.synthetic.render_nuclei` with :data:`CONFOCAL_3D`.

    Parameters
    ----------
    shape : tuple of int, optional
        Stack shape ``(Z, Y, X)``.
    seed : int, optional
        Random seed.
    style : NucleiStyle, optional
        The look of the stack (its spacing must have three axes).

    Returns
    -------
    image : np.ndarray
        ``uint16`` stack.
    labels : np.ndarray
        ``uint16`` instance labels (0 = background).
    """
    return render_nuclei(shape, style, seed=seed)


def touching_ids(labels: np.ndarray) -> set[int]:
    """Return the ids of instances that touch another instance (full, 8/26-connectivity)."""
    touching: set[int] = set()
    ndim = labels.ndim
    for offset in itertools.product((-1, 0, 1), repeat=ndim):
        if offset <= (0,) * ndim:
            continue  # each neighbour pair once
        src = tuple(slice(max(-o, 0), labels.shape[i] - max(o, 0)) for i, o in enumerate(offset))
        dst = tuple(slice(max(o, 0), labels.shape[i] - max(-o, 0)) for i, o in enumerate(offset))
        a, b = labels[src], labels[dst]
        pair = (a != b) & (a > 0) & (b > 0)
        touching.update(np.unique(a[pair]).tolist())
        touching.update(np.unique(b[pair]).tolist())
    return touching


def _stroke_points(
    rng: np.random.Generator, start: np.ndarray, allowed: np.ndarray, step: float, n_steps: int, wiggle: float
) -> list[tuple[int, int]]:
    """Return the vertices of a smooth random-walk stroke staying inside ``allowed``.

    The walk turns away when the next step would leave ``allowed`` and ends when it cannot.
    """
    pos = start.astype(float)
    heading = rng.uniform(0.0, 2.0 * np.pi)
    points = [tuple(int(v) for v in np.round(pos))]
    for _ in range(n_steps):
        heading += rng.normal(0.0, wiggle)
        for turn in (0.0, *rng.uniform(0.4, 1.6, size=6) * rng.choice([-1.0, 1.0], size=6)):
            nxt = pos + step * np.array([np.sin(heading + turn), np.cos(heading + turn)])
            idx = tuple(int(v) for v in np.round(nxt))
            if all(0 <= i < s for i, s in zip(idx, allowed.shape, strict=True)) and allowed[idx]:
                if _segment_inside(points[-1], idx, allowed):
                    heading += turn
                    pos = nxt
                    points.append(idx)
                    break
        else:
            break
    return points


def _segment_inside(p: tuple[int, int], q: tuple[int, int], allowed: np.ndarray) -> bool:
    """Return True when the rasterized segment ``p``-``q`` lies inside ``allowed``."""
    rr, cc = draw_line(*p, *q)
    return bool(allowed[rr, cc].all())


def _draw_stroke(canvas: np.ndarray, points: list[tuple[int, int]], radius: int, value: int) -> None:
    """Paint a polyline of width ``2 * radius + 1`` onto ``canvas`` in place."""
    centre = np.zeros(canvas.shape, dtype=bool)
    for p, q in itertools.pairwise(points):
        rr, cc = draw_line(*p, *q)
        centre[rr, cc] = True
    if len(points) == 1:
        centre[points[0]] = True
    canvas[ndi.binary_dilation(centre, disk(radius))] = value


def _nucleus_strokes(
    rng: np.random.Generator, labels: np.ndarray, n_annotated: int, scribbles: np.ndarray
) -> None:
    """Paint short strokes (class 2) inside randomly chosen, sufficiently large nuclei."""
    objects = ndi.find_objects(labels)
    ids = [i for i, s in enumerate(objects, start=1) if s is not None]
    for label_id in rng.permutation(ids):
        if n_annotated == 0:
            break
        radius = int(rng.choice([1, 1, 2]))
        slc = tuple(slice(max(s.start - 1, 0), s.stop + 1) for s in objects[label_id - 1])
        allowed = ndi.binary_erosion(labels[slc] == label_id, disk(radius + 1), border_value=0)
        inside = np.argwhere(allowed)
        if len(inside) < 12:
            continue
        n_strokes = 1 + int(rng.random() < 0.3)
        local = scribbles[slc]
        for _ in range(n_strokes):
            start = inside[rng.integers(len(inside))]
            points = _stroke_points(rng, start, allowed, 2.5, int(rng.integers(4, 10)), 0.35)
            _draw_stroke(local, points, radius, 2)
        n_annotated -= 1


def _background_strokes(
    rng: np.random.Generator, labels: np.ndarray, target_pixels: int, scribbles: np.ndarray
) -> None:
    """Paint meandering strokes (class 1) through the background, about half of them close to nuclei."""
    distance = ndi.distance_transform_edt(labels == 0)
    for _ in range(200):
        if np.count_nonzero(scribbles == 1) >= target_pixels:
            break
        radius = int(rng.choice([1, 2, 2]))
        allowed = distance > radius + 2
        near = allowed & (distance < radius + 8) if rng.random() < 0.5 else allowed
        starts = np.argwhere(near)
        if len(starts) == 0:
            break
        start = starts[rng.integers(len(starts))]
        points = _stroke_points(rng, start, allowed, 3.0, int(rng.integers(12, 50)), 0.3)
        if len(points) > 4:
            _draw_stroke(scribbles, points, radius, 1)


def make_scribbles(
    labels: np.ndarray, n_annotated_nuclei: int = 25, background_fraction: float = 0.02, seed: int = 0
) -> np.ndarray:
    """Simulate sparse brush annotations in the ilastik convention.

    Parameters
    ----------
    labels : np.ndarray
        2D instance labels (0 = background).
    n_annotated_nuclei : int, optional
        Number of nuclei receiving one or two short strokes.
    background_fraction : float, optional
        Approximate fraction of all pixels covered by background strokes.
    seed : int, optional
        Random seed.

    Returns
    -------
    np.ndarray
        ``uint8`` scribbles: 0 = not annotated, 1 = background, 2 = nucleus. Strokes are drawn on
        eroded masks, so they never cross the true foreground/background boundary.
    """
    rng = np.random.default_rng(seed)
    scribbles = np.zeros(labels.shape, dtype=np.uint8)
    _nucleus_strokes(rng, labels, n_annotated_nuclei, scribbles)
    _background_strokes(rng, labels, int(background_fraction * labels.size), scribbles)
    # safety net: strokes must stay on their side of the boundary
    scribbles[(scribbles == 2) & (labels == 0)] = 0
    scribbles[(scribbles == 1) & (labels > 0)] = 0
    return scribbles


def write_tif(path: Path, data: np.ndarray, voxel_size_um: tuple[float, ...]) -> None:
    """Write an ImageJ-compatible, zlib-compressed TIFF with the physical pixel/voxel size."""
    metadata: dict[str, object] = {"unit": "um", "axes": "ZYX" if data.ndim == 3 else "YX"}
    if data.ndim == 3:
        metadata["spacing"] = voxel_size_um[0]
    resolution = (1.0 / voxel_size_um[-2], 1.0 / voxel_size_um[-1])
    tifffile.imwrite(
        path,
        data,
        imagej=True,
        resolution=resolution,
        metadata=metadata,
        compression="zlib",
        compressionargs={"level": 9},
    )


def _summary(name: str, image: np.ndarray, labels: np.ndarray) -> str:
    """Return a one-line description of a generated sample."""
    n = int(labels.max())
    touching = len(touching_ids(labels)) / max(n, 1)
    value_range = f"[{image.min()}, {image.max()}]"
    return f"{name}: shape={image.shape} nuclei={n} touching={touching:.0%} range={value_range}"


def main(out_dir: Path = OUT_DIR) -> None:
    """Generate all sample files into ``out_dir``."""
    size_2d = (PIXEL_SIZE_UM, PIXEL_SIZE_UM)
    image, labels = make_nuclei_2d()
    scribbles = make_scribbles(labels, seed=SEED_SCRIBBLES)
    write_tif(out_dir / "nuclei_2d.tif", image, size_2d)
    write_tif(out_dir / "nuclei_2d_labels.tif", labels, size_2d)
    write_tif(out_dir / "nuclei_2d_scribbles.tif", scribbles, size_2d)
    print(_summary("nuclei_2d", image, labels))
    counts = np.bincount(scribbles.ravel(), minlength=3)
    print(f"  scribbles: annotated={np.count_nonzero(scribbles) / scribbles.size:.2%} class counts={counts}")

    image, labels = make_nuclei_2d((256, 256), 38, SEED_2D_TEST)
    write_tif(out_dir / "nuclei_2d_test.tif", image, size_2d)
    write_tif(out_dir / "nuclei_2d_test_labels.tif", labels, size_2d)
    print(_summary("nuclei_2d_test", image, labels))

    image, labels = make_nuclei_3d()
    write_tif(out_dir / "nuclei_3d.tif", image, VOXEL_SIZE_3D_UM)
    write_tif(out_dir / "nuclei_3d_labels.tif", labels, VOXEL_SIZE_3D_UM)
    print(_summary("nuclei_3d", image, labels))
    print(f"  nuclei not cut by the stack's top or bottom: median height {median_height(labels):.1f} planes")


def median_height(labels: np.ndarray) -> float:
    """Median number of planes of the 3D nuclei that do not touch the first or last plane."""
    heights = [s[0].stop - s[0].start for s in ndi.find_objects(labels)
               if s is not None and s[0].start > 0 and s[0].stop < labels.shape[0]]
    return float(np.median(heights)) if heights else 0.0


if __name__ == "__main__":
    main()
