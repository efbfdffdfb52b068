"""Quality on real microscopy and on simulated annotation habits: train with the defaults, then score.

Cases (``--only`` takes a name or a prefix such as ``standin``):

- ``blobs-a``..``blobs-d``, ``sample-a``..``sample-d``, ``standin-a``..``standin-d``, ``u2os-a``..``u2os-d``: a
  person's habits simulated on images with full labels (ImageJ blobs, the shipped synthetic sample, a synthetic
  stand-in for a real nuclei image, the Hoechst channel of the real BBBC022 U2OS image with labels from a
  classical segmentation); the habit annotates one half of the training image and the model is scored on the
  held-out part (blobs and stand-in: the bottom half; U2OS: the right half; sample: nuclei_2d_test).
  ``blobs-a`` is blobs with its dense labels.
  Habits: (a) dense instance masks, (b) 12 nuclei painted completely + background strokes (sparse instances),
  (c) scribbles through nucleus centres + background strokes (sparse semantic), (d) 7 nuclei painted
  completely, no background (BBBC007 style). See ``annotation_habits.py``.
- ``maize``: the maize section with a person's scribbles of two tissue types (semantic, sparse).
- ``bbbc007``: six real nuclei images, 6-9 nuclei painted completely in each: train on 4, score on 2.
- ``zeroshot``: a model trained on the synthetic generator only, scored on blobs and BBBC007 without seeing them.
- ``builtin-zeroshot``: the shipped ``builtin:nuclei`` model as it is (its defaults, test-time augmentation and
  the shrinking of large objects included), on the held-out half of blobs, the six BBBC007 images and the
  held-out parts of the sample, the stand-in and U2OS (these two also without TTA and with ``rescale="off"``);
  ``builtin-blobs-a``/``-d``, ``builtin-standin-a``/``-b``/``-d`` and ``builtin-u2os-a``/``-b``/``-d``:
  habits (a), (b) and (d) fine-tuned from it for the same budget (compare with the cases without the prefix, trained
  from scratch); ``builtin-bbbc007``: the ``bbbc007`` case fine-tuned from it;
  ``builtin-blobs-fix0``/``-fix10``/``-fixall`` (and ``standin``, ``u2os``): the corrections loop, its prediction
  of the annotated half made editable, 0, 10 or all of its mistakes (at random) fixed as a person would
  (``annotation_habits.corrected_prediction``), then fine-tuned.

Per case: F1 at IoU 0.5, mean AP over IoU 0.5:0.05:0.95, foreground IoU, predicted / true object counts,
training steps and seconds. Sparse instances (habits b and d, BBBC007) train with
``TrainingConfig(task="instances", sparse=True)`` and ``sparse_background="auto"``: where no background is
painted (d, BBBC007) the core infers it; with a core that lacks sparse instances these cases say so and report
no figure. BBBC007 has no truth beyond the painted nuclei: it reports their recall at IoU 0.5 and the number of
predicted objects.

Usage: ``python benchmarks/bench_real.py [--time-limit 120] [--only CASE] [--seeds 0 1] [--json out.json]
[--overlays DIR]``
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
import torch
from annotation_habits import HABITS, check_annotation, corrected_prediction, overlay, simulate
from real_data import annotated_images, bbbc007, maize

from napari_tiled_unet.builtin_models import builtin_model_names, resolve_model
from napari_tiled_unet.inference import predict_image
from napari_tiled_unet.model_file import load_model
from napari_tiled_unet.synthetic import StyleRanges
from napari_tiled_unet.training.config import TrainingConfig
from napari_tiled_unet.training.corrections import annotation_from_prediction, annotation_settings
from napari_tiled_unet.training.loop import train
from napari_tiled_unet.training.metrics import average_precision, foreground_iou, match_instances

Result = dict[str, object]


def sparse_instances_unsupported() -> str | None:
    """Why the installed core cannot train from sparse instances, or None when it can."""
    try:
        TrainingConfig(task="instances", sparse=True)
    except ValueError as err:
        return f"the installed core does not support TrainingConfig(task='instances', sparse=True) yet ({err})"
    return None


def config_for(habit: str, time_limit: float, seed: int, init: str | None = None) -> TrainingConfig:
    """The settings of a habit: scribbles train classes, or an instance model from strokes with a model to start
    from (the objects its strokes pass through, see ``training.stroke_objects``)."""
    task, sparse = {"a": ("instances", False), "b": ("instances", True), "c": ("semantic", True),
                    "d": ("instances", True)}[habit]
    if habit == "c" and init is not None:
        task = "instances"
    return TrainingConfig(task=task, sparse=sparse, time_limit=time_limit, seed=seed)


def trained(images, labels, config: TrainingConfig, init: str | None = None) -> tuple[object, Result]:
    start = time.perf_counter()
    net = train(images, labels, config, init_model=None if init is None else resolve_model(init))
    summary = net.metadata["training"]
    return net, {"steps": summary["steps"], "train_seconds": round(time.perf_counter() - start, 1),
                 "best_epoch": summary["best_epoch"], "epochs": summary["epochs"], "notes": summary["notes"]}


def instance_scores(predicted: np.ndarray, truth: np.ndarray) -> Result:
    match = match_instances(predicted, truth, 0.5)
    return {"f1": match["f1"], "mean_ap": average_precision(predicted, truth)["mean_ap"],
            "foreground_iou": foreground_iou(predicted > 0, truth > 0), "n_pred": match["n_pred"],
            "n_true": match["n_true"], "precision": match["precision"], "recall": match["recall"]}


def painted_recall(predicted: list[np.ndarray], painted: list[np.ndarray]) -> Result:
    """Recall at IoU 0.5 of completely painted objects (the only truth of sparse instances); objects found
    elsewhere are neither right nor wrong."""
    tp = sum(match_instances(p, t, 0.5)["tp"] for p, t in zip(predicted, painted, strict=True))
    n_true = sum(int(len(np.unique(t)) - 1) for t in painted)
    return {"painted_recall": tp / max(n_true, 1), "n_painted": n_true,
            "n_pred": int(sum(len(np.unique(p)) - 1 for p in predicted))}


def habit_case(name: str, habit: str, overlays: Path | None,
               init: str | None = None) -> Callable[[float, int], Result]:
    def run(time_limit: float, seed: int) -> Result:
        if config_needs_sparse_instances(habit) and (reason := sparse_instances_unsupported()):
            return {"status": "not run", "reason": reason}
        item = annotated_images_cached()[name]
        config = config_for(habit, time_limit, seed, init)
        annotation = simulate(habit, item.train_labels, item.train_region, seed=seed + 1)
        facts = check_annotation(habit, annotation, item.train_labels, item.train_region)
        if overlays is not None:
            save_overlay(overlays / f"{name}-{habit}_seed{seed}.png", overlay(item.train_image, annotation, habit))
        net, run_facts = trained(item.train_image[item.train_slice], annotation[item.train_slice], config, init)
        predicted, _ = predict_image(net, item.test_image, output="instances")
        scores = instance_scores(predicted[item.test_slice], item.test_labels[item.test_slice])
        return {**scores, **run_facts, **facts, "scored_on": item.description}

    return run


def correction_case(name: str, n_fixes: int | None) -> Callable[[float, int], Result]:
    """Predict the annotated half with builtin:nuclei, fix ``n_fixes`` of its mistakes (None: all), fine-tune,
    score."""
    def run(time_limit: float, seed: int) -> Result:
        if "nuclei" not in builtin_model_names():
            return {"status": "not run", "reason": "this installation ships no builtin:nuclei model"}
        item = annotated_images_cached()[name]
        start_model = load_model(resolve_model("builtin:nuclei"))
        prediction, _ = predict_image(start_model, item.train_image, output="instances")
        editable = annotation_from_prediction(start_model, prediction, "instances")
        annotation, facts = corrected_prediction(editable, item.train_labels, item.train_region, n_fixes,
                                                 seed=seed + 1)
        config = TrainingConfig(**annotation_settings(start_model), time_limit=time_limit, seed=seed)
        net, run_facts = trained(item.train_image[item.train_slice], annotation[item.train_slice], config,
                                 "builtin:nuclei")
        predicted, _ = predict_image(net, item.test_image, output="instances")
        scores = instance_scores(predicted[item.test_slice], item.test_labels[item.test_slice])
        return {**scores, **run_facts, **facts, "scored_on": item.description}

    return run


def config_needs_sparse_instances(habit: str) -> bool:
    return habit in ("b", "d")


@cache
def annotated_images_cached():
    return annotated_images()


def save_overlay(path: Path, rgb: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path)


def maize_case(time_limit: float, seed: int) -> Result:
    """Two tissue classes from scribbles. The bottom half holds almost no scribbles (128 px, one class), so the
    scribbles of the right half train and those of the left half are held out and scored."""
    image, scribbles = maize()
    held_out = np.zeros(scribbles.shape, dtype=bool)
    held_out[:, : scribbles.shape[1] // 2] = True
    training = np.where(held_out, 0, scribbles)
    config = TrainingConfig(task="semantic", sparse=True, time_limit=time_limit, seed=seed,
                            class_names=((1, "parenchyma"), (2, "vascular")))
    net, run_facts = trained(image, training, config)
    labels, _ = predict_image(net, image, output="labels")
    truth = scribbles[held_out]
    guess = labels[held_out]
    annotated = truth > 0
    result: Result = {"scored_on": "held-out scribble pixels of the left half (trained on the right half's)",
                      "held_out_accuracy": float(np.mean(guess[annotated] == truth[annotated])),
                      "held_out_pixels": int(annotated.sum())}
    for value, name in ((1, "parenchyma"), (2, "vascular")):
        result[f"recall_{name}"] = float(np.mean(guess[truth == value] == value))
        result[f"predicted_fraction_{name}_whole_image"] = float(np.mean(labels == value))
        result[f"predicted_fraction_{name}_left_half"] = float(np.mean(guess == value))
    return {**result, **run_facts}


def bbbc007_case(time_limit: float, seed: int, init: str | None = None) -> Result:
    if reason := sparse_instances_unsupported():
        return {"status": "not run", "reason": reason}
    items = bbbc007()
    train_items, test_items = items[:4], items[4:]
    # the files number the painted nuclei 1..N as people do; sparse_background="auto" reads 1 as an object there
    # and infers the background
    config = TrainingConfig(task="instances", sparse=True, sparse_background="auto", time_limit=time_limit, seed=seed)
    net, run_facts = trained([img for _, img, _ in train_items], [lab for _, _, lab in train_items], config, init)
    predicted = [predict_image(net, img, output="instances")[0] for _, img, _ in test_items]
    return {**painted_recall(predicted, [lab for _, _, lab in test_items]), **run_facts,
            "scored_on": "painted nuclei of " + ", ".join(name for name, _, _ in test_items)}


def zeroshot_case(time_limit: float, seed: int) -> Result:
    from napari_tiled_unet.builtin.train_nuclei import builtin_config, training_set

    images, labels = training_set(n_images=64, seed=seed, ranges=StyleRanges())
    net, run_facts = trained(images, labels, builtin_config(time_limit=time_limit, seed=seed))
    blobs = annotated_images_cached()["blobs"]
    predicted, _ = predict_image(net, blobs.test_image, output="instances")
    items = bbbc007()
    bbbc = painted_recall([predict_image(net, img, output="instances")[0] for _, img, _ in items],
                          [lab for _, _, lab in items])
    sample = annotated_images_cached()["sample"]
    on_sample, _ = predict_image(net, sample.test_image, output="instances")
    return {**instance_scores(predicted, blobs.test_labels), **run_facts, "scored_on": "all of blobs.tif",
            "bbbc007_all_six": bbbc, "sample_test_f1": instance_scores(on_sample, sample.test_labels)["f1"]}


def builtin_zeroshot_case(time_limit: float, seed: int) -> Result:
    """The shipped nuclei model as it is, on every real image with instance truth (no training)."""
    if "nuclei" not in builtin_model_names():
        return {"status": "not run", "reason": "this installation ships no builtin:nuclei model"}
    net = load_model(resolve_model("builtin:nuclei"))
    start = time.perf_counter()
    blobs = annotated_images_cached()["blobs"]
    held_out, _ = predict_image(net, blobs.test_image, output="instances")
    scores = instance_scores(held_out[blobs.test_slice], blobs.test_labels[blobs.test_slice])
    items = bbbc007()
    bbbc = painted_recall([predict_image(net, img, output="instances")[0] for _, img, _ in items],
                          [lab for _, _, lab in items])
    result: Result = {**scores, "scored_on": f"{blobs.description} (no training)", "bbbc007_all_six": bbbc}
    for name in ("sample", "standin", "u2os"):
        item = annotated_images_cached()[name]
        # the defaults (TTA, large objects shrunk), then without TTA, and each with rescale off
        for suffix, options in (("", {}), ("_no_tta", {"tta": False}), ("_rescale_off", {"rescale": "off"}),
                                ("_no_tta_rescale_off", {"tta": False, "rescale": "off"})):
            if suffix and name == "sample":
                continue
            predicted, _ = predict_image(net, item.test_image, output="instances", **options)
            result[f"{name}_f1{suffix}"] = instance_scores(predicted[item.test_slice],
                                                           item.test_labels[item.test_slice])["f1"]
    result["predict_seconds"] = round(time.perf_counter() - start, 1)
    return result


def all_cases(overlays: Path | None) -> dict[str, tuple[str, Callable[[float, int], Result]]]:
    cases = {f"{name}-{habit}": (f"{name}: {HABITS[habit][0]}", habit_case(name, habit, overlays))
             for name in ("blobs", "sample", "standin", "u2os") for habit in HABITS}
    cases["maize"] = ("maize: scribbles of two tissue types (semantic, sparse)", maize_case)
    cases["bbbc007"] = ("bbbc007: 6-9 nuclei painted per image, train on 4 images, score on 2", bbbc007_case)
    cases["zeroshot"] = ("synthetic generator only, scored on blobs and BBBC007 unseen", zeroshot_case)
    cases["builtin-zeroshot"] = ("the shipped builtin:nuclei model, no training", builtin_zeroshot_case)
    cases["builtin-bbbc007"] = ("bbbc007 as above, fine-tuned from builtin:nuclei",
                                lambda time_limit, seed: bbbc007_case(time_limit, seed, init="builtin:nuclei"))
    fine_tuned = (("blobs", "a"), ("blobs", "c"), ("blobs", "d"), ("standin", "a"), ("standin", "b"),
                  ("standin", "c"), ("standin", "d"), ("u2os", "a"), ("u2os", "b"), ("u2os", "c"), ("u2os", "d"))
    for name, habit in fine_tuned:
        cases[f"builtin-{name}-{habit}"] = (f"{name}: {HABITS[habit][0]}, fine-tuned from builtin:nuclei",
                                            habit_case(name, habit, overlays, init="builtin:nuclei"))
    for name in ("blobs", "standin", "u2os"):
        for n_fixes in (0, 10, None):
            count = "all" if n_fixes is None else str(n_fixes)
            cases[f"builtin-{name}-fix{count}"] = (
                f"{name}: builtin:nuclei's prediction of the annotated half, {count} of its mistakes fixed, "
                "fine-tuned from it", correction_case(name, n_fixes))
    return cases


def summarise(runs: list[Result]) -> Result:
    """Mean over seeds of every number the runs share."""
    keys = [k for k, v in runs[0].items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return {k: float(np.mean([r[k] for r in runs])) for k in keys if all(k in r for r in runs)}


def show(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={show(v)}" for k, v in value.items()) + "}"
    return str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--time-limit", type=float, default=120.0, help="seconds of training per case")
    parser.add_argument("--only", default=None, help="a case name or prefix (e.g. standin, blobs-b, zeroshot)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="training (and annotation) seeds")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    parser.add_argument("--overlays", type=Path, default=None, help="save PNGs of the simulated annotations here")
    args = parser.parse_args()
    cases = all_cases(args.overlays)
    chosen = [name for name in cases if args.only is None or name == args.only or name.startswith(args.only)]
    if not chosen:
        parser.error(f"--only {args.only!r} matches no case: use one of {', '.join(cases)}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cpus, "
          f"{args.time_limit:.0f} s of training per case, seeds {args.seeds}", flush=True)
    results: dict[str, object] = {"time_limit_s": args.time_limit, "seeds": args.seeds, "cases": {}}
    for name in chosen:
        description, run = cases[name]
        print(f"\n{name}: {description}", flush=True)
        runs = []
        for seed in args.seeds:
            result = run(args.time_limit, seed)
            runs.append(result)
            print(f"  seed {seed}: " + ", ".join(f"{k}={show(v)}" for k, v in result.items()), flush=True)
        entry: dict[str, object] = {"description": description, "runs": runs}
        if len(runs) > 1 and "status" not in runs[0]:
            entry["mean"] = summarise(runs)
            print("  mean: " + ", ".join(f"{k}={show(v)}" for k, v in entry["mean"].items()), flush=True)
        results["cases"][name] = entry
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
