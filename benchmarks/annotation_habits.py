"""Simulated annotation habits: what a person paints on an image whose full instance labels we know.

Strokes imitate a brush in napari: a smooth curved centre line (a random walk whose curvature changes slowly)
painted with a round brush of 3-5 px. Object strokes stay inside their object (the centre line keeps the
brush radius + 1 px from the object's edge); background strokes keep ``margin`` px (3 by default) away from
every object. Habits, each on a region of the image (the part a person annotated):

- ``dense``: every object of the region painted with its own id (instance masks of half the image);
- ``painted``: ``n`` objects painted completely + a few background strokes (sparse instances: 0 = not
  annotated, 1 = background, 2.. = object ids), about 8 % of the pixels when the objects are small;
- ``scribbles``: strokes through object centres + background strokes (sparse semantic: 0 = not annotated,
  1 = background, 2 = objects), about 11 % of the pixels;
- ``few_painted``: a few objects painted completely and nothing else (BBBC007 style; ids from 2, no 1).

Run ``python benchmarks/annotation_habits.py --out DIR`` to write overlay PNGs of every habit on blobs, the
synthetic sample and a synthetic stand-in for a real nuclei image.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi
from skimage.draw import line as draw_line
from skimage.morphology import disk

UNANNOTATED, BACKGROUND, FIRST_ID = 0, 1, 2


def _pixel(point: np.ndarray) -> tuple[int, ...]:
    return tuple(int(v) for v in np.rint(point))


def _inside(mask: np.ndarray, point: np.ndarray) -> bool:
    idx = _pixel(point)
    return all(0 <= i < s for i, s in zip(idx, mask.shape)) and bool(mask[idx])


def _segment_inside(mask: np.ndarray, p: np.ndarray, q: np.ndarray) -> bool:
    rr, cc = draw_line(*_pixel(p), *_pixel(q))
    ok = (rr >= 0) & (rr < mask.shape[0]) & (cc >= 0) & (cc < mask.shape[1])
    return bool(ok.all() and mask[rr, cc].all())


def stroke_path(rng: np.random.Generator, start: np.ndarray, heading: float, allowed: np.ndarray, steps: int,
                step: float = 2.0, bend: float = 0.06) -> list[np.ndarray]:
    """The centre line of one smooth brush stroke that stays inside ``allowed``.

    The curvature follows a slow random process (a hand does not jitter at every pixel); when the next step
    would leave ``allowed`` the stroke turns away, and it ends when it cannot.
    """
    points = [np.asarray(start, dtype=float)]
    curvature = 0.0
    for _ in range(steps):
        curvature = 0.9 * curvature + rng.normal(0.0, bend)
        for turn in (0.0, 0.4, -0.4, 0.9, -0.9, 1.5, -1.5):
            direction = heading + curvature + turn
            nxt = points[-1] + step * np.array([np.sin(direction), np.cos(direction)])
            if _inside(allowed, nxt) and _segment_inside(allowed, points[-1], nxt):
                heading = direction
                if turn:
                    curvature = 0.0
                points.append(nxt)
                break
        else:
            break
    return points


def paint_path(canvas: np.ndarray, points: list[np.ndarray], radius: int, value: int, where: np.ndarray) -> None:
    """Paint the polyline with a round brush of ``radius`` onto ``canvas`` (in place), only inside ``where``."""
    centre = np.zeros(canvas.shape, dtype=bool)
    for p, q in itertools.pairwise(points or []):
        rr, cc = draw_line(*_pixel(p), *_pixel(q))
        centre[rr, cc] = True
    if len(points) == 1:
        centre[_pixel(points[0])] = True
    brushed = ndi.binary_dilation(centre, disk(radius)) & where
    canvas[brushed] = value


def _whole_objects(labels: np.ndarray, region: np.ndarray) -> list[int]:
    """Ids of the objects that lie entirely inside ``region`` (a person paints what they see whole)."""
    outside = np.unique(labels[~region])
    inside = np.unique(labels[region])
    return [int(i) for i in inside if i > 0 and i not in set(outside.tolist())]


def paint_objects(rng: np.random.Generator, labels: np.ndarray, region: np.ndarray, n: int,
                  canvas: np.ndarray) -> list[int]:
    """Paint ``n`` random whole objects of ``region`` completely, ids ``FIRST_ID..``; return their true ids."""
    candidates = _whole_objects(labels, region)
    chosen = [int(i) for i in rng.permutation(candidates)[:n]]
    for k, label_id in enumerate(chosen):
        canvas[labels == label_id] = FIRST_ID + k
    return chosen


def background_strokes(rng: np.random.Generator, labels: np.ndarray, region: np.ndarray, target: int,
                       canvas: np.ndarray, margin: int = 3, max_strokes: int = 60) -> None:
    """Brush strokes of value 1 in the background of ``region``, ``margin`` px from objects, until ``target`` px.

    A new stroke keeps a few pixels away from the strokes already painted (a person moves on to another part
    of the image rather than painting over the same spot); about half of them start close to objects.
    """
    distance = ndi.distance_transform_edt(labels == 0)
    for _ in range(max_strokes):
        if np.count_nonzero(canvas == BACKGROUND) >= target:
            break
        radius = int(rng.choice([1, 2, 2]))
        painted = canvas == BACKGROUND
        free = ~ndi.binary_dilation(painted, iterations=radius + 4) if painted.any() else np.ones_like(painted)
        where = region & (distance > margin)
        allowed = region & (distance > margin + radius) & free
        near = allowed & (distance < margin + radius + 6) if rng.random() < 0.5 else allowed
        starts = np.argwhere(near)
        if len(starts) == 0:
            break
        start = starts[rng.integers(len(starts))]
        points = stroke_path(rng, start, rng.uniform(0, 2 * np.pi), allowed, int(rng.integers(15, 60)), step=2.0,
                             bend=0.05)
        if len(points) > 4:
            paint_path(canvas, points, radius, BACKGROUND, where & (canvas == UNANNOTATED))


def centre_stroke(rng: np.random.Generator, labels: np.ndarray, label_id: int, box: tuple[slice, ...],
                  canvas: np.ndarray, value: int) -> bool:
    """A stroke through the centre of one object along its long axis, inside the object; False if too small."""
    slc = tuple(slice(max(s.start - 1, 0), s.stop + 1) for s in box)
    mask = labels[slc] == label_id
    radius = int(rng.choice([1, 1, 2]))
    allowed = ndi.binary_erosion(mask, disk(radius + 1), border_value=0)
    inside = np.argwhere(allowed)
    if len(inside) == 0:
        return False
    coords = np.argwhere(mask).astype(float)
    centre = coords.mean(axis=0)
    start = inside[np.argmin(np.sum((inside - centre) ** 2, axis=1))].astype(float)
    _, vectors = np.linalg.eigh(np.cov(coords.T) + 1e-6 * np.eye(2))
    heading = float(np.arctan2(*vectors[:, -1]))  # the long axis
    length = int(np.ptp(coords @ vectors[:, -1]) * 0.4 / 1.5) + 1
    forward = stroke_path(rng, start, heading, allowed, length, step=1.5, bend=0.05)
    backward = stroke_path(rng, start, heading + np.pi, allowed, length, step=1.5, bend=0.05)
    local = canvas[slc]
    paint_path(local, backward[::-1] + forward[1:], radius, value, mask & (local == UNANNOTATED))
    return True


def habit_dense(labels: np.ndarray, region: np.ndarray) -> np.ndarray:
    """(a) Dense instance masks of the region (0 = background there); outside the region nothing."""
    return np.where(region, labels, 0).astype(np.int32)


def habit_painted(labels: np.ndarray, region: np.ndarray, seed: int, n_objects: int = 12,
                  fraction: float = 0.08) -> np.ndarray:
    """(b) ``n_objects`` painted completely + background strokes: sparse instances (0 / 1 / 2..).

    Background strokes fill up to ``fraction`` of the region's pixels, at least 1.5 % (when the objects are
    large, the objects alone take more than ``fraction``).
    """
    rng = np.random.default_rng(seed)
    canvas = np.zeros(labels.shape, dtype=np.int32)
    paint_objects(rng, labels, region, n_objects, canvas)
    size = int(region.sum())
    target = max(int(fraction * size) - np.count_nonzero(canvas), int(0.015 * size))
    background_strokes(rng, labels, region, target, canvas)
    return canvas


def habit_scribbles(labels: np.ndarray, region: np.ndarray, seed: int, fraction: float = 0.11,
                    object_share: float = 0.6) -> np.ndarray:
    """(c) Strokes through the centres of ``object_share`` of the objects + background: 0 / 1 / 2.

    Background strokes fill up to ``fraction`` of the region's pixels in total.
    """
    rng = np.random.default_rng(seed)
    canvas = np.zeros(labels.shape, dtype=np.int32)
    objects = _whole_objects(labels, region)
    boxes = ndi.find_objects(labels)
    for label_id in rng.permutation(objects)[: int(np.rint(object_share * len(objects)))]:
        centre_stroke(rng, labels, int(label_id), boxes[int(label_id) - 1], canvas, FIRST_ID)
    background_strokes(rng, labels, region, int(fraction * region.sum()) - np.count_nonzero(canvas), canvas,
                       max_strokes=200)
    return canvas


def habit_few_painted(labels: np.ndarray, region: np.ndarray, seed: int, n_objects: int = 7) -> np.ndarray:
    """(d) A few objects painted completely, nothing else (ids from 2, no background value 1)."""
    canvas = np.zeros(labels.shape, dtype=np.int32)
    paint_objects(np.random.default_rng(seed), labels, region, n_objects, canvas)
    return canvas


HABITS = {
    "a": ("dense instance masks of the annotated half", habit_dense),
    "b": ("12 nuclei painted completely + background strokes (sparse instances)", habit_painted),
    "c": ("scribbles through nucleus centres + background strokes (sparse semantic)", habit_scribbles),
    "d": ("7 nuclei painted completely, no background (BBBC007 style)", habit_few_painted),
}


def corrected_prediction(annotation: np.ndarray, labels: np.ndarray, region: np.ndarray, n_fixes: int | None,
                         seed: int = 0) -> tuple[np.ndarray, dict[str, int]]:
    """A person fixing ``n_fixes`` random mistakes (None: all) of a model's prediction made editable (the corrections
    loop).

    ``annotation`` is the prediction turned into sparse instances (1 = background, 2.. = objects, see
    ``training.corrections.annotation_from_prediction``); only ``region`` is kept (0 elsewhere). Mistakes are
    the true objects no predicted object matches at IoU above 0.5 (missed, merged with a neighbour, cut, badly
    outlined) and the predicted objects that match no true object and lie mostly outside every true object
    (false positives: debris, textured background read as objects, also where they touch a nucleus). Fixing a
    true object repaints it and every predicted object touching it: the true objects lying there whole get new
    ids (a merged pair is repainted as two nuclei), the rest background; fixing a false positive paints
    background over its part outside the true objects and gives its part inside one to the predicted object
    matching that one (left unannotated where none does).
    Outlines of matched objects are left as predicted, as people leave them.
    """
    result = np.where(region, annotation, UNANNOTATED).astype(np.int64)
    truth = np.where(region, labels, 0)
    predicted = np.where(result >= FIRST_ID, result, 0)
    true_ids = [int(t) for t in np.unique(truth) if t]
    mistakes: list[tuple[str, int]] = []
    match_of: dict[int, int] = {}  # true id -> the predicted id matching it
    for t in true_ids:
        inside = truth == t
        ids, counts = np.unique(predicted[inside], return_counts=True)
        best = 0.0
        for p, overlap in zip(ids, counts, strict=True):
            if p:
                iou = overlap / np.count_nonzero(inside | (predicted == p))
                best = max(best, iou)
                if iou > 0.5:
                    match_of[t] = int(p)
        if best <= 0.5:
            mistakes.append(("true", t))
    matched_pred = set(match_of.values())
    for p in np.unique(predicted):
        if p and int(p) not in matched_pred and np.mean(truth[predicted == p] > 0) < 0.5:
            mistakes.append(("false", int(p)))
    rng = np.random.default_rng(seed)
    next_id, fixed, repainted = int(result.max()) + 1, 0, set()
    for kind, value in (mistakes[i] for i in rng.permutation(len(mistakes))):
        if n_fixes is not None and fixed == n_fixes:
            break
        if kind == "true" and value in repainted:
            continue  # repainted with a neighbour it was merged with
        fixed += 1
        if kind == "false":
            spot = predicted == value
            result[spot & (truth == 0)] = BACKGROUND
            for t in np.unique(truth[spot]):
                if t:
                    result[spot & (truth == t)] = match_of.get(int(t), UNANNOTATED)
            continue
        touching = np.unique(predicted[truth == value])
        area = np.isin(predicted, touching[touching > 0]) | (truth == value)
        # what is not a nucleus there becomes background; a neighbour only partly inside is left unannotated
        result[area] = np.where(truth[area] == 0, BACKGROUND, UNANNOTATED)
        for t in np.unique(truth[area]):
            if t and (t == value or np.all(area[truth == t])):
                result[truth == t] = next_id
                next_id += 1
                repainted.add(int(t))
    facts = {"mistakes": len(mistakes), "fixed": fixed,
             "false_positives": sum(kind == "false" for kind, _ in mistakes)}
    return result, facts


def simulate(habit: str, labels: np.ndarray, region: np.ndarray, seed: int = 0) -> np.ndarray:
    """The annotation of ``habit`` ("a".."d") on ``labels`` within ``region``."""
    function = HABITS[habit][1]
    return function(labels, region) if habit == "a" else function(labels, region, seed)


def check_annotation(habit: str, annotation: np.ndarray, labels: np.ndarray, region: np.ndarray) -> dict[str, float]:
    """Facts about an annotation (fractions of the annotated region), and a check that it never contradicts the
    full labels."""
    if habit == "a":
        return {"annotated_fraction": 1.0, "objects_annotated": len(np.unique(labels[region])) - 1}
    painted_objects = annotation >= FIRST_ID
    assert not np.any(painted_objects & (labels == 0)), "an object stroke leaves its objects"
    assert not np.any((annotation == BACKGROUND) & (labels > 0)), "a background stroke touches an object"
    if habit in ("b", "d"):  # each painted id is exactly one true object, completely
        for value in np.unique(annotation[painted_objects]):
            true_ids = np.unique(labels[annotation == value])
            assert true_ids.size == 1 and np.array_equal(labels == true_ids[0], annotation == value)
    assert not np.any(annotation[~region]), "an annotation outside the annotated region"
    return {
        "annotated_fraction": float(np.mean(annotation[region] > 0)),
        "objects_annotated": len(np.unique(labels[painted_objects])),
        "background_fraction": float(np.mean(annotation[region] == BACKGROUND)),
    }


def overlay(image: np.ndarray, annotation: np.ndarray, habit: str) -> np.ndarray:
    """RGB uint8 overlay: background strokes blue, object annotations in colours (ids) or red (scribbles)."""
    lo, hi = np.percentile(image, (0.5, 99.8))
    grey = np.clip((image.astype(float) - lo) / max(hi - lo, 1e-9), 0, 1)
    rgb = np.stack([grey] * 3, axis=-1) * 0.85
    palette = np.random.default_rng(7).uniform(0.3, 1.0, (max(int(annotation.max()) + 1, 2), 3))
    objects = annotation >= (1 if habit == "a" else FIRST_ID)
    colours = np.array([1.0, 0.25, 0.2]) if habit == "c" else palette[annotation[objects]]
    rgb[objects] = 0.45 * rgb[objects] + 0.55 * colours
    if habit != "a":
        rgb[annotation == BACKGROUND] = [0.2, 0.45, 1.0]
    return (rgb * 255).astype(np.uint8)


def main() -> None:
    from PIL import Image
    from real_data import annotated_images

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="folder for the overlay PNGs")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, item in annotated_images().items():
        for habit in HABITS:
            annotation = simulate(habit, item.train_labels, item.train_region, seed=1)
            facts = check_annotation(habit, annotation, item.train_labels, item.train_region)
            path = args.out / f"{name}_{habit}.png"
            Image.fromarray(overlay(item.train_image, annotation, habit)).save(path)
            print(f"{path}: {HABITS[habit][0]}: " + ", ".join(f"{k}={v:.3g}" for k, v in facts.items()))


if __name__ == "__main__":
    main()
