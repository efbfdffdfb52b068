"""How well linking turns per-plane masks into 3D objects, without any model: the rules compared on known masks.

Every plane of a labelled 3D stack is numbered on its own (as a 2D model predicts it), then linked again and
scored against the 3D labels (F1 at IoU 0.5). Rules:

- ``iou-0.25``: cellpose's ``stitch_threshold``, objects of consecutive planes with IoU >= 0.25 are linked;
- ``share-0.5``: linked when half of the smaller object overlaps the other (:func:`link_planes`, not cut);
- ``share-0.5+cut``: the same, then cut at area valleys (the default of :func:`link_planes`).

Masks: ``clean`` (the true planes), ``noisy`` (every object of every plane eroded or dilated by 1-2 px with
probability 0.35 each, and missed in 3% of its planes: what a 2D model's errors look like to linking).
Stacks: the benchmark's confocal-like stacks (:mod:`anisotropic_nuclei`, Z step 2x, 3x, and 4x), the shipped 3D
sample, and two stacks of the generator builtin:nuclei3d was trained on.

Usage: ``python benchmarks/bench_linking.py``
"""

from __future__ import annotations

import numpy as np
from bench_3d import stacks
from scipy import ndimage as ndi
from skimage.morphology import disk
from skimage.segmentation import relabel_sequential

from napari_tiled_unet.builtin.train_nuclei3d import training_stacks
from napari_tiled_unet.samples import load_nuclei_3d
from napari_tiled_unet.stitching import link_planes
from napari_tiled_unet.training.metrics import iou_pairs, match_instances, matched_pairs

NOISE_SHARE, MISSED_SHARE, NOISE_SEED = 0.35, 0.03, 0


def iou_linked(planes: np.ndarray, threshold: float = 0.25) -> np.ndarray:
    """cellpose's rule: an object takes the id of the previous plane's object it overlaps with IoU >= threshold."""
    out = np.zeros(planes.shape, np.uint32)
    largest = 0
    for z, plane in enumerate(planes):
        current = relabel_sequential(plane.astype(np.uint32), offset=largest + 1)[0]
        largest = max(largest, int(current.max(initial=0)))
        if z and current.any() and out[z - 1].any():
            pred, prev, iou, _, _ = iou_pairs(current, out[z - 1])
            rows, cols, _ = matched_pairs(pred, prev, iou, threshold)
            cur_ids, prev_ids = np.unique(current)[1:], np.unique(out[z - 1])[1:]
            lut = np.arange(int(current.max()) + 1, dtype=np.uint32)
            lut[cur_ids[rows]] = prev_ids[cols]
            current = lut[current]
        out[z] = current
    return relabel_sequential(out)[0]


def per_plane(labels: np.ndarray) -> np.ndarray:
    """Every plane numbered on its own."""
    return np.stack([relabel_sequential(plane)[0] for plane in labels])


def noisy_planes(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per-plane masks with a 2D model's kind of errors: objects 1-2 px too small or too large, a few missed."""
    out = np.zeros(labels.shape, np.int32)
    for z, plane in enumerate(per_plane(labels)):
        for label, box in enumerate(ndi.find_objects(plane), start=1):
            if box is None:
                continue
            mask, draw = plane == label, rng.random()
            if draw < NOISE_SHARE:
                mask = ndi.binary_erosion(mask, disk(int(rng.integers(1, 3))))
            elif draw < 2 * NOISE_SHARE:
                mask = ndi.binary_dilation(mask, disk(int(rng.integers(1, 3)))) & ((plane == 0) | mask)
            if rng.random() < MISSED_SHARE:
                continue
            out[z][mask & (out[z] == 0)] = label
    return out


def test_stacks() -> dict[str, np.ndarray]:
    """The labelled stacks, by name."""
    labels = {f"Z step {case}": stacks(case)[1][1] for case in ("2:1", "3:1")}
    labels["Z step 4:1"] = stacks("half-z")[1][1]
    labels["shipped 3D sample"] = load_nuclei_3d()["labels"].astype(np.int32)
    _, generated = training_stacks(4, seed=99)
    for index in (0, 1):
        labels[f"nuclei3d generator #{index}"] = generated[index].astype(np.int32)
    return labels


def main() -> None:
    """Print F1@0.5 of every rule on clean and noisy planes of every stack."""
    rules = {"iou-0.25": iou_linked, "share-0.5": lambda p: link_planes(p, 0.5, valley_ratio=0.0),
             "share-0.5+cut": link_planes}
    rng = np.random.default_rng(NOISE_SEED)
    print(f"{'stack':28s} {'objects':>7s} {'masks':6s} " + " ".join(f"{name:>14s}" for name in rules))
    for name, labels in test_stacks().items():
        for kind, planes in (("clean", per_plane(labels)), ("noisy", noisy_planes(labels, rng))):
            f1 = [match_instances(rule(planes), labels, 0.5)["f1"] for rule in rules.values()]
            scores = " ".join(f"{v:14.3f}" for v in f1)
            print(f"{name:28s} {np.unique(labels).size - 1:7d} {kind:6s} {scores}", flush=True)


if __name__ == "__main__":
    main()
