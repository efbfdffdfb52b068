"""One call from a seed to an image: draw a random style, then render it."""

from __future__ import annotations

import numpy as np

from napari_tiled_unet.checks import check_int
from napari_tiled_unet.synthetic.random_style import StyleRanges, random_style
from napari_tiled_unet.synthetic.render import render_nuclei
from napari_tiled_unet.synthetic.style import NucleiStyle


def _streams(seed: int) -> tuple[np.random.SeedSequence, np.random.SeedSequence]:
    check_int("seed", seed, 0, 2**63 - 1)
    style_seed, render_seed = np.random.SeedSequence(int(seed)).spawn(2)
    return style_seed, render_seed


def style_for_seed(seed: int, ndim: int = 2, ranges: StyleRanges | None = None) -> NucleiStyle:
    """The style :func:`synthetic_nuclei` uses for ``seed`` (to inspect or record it)."""
    return random_style(np.random.default_rng(_streams(seed)[0]), ndim, ranges)


def synthetic_nuclei(shape: tuple[int, ...], seed: int = 0,
                     ranges: StyleRanges | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic nuclei image of a random style, and its instance masks.

    Parameters
    ----------
    shape : tuple of int
        ``(Y, X)`` or ``(Z, Y, X)``.
    seed : int
        Decides the style and the image: the same arguments give the same arrays.
    ranges : StyleRanges, optional
        The ranges the style is drawn from.

    Returns
    -------
    image : np.ndarray
        ``uint8`` or ``uint16`` image.
    labels : np.ndarray
        ``uint16`` instance masks, 0 = background, 1..N = nuclei.

    """
    style = random_style(np.random.default_rng(_streams(seed)[0]), len(shape), ranges)
    return render_nuclei(shape, style, seed=_streams(seed)[1])
