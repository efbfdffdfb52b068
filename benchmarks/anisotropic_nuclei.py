"""Synthetic confocal-like nuclei stacks with a coarse Z step, for ``bench_3d.py`` (numpy and scipy only).

Nuclei are randomly rotated ellipsoids, slightly flattened (wider than tall, as on a coverslip), about
``planes_tall`` planes tall, half of them placed against an already placed nucleus so that many touch (a
voxel claimed by two belongs to the one it lies deeper in). The stain has a smooth chromatin texture and a
per-nucleus brightness; the optics blur wider along Z than in the plane (Gaussian PSF sigma 3.5 lateral pixels
in Z, 1.2 in XY, plus a faint broad haze), the signal dims with depth, and the camera adds Poisson and read
noise. All lengths are in lateral pixels; ``spacing`` is the voxel size in them, e.g. ``(3, 1, 1)``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage as ndi
from skimage.segmentation import relabel_sequential

PSF_SIGMA = (3.5, 1.2, 1.2)
HAZE_SIGMA = (12.0, 8.0, 8.0)


def _rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    return q * np.sign(np.diag(r))


def _place(rng: np.random.Generator, extent: np.ndarray, count: int, half_height: float) -> list[tuple]:
    nuclei: list[tuple] = []
    for _ in range(count * 40):
        if len(nuclei) == count:
            break
        axes = half_height * np.array([1.0, rng.uniform(1.0, 1.35), rng.uniform(1.0, 1.35)])
        axes *= rng.uniform(0.85, 1.15)
        if nuclei and rng.random() < 0.5:  # against a placed one: its surface plus ours, a little overlapping
            other = nuclei[rng.integers(len(nuclei))]
            direction = rng.normal(size=3)
            direction /= np.linalg.norm(direction)
            centre = other[0] + direction * 0.85 * (other[1].mean() + axes.mean())
        else:
            centre = rng.uniform(0.0, 1.0, 3) * extent
        if np.any(centre < -0.3 * axes) or np.any(centre > extent + 0.3 * axes):
            continue
        if any(np.linalg.norm(centre - c) < 0.7 * (a.mean() + axes.mean()) for c, a, _, _ in nuclei):
            continue
        nuclei.append((centre, axes, _rotation(rng), rng.uniform(0.45, 1.5)))
    return nuclei


def make_stack(shape: tuple[int, int, int], spacing: tuple[float, float, float], seed: int,
               planes_tall: float = 10.0, fill: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """A uint16 ``(Z, Y, X)`` stack and its uint16 instance labels.

    Parameters
    ----------
    shape : tuple of int
        Stack shape in voxels.
    spacing : tuple of float
        Voxel size in lateral pixels (Z, Y, X).
    seed : int
        Random seed (same arguments, same stack).
    planes_tall : float
        Mean nucleus height in planes.
    fill : float
        Share of the volume the nuclei are meant to fill (before overlaps are resolved).

    """
    rng = np.random.default_rng(seed)
    spacing_arr = np.asarray(spacing, dtype=float)
    extent = np.asarray(shape) * spacing_arr
    half_height = planes_tall * spacing_arr[0] / 2
    volume = (4 / 3) * math.pi * half_height**3 * 1.17**2
    nuclei = _place(rng, extent, int(fill * math.prod(extent) / volume), half_height)
    labels = np.zeros(shape, np.int32)
    depth = np.full(shape, np.inf)
    density = np.zeros(shape)
    texture = ndi.gaussian_filter(rng.normal(size=shape), 2.0 / spacing_arr)
    texture /= texture.std() + 1e-9
    for index, (centre, axes, rotation, brightness) in enumerate(nuclei, start=1):
        reach = axes.max() * 1.05
        low = np.maximum(np.floor((centre - reach) / spacing_arr), 0).astype(int)
        high = np.minimum(np.ceil((centre + reach) / spacing_arr) + 1, shape).astype(int)
        if np.any(high <= low):
            continue
        grids = np.meshgrid(*[(np.arange(lo, hi) + 0.5) * s - c for lo, hi, s, c in
                              zip(low, high, spacing_arr, centre)], indexing="ij")
        body = np.einsum("ij,j...->i...", rotation.T, np.stack(grids))
        q = np.sqrt(sum((body[i] / axes[i]) ** 2 for i in range(3)))
        box = tuple(slice(lo, hi) for lo, hi in zip(low, high))
        mine = (q < 1.0) & (q < depth[box])
        labels[box][mine] = index
        depth[box][mine] = q[mine]
        density[box][mine] = brightness * (1.0 + 0.25 * texture[box][mine]) * (1.0 - 0.3 * q[mine] ** 4)
    labels = relabel_sequential(_largest_pieces(labels))[0].astype(np.uint16)
    density[labels == 0] = 0.0
    signal = ndi.gaussian_filter(density, np.asarray(PSF_SIGMA) / spacing_arr)
    signal += 0.08 * ndi.gaussian_filter(density, np.asarray(HAZE_SIGMA) / spacing_arr)
    signal *= np.exp(-0.6 * np.arange(shape[0]) / shape[0])[:, None, None]  # dimmer deeper in the sample
    photons = 180.0 * (signal + 0.05)
    image = 100.0 + 2.0 * rng.poisson(np.clip(photons, 0, None)) + rng.normal(0, 3.0, shape)
    return np.clip(np.round(image), 0, 65535).astype(np.uint16), labels


def _largest_pieces(labels: np.ndarray) -> np.ndarray:
    """Keep only the largest connected piece of every object (overlaps can cut off slivers)."""
    out = np.zeros_like(labels)
    for index, box in enumerate(ndi.find_objects(labels), start=1):
        if box is None:
            continue
        pieces, n = ndi.label(labels[box] == index)
        if n:
            largest = np.argmax(np.bincount(pieces.ravel())[1:]) + 1
            out[box][pieces == largest] = index
    return out
