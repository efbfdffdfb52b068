"""Where the nuclei go and what each one looks like: sizes, shapes, brightness classes, touching clusters.

Nuclei are placed one after the other. With probability ``style.clustering`` a nucleus is attached to one
already placed, at a centre distance of ``1 - overlap`` to 1.02 times the sum of their radii along the line
between them (touching or overlapping; the later nucleus is in front). Otherwise it goes to a random place.
A nucleus that would overlap any other by more than ``overlap`` is tried elsewhere or dropped, so heavy
occlusion never leaves unrecognisable slivers.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from napari_tiled_unet.synthetic.shapes import Nucleus, random_rotations, random_wobbles
from napari_tiled_unet.synthetic.style import NucleiStyle

_TRIES = 4
_MAX_NUCLEI = 4000
# elongated nuclei touch closer than their mean radii along their short axes
_SLACK = 0.8


def _kinds(rng: np.random.Generator, style: NucleiStyle, n: int) -> np.ndarray:
    draw = rng.random(n)
    kinds = np.full(n, "normal", dtype=object)
    kinds[draw < style.mitotic_share + style.dim_share] = "dim"
    kinds[draw < style.mitotic_share] = "mitotic"
    return kinds


def _axes(style: NucleiStyle, radius: np.ndarray, aspect: np.ndarray, z_factor: np.ndarray) -> np.ndarray:
    axes = np.repeat(radius[:, None], style.ndim, axis=1)
    axes[:, 0], axes[:, 1] = radius * np.sqrt(aspect), radius / np.sqrt(aspect)
    if style.ndim == 3:
        axes[:, 2] = radius * style.z_flatten * z_factor
        axes = axes / np.prod(axes, axis=1, keepdims=True) ** (1.0 / 3.0) * radius[:, None]  # same volume
    return axes


def draw_nuclei(rng: np.random.Generator, style: NucleiStyle, n: int) -> list[Nucleus]:
    """Draw the shapes and appearances of ``n`` nuclei (centres at the origin), all in one go.

    Mitotic nuclei are condensed: small (0.45-0.7 of the radius), often rod-like, very bright, coarsely
    textured, without nucleoli or rim. Dim nuclei have ``style.dim_level`` brightness.
    """
    ndim = style.ndim
    kinds = _kinds(rng, style, n)
    second = rng.random(n) < style.second_share
    radius = np.where(second, style.second_radius, style.radius) * np.exp(rng.normal(0.0, style.size_spread, n))
    aspect = style.aspect * np.exp(rng.normal(0.0, style.aspect_spread, n))
    irregularity = style.irregularity * rng.uniform(0.5, 1.5, n)
    bend = np.where(rng.random(n) < style.bean_share, style.bean_bend * rng.uniform(0.6, 1.3, n), 0.0)
    texture, rim = style.texture * rng.uniform(0.7, 1.3, n), style.rim * rng.uniform(0.5, 1.5, n)
    dome = np.full(n, style.dome)
    brightness = np.exp(rng.normal(0.0, style.brightness_spread, n))
    dim, mitotic = kinds == "dim", kinds == "mitotic"
    brightness[dim] = style.dim_level * rng.uniform(0.8, 1.25, int(dim.sum()))
    m = int(mitotic.sum())
    if m:
        radius[mitotic] *= rng.uniform(0.45, 0.7, m)
        aspect[mitotic] = rng.uniform(1.1, 2.6, m)
        brightness[mitotic] = style.mitotic_level * rng.uniform(0.8, 1.25, m)
        texture[mitotic], rim[mitotic], dome[mitotic], bend[mitotic] = rng.uniform(0.3, 0.6, m), 0.0, 0.2, 0.0
        irregularity[mitotic] = np.maximum(irregularity[mitotic], rng.uniform(0.04, 0.12, m))
    radius = np.clip(radius, style.min_radius, style.max_radius)
    axes = _axes(style, radius, np.clip(aspect, 1.0, 4.0), rng.uniform(0.85, 1.15, n))
    rotations = random_rotations(rng, ndim, n)
    wobbles = random_wobbles(rng, ndim, irregularity)
    phases = rng.uniform(0.0, 2.0 * np.pi, n)
    return [
        Nucleus(center=np.zeros(ndim), axes=axes[i], rotation=rotations[i], bend=float(bend[i]), wobble=wobbles[i],
                brightness=float(brightness[i]), kind=str(kinds[i]), texture=float(texture[i]), rim=float(rim[i]),
                dome=float(dome[i]), phase=float(phases[i]))
        for i in range(n)
    ]


def target_count(style: NucleiStyle, shape: tuple[int, ...]) -> int:
    """Number of nuclei that covers ``style.coverage`` of the image (area in 2D, volume in 3D)."""
    extent = np.asarray(shape) * np.asarray(style.spacing)
    first, second = (float(np.clip(r, style.min_radius, style.max_radius)) for r in (style.radius, style.second_radius))
    mean_r2 = first**2 * (1 - style.second_share) + second**2 * style.second_share
    mean_r2 *= np.exp(2.0 * style.size_spread**2)
    if style.ndim == 2:
        per_nucleus = np.pi * mean_r2
    else:
        per_nucleus = 4.0 / 3.0 * np.pi * mean_r2**1.5
    return int(min(_MAX_NUCLEI, round(style.coverage * float(np.prod(extent)) / per_nucleus)))


def _random_directions(rng: np.random.Generator, count: tuple[int, int], ndim: int, spacing: np.ndarray) -> np.ndarray:
    directions = rng.normal(size=(*count, ndim))
    if ndim == 3:
        directions[..., 0] *= 0.5 / spacing[0] * spacing[1]  # thin stacks: neighbours mostly side by side
    return directions / np.linalg.norm(directions, axis=-1, keepdims=True)


def place_nuclei(rng: np.random.Generator, style: NucleiStyle, shape: tuple[int, ...]) -> list[Nucleus]:
    """Draw and place the nuclei of one image, in painting order (later nuclei are in front).

    Parameters
    ----------
    rng : numpy.random.Generator
        The random stream (consumed deterministically).
    style : NucleiStyle
        Sizes, shapes, clustering and overlap.
    shape : tuple of int
        Image shape (the array's, not scaled by the spacing).

    Returns
    -------
    list of Nucleus
        Nuclei with their centres set, in lateral pixels.

    """
    spacing = np.asarray(style.spacing)
    extent = np.asarray(shape) * spacing
    n = target_count(style, shape)
    nuclei = draw_nuclei(rng, style, n)
    # every random number the placement may need, drawn at once: (nucleus, try)
    attach = rng.random((n, _TRIES)) < style.clustering
    parents = rng.random((n, _TRIES))
    directions = _random_directions(rng, (n, _TRIES), style.ndim, spacing)
    distance = rng.uniform(1.0 - style.overlap, 1.02, (n, _TRIES))
    anywhere = rng.random((n, _TRIES, style.ndim))
    centers = np.zeros((n, style.ndim))
    radii = np.zeros(n)
    placed: list[Nucleus] = []
    keep_apart = (1.0 - style.overlap) * _SLACK
    for i, nucleus in enumerate(nuclei):
        count = len(placed)
        for t in range(_TRIES):
            if count and attach[i, t]:
                parent = placed[int(parents[i, t] * count)]
                direction = directions[i, t]
                reach = parent.radius_towards(direction) + nucleus.radius_towards(-direction)
                center = parent.center + direction * reach * distance[i, t]
            else:
                margin = 0.3 * nucleus.radius
                center = -margin + anywhere[i, t] * (extent + 2 * margin)
            gaps = np.linalg.norm(centers[:count] - center, axis=1) - keep_apart * (radii[:count] + nucleus.radius)
            if count == 0 or gaps.min() >= 0:
                break
        else:
            continue
        placed.append(_moved(nucleus, center))
        centers[count], radii[count] = center, nucleus.radius
    return placed


def _moved(nucleus: Nucleus, center: np.ndarray) -> Nucleus:
    return dataclasses.replace(nucleus, center=np.asarray(center, dtype=float))
