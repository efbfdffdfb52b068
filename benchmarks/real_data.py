"""The images the quality benchmarks train and score on: real microscopy with people's annotations, the shipped
synthetic sample, a synthetic stand-in for a real fluorescence nuclei image, and a real U2OS nuclei image with
labels from a classical segmentation.

The real images are read from ``$NAPARI_TILED_UNET_REAL_DATA`` (default ``/work/shared/data/real``, see its
README); they are never copied into the package. Every image with full labels is split into the part a
person annotates (``train_slice``) and the part it is scored on (``test_slice``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile

from napari_tiled_unet.samples import load_nuclei_2d, load_nuclei_2d_test
from napari_tiled_unet.synthetic import NucleiStyle, render_nuclei

REAL_DIR = Path(os.environ.get("NAPARI_TILED_UNET_REAL_DATA", "/work/shared/data/real"))

#: A widefield DAPI image like the real one the product was measured on (nuclei of radius ~14 px, 65-70 of them
#: in each half, dense touching clusters, bright and dim nuclei side by side, textured interiors, moderate
#: noise, 16 bit); a stand-in because that image is not available here.
STANDIN_STYLE = NucleiStyle(
    radius=14.0, size_spread=0.15, aspect=1.25, aspect_spread=0.15, irregularity=0.06, bean_share=0.15,
    bean_bend=0.4, coverage=0.38, clustering=0.75, overlap=0.2, brightness_spread=0.4, dim_share=0.15,
    dim_level=0.25, mitotic_share=0.03, mitotic_level=3.5, dome=0.5, rim=0.2, texture=0.35, grain=1.1, spots=4.0,
    spot_gain=1.0, nucleoli=1.2, overlap_glow=0.3, psf_sigma=1.3, haze=0.15, background=0.04,
    background_variation=0.3, gradient=0.15, vignetting=0.25, out_of_focus=0.3, photons=250.0, read_noise=2.0,
    bits=16, target=1200.0, offset=100.0,
)
STANDIN_SEED = 20251


@dataclass(frozen=True)
class AnnotatedImage:
    """An image with full instance labels, the part to annotate and the part to score on."""

    description: str
    train_image: np.ndarray
    train_labels: np.ndarray
    train_slice: tuple[slice, ...]
    test_image: np.ndarray
    test_labels: np.ndarray
    test_slice: tuple[slice, ...]

    @property
    def train_region(self) -> np.ndarray:
        """Boolean mask of the annotated part of the training image."""
        mask = np.zeros(self.train_labels.shape, dtype=bool)
        mask[self.train_slice] = True
        return mask


def read(name: str) -> np.ndarray:
    """A real image or annotation by file name, with a clear error if the folder is missing."""
    path = REAL_DIR / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: set NAPARI_TILED_UNET_REAL_DATA to the folder of the real images")
    return tifffile.imread(path)


def halves(shape: tuple[int, ...]) -> tuple[tuple[slice, ...], tuple[slice, ...]]:
    """Top half and bottom half of a 2D image."""
    middle = shape[0] // 2
    return (slice(0, middle), slice(None)), (slice(middle, None), slice(None))


def blobs() -> AnnotatedImage:
    """ImageJ blobs with their dense labels: annotate the top half, score the bottom half."""
    image, labels = read("blobs.tif"), read("blobs_labels.tif").astype(np.int32)
    top, bottom = halves(image.shape)
    return AnnotatedImage("blobs.tif, top half / bottom half", image, labels, top, image, labels, bottom)


def sample() -> AnnotatedImage:
    """The shipped synthetic sample: annotate the top half of nuclei_2d, score the whole of nuclei_2d_test."""
    train, test = load_nuclei_2d(), load_nuclei_2d_test()
    top, _ = halves(train["image"].shape)
    whole = (slice(None), slice(None))
    return AnnotatedImage("sample nuclei_2d top half / nuclei_2d_test", train["image"],
                          train["labels"].astype(np.int32), top, test["image"], test["labels"].astype(np.int32), whole)


def standin() -> AnnotatedImage:
    """A 512x512 synthetic image of :data:`STANDIN_STYLE`: annotate the top half, score the bottom half."""
    image, labels = render_nuclei((512, 512), STANDIN_STYLE, seed=STANDIN_SEED)
    top, bottom = halves(image.shape)
    labels = labels.astype(np.int32)
    return AnnotatedImage("synthetic stand-in for a real nuclei image, top half / bottom half", image, labels, top,
                          image, labels, bottom)


def classical_nuclei_labels(image: np.ndarray) -> np.ndarray:
    """Instance labels of well-separated bright nuclei by a classical pipeline (the way blobs' labels were made).

    Percentile normalisation, Gaussian blur (sigma 1), Otsu threshold, holes filled, objects under 30 px
    removed, then a watershed of the smoothed distance transform from its maxima at least 12 px apart.
    Close to the truth only where nuclei are bright, sharp and mostly apart (checked by eye on the U2OS image).
    """
    from scipy import ndimage as ndi
    from skimage import feature, filters, measure, morphology, segmentation

    low, high = np.percentile(image, (1.0, 99.8))
    smooth = filters.gaussian(np.clip((image.astype(np.float32) - low) / (high - low), 0, 1), 1.0)
    mask = ndi.binary_fill_holes(morphology.remove_small_objects(smooth > filters.threshold_otsu(smooth), max_size=29))
    distance = filters.gaussian(ndi.distance_transform_edt(mask), 1.0)
    peaks = feature.peak_local_max(distance, min_distance=12, threshold_abs=2, labels=measure.label(mask),
                                   exclude_border=False)
    markers = np.zeros(mask.shape, dtype=np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    return segmentation.watershed(-distance, markers, mask=mask).astype(np.int32)


def u2os() -> AnnotatedImage:
    """The Hoechst channel of the BBBC022 U2OS image with classical labels: annotate the left half, score the right.

    Left and right rather than top and bottom, because the nuclei sit mostly in the top half.
    """
    image = read("bbbc022_3channel.tif")[0]
    labels = classical_nuclei_labels(image)
    middle = image.shape[1] // 2
    left, right = (slice(None), slice(0, middle)), (slice(None), slice(middle, None))
    return AnnotatedImage("BBBC022 U2OS Hoechst channel, classical labels, left half / right half", image, labels,
                          left, image, labels, right)


def annotated_images() -> dict[str, AnnotatedImage]:
    """The images with full labels, by short name."""
    return {"blobs": blobs(), "sample": sample(), "standin": standin(), "u2os": u2os()}


def bbbc007() -> list[tuple[str, np.ndarray, np.ndarray]]:
    """The six BBBC007 images with their sparse instances (6-9 nuclei painted completely, ids 1..N, 0 elsewhere)."""
    items = []
    for path in sorted(REAL_DIR.glob("bbbc007_*_sparse_instances.tif")):
        stem = path.name.removesuffix("_sparse_instances.tif")
        items.append((stem, read(f"{stem}.tif"), read(path.name).astype(np.int32)))
    if not items:
        raise FileNotFoundError(f"no bbbc007_*_sparse_instances.tif in {REAL_DIR}")
    return items


def maize() -> tuple[np.ndarray, np.ndarray]:
    """The maize confocal section and a person's scribbles (1 and 2: two tissue types, 0: not annotated)."""
    return read("maize_clsm.tif"), read("maize_clsm_scribbles.tif").astype(np.int32)
