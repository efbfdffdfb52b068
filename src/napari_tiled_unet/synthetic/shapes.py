"""Nucleus shapes: ellipses/ellipsoids, bent into beans, with smooth random boundary perturbations.

A shape is rasterised in its own bounding box only, so a nucleus costs in proportion to its size. All
lengths are in lateral pixels; ``spacing`` converts them to array indices (a Z step of 2.5 lateral pixels
is ``spacing = (2.5, 1, 1)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

Box = tuple[slice, ...]
_BUCKET = 8  # nuclei whose boxes round up to the same multiple of this are rasterised together


@dataclass(frozen=True)
class Nucleus:
    """Geometry and appearance of one nucleus.

    Attributes
    ----------
    center : np.ndarray
        Centre, shape ``(ndim,)``, in lateral pixels.
    axes : np.ndarray
        Semi-axes in the body frame (axis 0 is the long lateral axis), shape ``(ndim,)``.
    rotation : np.ndarray
        ``(ndim, ndim)`` matrix whose columns are the body axes in image coordinates.
    bend : float
        Bean/kidney curvature (0: an ellipse); the long axis bends towards body axis 1.
    wobble : np.ndarray
        ``(k, 2 + ndim)`` rows ``(amplitude, frequency, *direction)`` of the boundary perturbation terms.
    brightness : float
        Stain density relative to a typical nucleus.
    kind : str
        "normal", "dim" or "mitotic".
    texture : float
        Amplitude of the chromatin mottling.
    rim : float
        Brightness change at the rim (> 0 brighter).
    dome : float
        0 flat, 1 brightness follows the thickness.
    phase : float
        Phase of the boundary perturbation terms.

    """

    center: np.ndarray
    axes: np.ndarray
    rotation: np.ndarray
    bend: float
    wobble: np.ndarray
    brightness: float
    kind: str
    texture: float
    rim: float
    dome: float
    phase: float

    @cached_property
    def radius(self) -> float:
        """Radius of the circle (sphere) of the same area (volume) as the unperturbed ellipse."""
        return float(np.prod(self.axes) ** (1.0 / self.axes.size))

    @cached_property
    def extent(self) -> float:
        """Upper bound of the distance from the centre to any boundary point."""
        grow = 1.0 + float(np.abs(self.wobble[:, 0]).sum())
        return float(self.axes.max() * grow * (1.0 + self.bend) + 1.0)

    def radius_towards(self, direction: np.ndarray) -> float:
        """Distance from the centre to the unperturbed ellipse boundary along a unit ``direction``."""
        body = self.rotation.T @ direction
        return float(1.0 / np.sqrt(np.sum((body / self.axes) ** 2)))


def random_rotations(rng: np.random.Generator, ndim: int, n: int, tilt: float = 0.25) -> np.ndarray:
    """``n`` body frames, uniformly random in the YX plane (3D: tilted by about ``tilt`` rad), ``(n, ndim, ndim)``.

    Body axes 0 and 1 lie (nearly) in the YX plane, body axis 2 (nearly) along Z, as for nuclei resting on a
    coverslip or in a tissue section.
    """
    angle = rng.uniform(0.0, 2.0 * np.pi, n)
    c, s = np.cos(angle), np.sin(angle)
    if ndim == 2:
        return np.stack([np.stack([s, c], -1), np.stack([c, -s], -1)], -1)  # columns: body axes in (y, x)
    zero, one = np.zeros(n), np.ones(n)
    frames = np.stack([np.stack([zero, zero, one], -1), np.stack([s, c, zero], -1), np.stack([c, -s, zero], -1)], 1)
    off_diagonal = np.ones((3, 3)) - np.eye(3)
    q, r = np.linalg.qr(np.eye(3) + rng.normal(0.0, tilt, (n, 3, 3)) * off_diagonal)
    q = q * np.sign(np.diagonal(r, axis1=1, axis2=2))[:, None, :]
    return q @ frames


def random_wobbles(rng: np.random.Generator, ndim: int, amplitude: np.ndarray, terms: int = 3) -> np.ndarray:
    """Boundary perturbation terms of total amplitude about ``amplitude`` (one per nucleus), ``(n, terms, 2+ndim)``.

    2D terms are angular harmonics 2..(terms+1) with a random phase in column 2; 3D terms are plane waves
    over the unit sphere along random directions (columns 2..).
    """
    n = len(amplitude)
    rows = np.zeros((n, terms, 2 + ndim))
    decay = 1.0 / np.sqrt(np.arange(1, terms + 1))
    rows[..., 0] = rng.uniform(0.3, 1.0, (n, terms)) * decay * amplitude[:, None] * rng.choice([-1.0, 1.0], (n, terms))
    if ndim == 2:
        rows[..., 1] = np.arange(2, 2 + terms)
        rows[..., 2] = rng.uniform(0.0, 2.0 * np.pi, (n, terms))
    else:
        rows[..., 1] = rng.uniform(1.5, 4.0, (n, terms))
        directions = rng.normal(size=(n, terms, ndim))
        rows[..., 2:] = directions / np.linalg.norm(directions, axis=-1, keepdims=True)
    return rows


def _rho(nuclei: list[Nucleus], lo: np.ndarray, size: tuple[int, ...], spacing: np.ndarray) -> np.ndarray:
    """``rho`` of ``m`` nuclei on index grids of ``size`` starting at ``lo`` (``(m, ndim)``): ``(m, *size)``."""
    m, ndim = lo.shape
    centers = np.stack([n.center for n in nuclei])
    rotation = np.stack([n.rotation for n in nuclei])
    axes = np.stack([n.axes for n in nuclei])
    grid = (m,) + (1,) * ndim

    def per_nucleus(values: np.ndarray) -> np.ndarray:
        return values.reshape(grid)

    offsets = []
    for axis in range(ndim):
        view = [m] + [1] * ndim
        view[axis + 1] = size[axis]
        coords = (lo[:, axis, None] + np.arange(size[axis])) * spacing[axis] - centers[:, axis, None]
        offsets.append(coords.reshape(view))
    body = [sum(per_nucleus(rotation[:, i, j]) * offsets[i] for i in range(ndim)) for j in range(ndim)]
    body = [np.broadcast_to(b, (m, *size)) for b in body]
    bend = np.array([n.bend for n in nuclei])
    if bend.any():
        body[1] = body[1] + per_nucleus(bend / axes[:, 0]) * body[0] ** 2
    rho = np.sqrt(sum((b / per_nucleus(axes[:, j])) ** 2 for j, b in enumerate(body)))
    wobble = np.stack([n.wobble for n in nuclei])
    if not wobble[..., 0].any():
        return rho
    phase = np.array([n.phase for n in nuclei])
    factor = np.ones_like(rho)
    if ndim == 2:
        theta = np.arctan2(body[1], body[0])
        for t in range(wobble.shape[1]):
            amp, freq, shift = (per_nucleus(wobble[:, t, k]) for k in range(3))
            factor += amp * np.cos(freq * theta + shift + per_nucleus(phase))
    else:
        norm = np.sqrt(sum(b**2 for b in body)) + 1e-9
        for t in range(wobble.shape[1]):
            cosine = sum(per_nucleus(wobble[:, t, 2 + d]) * b for d, b in enumerate(body)) / norm
            factor += per_nucleus(wobble[:, t, 0]) * np.cos(per_nucleus(wobble[:, t, 1]) * np.pi * cosine
                                                             + per_nucleus(phase))
    return rho / np.clip(factor, 0.5, None)


def rasterize(
    nuclei: list[Nucleus], shape: tuple[int, ...], spacing: np.ndarray
) -> list[tuple[Box, np.ndarray] | None]:
    """Every nucleus' box in ``shape`` and ``rho`` inside it (its mask is ``rho < 1``); None if it is outside.

    ``rho`` is 0 at the centre, 1 on the (bent, perturbed) boundary and > 1 outside. Nuclei of similar size
    are computed together, which makes thousands of small nuclei cheap.
    """
    result: list[tuple[Box, np.ndarray] | None] = [None] * len(nuclei)
    if not nuclei:
        return result
    centers = np.stack([n.center for n in nuclei])
    reach = np.array([n.extent for n in nuclei])[:, None]
    lo = np.floor((centers - reach) / spacing).astype(int)
    hi = np.ceil((centers + reach) / spacing).astype(int) + 1
    size = -(-(hi - lo) // _BUCKET) * _BUCKET
    inside = np.all((hi > 0) & (lo < np.asarray(shape)), axis=1)
    groups: dict[tuple[int, ...], list[int]] = {}
    for index in np.flatnonzero(inside):
        groups.setdefault(tuple(int(v) for v in size[index]), []).append(int(index))
    for key, members in groups.items():
        rho = _rho([nuclei[i] for i in members], lo[members], key, spacing)
        for k, index in enumerate(members):
            start, stop = np.maximum(lo[index], 0), np.minimum(hi[index], shape)
            local = tuple(slice(int(a - o), int(b - o)) for a, b, o in zip(start, stop, lo[index], strict=True))
            box = tuple(slice(int(a), int(b)) for a, b in zip(start, stop, strict=True))
            result[index] = (box, rho[k][local])
    return result
