"""More screenshot scenes: correct and retrain, sparse instances on real nuclei, a three-channel image.

``python -m napari_tiled_unet._napari.screenshot_scenes --out docs/images [--real /path/to/data/real]`` writes
``correct_and_retrain.png`` (the sample: a short instance training, a prediction, an annotation made from it with
corrections painted, the Train widget ready to continue), ``sparse_instances.png`` (8 of the sample's nuclei
painted: what the label check says) and, with ``--real``, ``bbbc007_sparse_instances.png`` (the same for a
BBBC007 image painted by a person) and ``channels.png`` (the BBBC022 three-channel image, its channel axis
proposed).
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from .model_registry import registry
from .screenshots import SCREEN, dock_of, grab, leave_xvfb, settle, start_xvfb, wait


def _docks(viewer: Any) -> tuple[Any, Any]:
    from napari_tiled_unet._napari.launch import PLUGIN, PREDICT, TRAIN

    _dock, train = viewer.window.add_plugin_dock_widget(PLUGIN, TRAIN)
    _dock, predict = viewer.window.add_plugin_dock_widget(PLUGIN, PREDICT, tabify=True)
    settle()
    return train, predict


def _show_train(train: Any) -> None:
    settle()
    dock_of(train).raise_()
    settle()


def _missed_objects(truth: np.ndarray, instances: np.ndarray, count: int) -> list[int]:
    """Ground-truth objects the prediction (mostly) missed, largest first."""
    ids, sizes = np.unique(truth[truth > 0], return_counts=True)
    missed = [(size, k) for k, size in zip(ids, sizes) if (instances[truth == k] > 0).mean() < 0.5]
    return [k for _size, k in sorted(missed, reverse=True)[:count]]


def correct_and_retrain(viewer: Any, path: Path, seconds: float) -> Path:
    """The sample's nuclei: train instances briefly, predict, make the annotation, paint corrections."""
    from napari_tiled_unet._napari.launch import PLUGIN

    viewer.open_sample(PLUGIN, "nuclei_2d")
    truth = np.asarray(viewer.layers["nuclei 2D ground truth"].data)
    viewer.layers["nuclei 2D scribbles"].visible = False
    train, predict = _docks(viewer)
    _show_train(train)
    train.labels_layer.value = viewer.layers["nuclei 2D ground truth"]
    wait(lambda: not train.label_check.pending, 60)
    train.time_limit.value = seconds
    train.advanced.depth.value = 3
    train.advanced.patch_size.value = 124
    train.advanced.steps_per_epoch.value = 10
    if not train.start():
        raise RuntimeError(f"training did not start: {train.status.value}")
    wait(lambda: not train.running, seconds + 180)
    viewer.layers["nuclei 2D ground truth"].visible = False
    dock_of(predict).raise_()
    predict.output.value = "instances"
    predict.run()
    wait(lambda: not predict.running, 180)
    instances = np.asarray(predict.result_layer.data)
    predict.result_layer.visible = False
    layer = predict.make_corrections()
    new_id = int(layer.data.max()) + 1
    for k in _missed_objects(truth, instances, 3):  # the user paints missed nuclei, each with a new id
        layer.data_setitem(np.nonzero(truth == k), new_id)
        new_id += 1
    layer.selected_label = new_id
    _show_train(train)
    wait(lambda: not train.label_check.pending, 60)
    train.scroll.ensureWidgetVisible(train.label_check.native, 0, 0)
    viewer.reset_view()
    return grab(viewer, path)


def sparse_instances(viewer: Any, data: Path | None, path: Path) -> Path:
    """A few nuclei painted completely, nothing else (the sample, or a BBBC007 image): what the Train widget says."""
    if data is None:
        from napari_tiled_unet.samples import load_nuclei_2d

        sample = load_nuclei_2d()
        ids = [v for v in np.unique(sample["labels"]) if v][20:28]
        painted = np.zeros(sample["labels"].shape, np.uint16)
        for k, value in enumerate(ids, start=1):
            painted[sample["labels"] == value] = k
        viewer.add_image(sample["image"], name="nuclei 2D")
        viewer.add_labels(painted, name="8 nuclei painted")
    else:
        import tifffile

        name = "bbbc007_A9_p7d"
        viewer.add_image(tifffile.imread(data / f"{name}.tif"), name=name)
        viewer.add_labels(tifffile.imread(data / f"{name}_sparse_instances.tif").astype(np.uint16),
                          name=f"{name} painted nuclei")
    train, _predict = _docks(viewer)
    _show_train(train)
    wait(lambda: not train.label_check.pending, 60)
    viewer.reset_view()
    return grab(viewer, path)


def channels(viewer: Any, data: Path, path: Path) -> Path:
    """The BBBC022 Cell Painting image, opened as one (3, H, W) layer: its channel axis is proposed."""
    layer = viewer.open(str(data / "bbbc022_3channel.tif"))[0]
    viewer.add_labels(np.zeros(layer.data.shape[1:], np.uint8), name="cells")  # about to be painted
    train, _predict = _docks(viewer)
    _show_train(train)
    wait(lambda: not train.label_check.pending, 60)
    viewer.reset_view()
    return grab(viewer, path)


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    import napari

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images"), help="folder for the PNG files")
    parser.add_argument("--seconds", type=float, default=60.0, help="training time limit in seconds")
    parser.add_argument("--real", type=Path, default=None, help="folder of the real images (BBBC007, BBBC022)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    xvfb = start_xvfb()
    code = 0
    scenes = [("correct_and_retrain.png", lambda v, p: correct_and_retrain(v, p, args.seconds)),
              ("sparse_instances.png", lambda v, p: sparse_instances(v, None, p))]
    if args.real is not None:
        scenes += [("bbbc007_sparse_instances.png", lambda v, p: sparse_instances(v, args.real, p)),
                   ("channels.png", lambda v, p: channels(v, args.real, p))]
    try:
        for name, scene in scenes:
            registry.clear()
            viewer = napari.Viewer(title="napari-tiled-unet", show=True)
            viewer.window._qt_window.resize(*SCREEN)
            try:
                written = scene(viewer, args.out / name)
                print(f"wrote {written} ({written.stat().st_size // 1024} KiB)")
            finally:
                viewer.close()
    except Exception:
        traceback.print_exc()
        code = 1
    finally:
        if xvfb is not None:
            leave_xvfb(xvfb, code)
    if code:
        sys.exit(code)


if __name__ == "__main__":
    main()
