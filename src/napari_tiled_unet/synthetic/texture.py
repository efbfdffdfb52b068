"""The inside of a nucleus: thickness profile, bright or dark rim, chromatin mottling, chromocentres, nucleoli.

The mottling comes from two image-wide noise fields (a fine grain and a coarse one) read inside each
nucleus, so texture costs two filters per image, not per nucleus. Chromocentres (bright) and nucleoli (dark)
are impulses collected while painting and blurred once at the end; an impulse whose pixel ended up behind
another nucleus is dropped.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from napari_tiled_unet.synthetic.fields import blur, smooth_noise
from napari_tiled_unet.synthetic.shapes import Box, Nucleus
from napari_tiled_unet.synthetic.style import NucleiStyle

_RIM_WIDTH = 0.18  # of the radius


class Stain:
    """Texture fields of one image and the chromocentre/nucleolus impulses painted so far."""

    def __init__(self, rng: np.random.Generator, shape: tuple[int, ...], style: NucleiStyle) -> None:
        spacing = np.asarray(style.spacing)
        self.rng, self.style, self.shape, self.spacing = rng, style, shape, spacing
        self.fine = smooth_noise(rng, shape, style.grain / spacing)
        self.coarse = smooth_noise(rng, shape, 0.3 * style.radius / spacing)
        self.positions: list[np.ndarray] = []
        self.owners: list[np.ndarray] = []
        self.gains: list[np.ndarray] = []
        self.dark_positions: list[np.ndarray] = []
        self.dark_owners: list[np.ndarray] = []

    def interior(self, nucleus: Nucleus, box: Box, rho: np.ndarray) -> np.ndarray:
        """Stain density of ``nucleus`` at the pixels of ``box`` (meaningful where ``rho < 1``)."""
        inside = np.clip(1.0 - rho**2, 0.0, 1.0)
        profile = 1.0 - nucleus.dome + nucleus.dome * np.sqrt(inside)
        if nucleus.rim:
            profile = profile * np.clip(1.0 + nucleus.rim * np.exp(-(((1.0 - rho) / _RIM_WIDTH) ** 2)), 0.2, None)
        mottle = 1.0 + nucleus.texture * (0.8 * self.fine[box] + 0.6 * self.coarse[box])
        return nucleus.brightness * profile * np.clip(mottle, 0.1, None)

    def _points(self, nuclei: list[Nucleus], counts: np.ndarray, reach: float) -> tuple[np.ndarray, np.ndarray]:
        """``counts[k]`` random points inside nucleus ``k``'s ellipse shrunk to ``reach``: indices and owners."""
        ndim = len(self.shape)
        owner = np.repeat(np.arange(len(nuclei)), counts)
        ball = self.rng.normal(size=(owner.size, ndim))
        ball *= (self.rng.random(owner.size) ** (1.0 / ndim) / np.linalg.norm(ball, axis=1))[:, None]
        axes = np.stack([n.axes for n in nuclei])[owner]
        rotation = np.stack([n.rotation for n in nuclei])[owner]
        center = np.stack([n.center for n in nuclei])[owner]
        world = center + np.einsum("pij,pj->pi", rotation, ball * axes * reach)
        index = np.round(world / self.spacing).astype(int)
        keep = np.all((index >= 0) & (index < self.shape), axis=1)
        return index[keep], owner[keep]

    def add_spots(self, nuclei: list[Nucleus], label_ids: np.ndarray) -> None:
        """Draw the chromocentres and nucleoli of the painted ``nuclei`` (kept if their pixels stay visible)."""
        if not nuclei:
            return
        rng, style = self.rng, self.style
        mitotic = np.array([n.kind == "mitotic" for n in nuclei])
        area = np.array([n.radius for n in nuclei]) ** 2 / 100.0
        n_bright = rng.poisson(style.spots * area * np.where(mitotic, 2.0, 1.0))
        n_dark = np.where(mitotic, 0, rng.poisson(style.nucleoli, len(nuclei)))
        where, owner = self._points(nuclei, n_bright, 0.85)
        self.positions.append(where)
        self.owners.append(label_ids[owner])
        self.gains.append(style.spot_gain * rng.uniform(0.5, 1.3, len(owner)))
        where, owner = self._points(nuclei, n_dark, 0.55)
        self.dark_positions.append(where)
        self.dark_owners.append(label_ids[owner])

    def _impulses(self, positions: list[np.ndarray], owners: list[np.ndarray], gains: list[np.ndarray] | None,
                  labels: np.ndarray) -> np.ndarray | None:
        if not positions or not sum(len(p) for p in positions):
            return None
        where = np.concatenate(positions)
        visible = labels[tuple(where.T)] == np.concatenate(owners)
        if not visible.any():
            return None
        field = np.zeros(self.shape, dtype=np.float32)
        values = np.concatenate(gains)[visible] if gains is not None else np.ones(int(visible.sum()))
        np.add.at(field, tuple(where[visible].T), values)
        return field

    def spot_factor(self, labels: np.ndarray) -> np.ndarray | None:
        """Multiplicative field of the visible chromocentres and nucleoli (None when there are none)."""
        factor = None
        bright = self._impulses(self.positions, self.owners, self.gains, labels)
        if bright is not None:
            sigma = max(0.5, 0.8 * self.style.grain) / self.spacing
            peak = float(np.prod(np.sqrt(2.0 * np.pi) * sigma))  # a lone impulse peaks at its gain
            factor = 1.0 + ndi.gaussian_filter(bright, sigma) * peak
        dark = self._impulses(self.dark_positions, self.dark_owners, None, labels)
        if dark is not None:
            sigma = 0.18 * self.style.radius / self.spacing
            peak = float(np.prod(np.sqrt(2.0 * np.pi) * sigma))
            dim = np.clip(1.0 - 0.55 * blur(dark, sigma) * peak, 0.25, 1.0)
            factor = dim if factor is None else factor * dim
        return factor
