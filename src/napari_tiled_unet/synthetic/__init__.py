"""Synthetic fluorescence nuclei with exact instance masks, for training and testing (2D and 3D).

A deterministic generator (numpy and scipy only, no GUI): the same shape, style and seed give the same
arrays. It covers the looks of real nuclei images: sizes from about 4 to 40 px (one typical size per image
with a spread, some images mixing sizes), elongated, irregular and bean-shaped nuclei, textured interiors
(chromatin mottling, chromocentres, nucleoli, bright or dark rims), dense clusters of touching nuclei
(overlaps resolved as occlusion: the nucleus in front owns the pixels), dim and bright mitotic nuclei side by
side, PSF blur, haze, out-of-focus nuclei, uneven background and illumination, Poisson-Gaussian noise from
very clean to very noisy, and 8- or 16-bit output using little or much of the range.

>>> from napari_tiled_unet.synthetic import synthetic_nuclei
>>> image, labels = synthetic_nuclei((256, 256), seed=3)    # a random style drawn from the seed

>>> from napari_tiled_unet.synthetic import NucleiStyle, render_nuclei
>>> image, labels = render_nuclei((256, 256), NucleiStyle(radius=12, coverage=0.4), seed=0)   # a chosen look
"""

from napari_tiled_unet.synthetic.generate import style_for_seed, synthetic_nuclei
from napari_tiled_unet.synthetic.random_style import StyleRanges, random_style
from napari_tiled_unet.synthetic.render import render_nuclei
from napari_tiled_unet.synthetic.style import NucleiStyle

__all__ = ["NucleiStyle", "StyleRanges", "random_style", "render_nuclei", "style_for_seed", "synthetic_nuclei"]
