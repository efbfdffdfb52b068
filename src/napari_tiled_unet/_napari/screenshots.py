"""Screenshots of both widgets in a real viewer on a 1600x1000 screen, after a short training run and a prediction.

``python -m napari_tiled_unet._napari.screenshots --out docs/images`` writes ``train_widget.png`` and
``predict_widget.png`` (the two docks tabbed, as ``make demo-gui`` opens them), and with ``--all`` also
``both_docks.png`` (the two docks one above the other, every section open). Without a display it starts Xvfb
itself (Linux; ``apt-get install xvfb``).
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

SCREEN = (1600, 1000)


def start_xvfb() -> subprocess.Popen | None:
    """Start Xvfb on a free display and point DISPLAY at it (None when a display exists or Xvfb is missing)."""
    if os.environ.get("DISPLAY") or not sys.platform.startswith("linux") or shutil.which("Xvfb") is None:
        return None
    for number in range(99, 120):
        if Path(f"/tmp/.X11-unix/X{number}").exists() or Path(f"/tmp/.X{number}-lock").exists():
            continue
        size = f"{SCREEN[0]}x{SCREEN[1]}x24"
        process = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", size, "-nolisten", "tcp"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(50):
            if Path(f"/tmp/.X11-unix/X{number}").exists():
                os.environ["DISPLAY"] = f":{number}"
                return process
            time.sleep(0.1)
        process.terminate()
    raise RuntimeError("could not start Xvfb: run with a display or start 'Xvfb :99 &' and set DISPLAY=:99")


def wait(condition: Callable[[], bool], timeout: float) -> None:
    """Process Qt events until ``condition()`` is true (RuntimeError after ``timeout`` seconds)."""
    from qtpy.QtWidgets import QApplication

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s")
        QApplication.processEvents()
        time.sleep(0.02)


def dock_of(widget: Any) -> Any:
    """The QDockWidget that holds a docked magicgui widget."""
    from qtpy.QtWidgets import QDockWidget

    parent = widget.native
    while parent is not None and not isinstance(parent, QDockWidget):
        parent = parent.parentWidget()
    if parent is None:
        raise RuntimeError(f"{widget!r} is not docked")
    return parent


def settle(seconds: float = 0.5) -> None:
    """Let Qt lay out and paint for a moment."""
    from qtpy.QtWidgets import QApplication

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        QApplication.processEvents()
        time.sleep(0.02)


def grab(viewer: Any, path: Path) -> Path:
    """Save the whole main window as a palette PNG (256 colours keep it well under 400 KB)."""
    from PIL import Image
    from qtpy.QtCore import QBuffer, QIODevice

    settle()
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    viewer.window._qt_window.grab().save(buffer, "PNG")
    image = Image.open(io.BytesIO(bytes(buffer.data()))).convert("RGB")
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    return path


def _train(viewer: Any, seconds: float) -> Any:
    from napari_tiled_unet._napari.launch import PLUGIN, TRAIN

    _dock, train = viewer.window.add_plugin_dock_widget(PLUGIN, TRAIN)
    settle()
    viewer.reset_view()
    train.time_limit.value = seconds
    train.advanced.steps_per_epoch.value = 10
    # the task, the sparse box and the model to start from follow the labels: the sample's scribbles through
    # nuclei train an instance model from builtin:nuclei
    wait(lambda: not train.label_check.pending, 60)
    if not train.start():
        raise RuntimeError(f"training did not start: {train.status.value}")
    wait(lambda: not train.running, seconds + 120)
    if train.last_outcome is None or train.last_outcome.error is not None:
        raise RuntimeError(f"training failed: {train.last_outcome}")
    return train


def _predict(viewer: Any, tabify: bool) -> Any:
    from napari_tiled_unet._napari.launch import PLUGIN, PREDICT

    _dock, predict = viewer.window.add_plugin_dock_widget(PLUGIN, PREDICT, tabify=tabify)
    dock_of(predict).raise_()
    settle()
    if not predict.run():
        raise RuntimeError(f"prediction did not start: {predict.status.value}")
    wait(lambda: not predict.running, 120)
    viewer.layers["nuclei 2D scribbles"].visible = False
    predict.result_layer.opacity = 0.5
    viewer.layers.selection.active = predict.result_layer
    return predict


def take(out: Path, seconds: float, both: bool = False) -> list[Path]:
    """Train for ``seconds`` in the widget, predict, and save the screenshots into ``out``."""
    import napari

    from napari_tiled_unet._napari.launch import PLUGIN

    viewer = napari.Viewer(title="napari-tiled-unet", show=True)
    viewer.window._qt_window.resize(*SCREEN)
    try:
        viewer.open_sample(PLUGIN, "nuclei_2d")
        _train(viewer, seconds)
        written = [grab(viewer, out / "train_widget.png")]
        _predict(viewer, tabify=True)
        written.append(grab(viewer, out / "predict_widget.png"))
        if both:
            viewer.window.remove_dock_widget("all")
            written.append(_both_docks(viewer, out / "both_docks.png"))
        return written
    finally:
        viewer.close()


def _both_docks(viewer: Any, path: Path) -> Path:
    """Both widgets one above the other, every section open (what must still fit the screen)."""
    from napari_tiled_unet._napari.launch import PLUGIN, PREDICT, TRAIN

    _dock, train = viewer.window.add_plugin_dock_widget(PLUGIN, TRAIN)
    _dock, predict = viewer.window.add_plugin_dock_widget(PLUGIN, PREDICT)
    for widget in (train, predict):
        for box in widget.sections.values():
            box.expand(animate=False)
    settle()
    return grab(viewer, path)


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images"), help="folder for the PNG files")
    parser.add_argument("--seconds", type=float, default=90.0, help="training time limit in seconds")
    parser.add_argument("--all", action="store_true", help="also both docks one above the other, all sections open")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    xvfb = start_xvfb()
    code = 0
    try:
        for path in take(args.out, args.seconds, both=args.all):
            print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")
    except Exception:
        traceback.print_exc()
        code = 1
    finally:
        if xvfb is not None:
            leave_xvfb(xvfb, code)
    if code:
        sys.exit(code)


def leave_xvfb(xvfb: subprocess.Popen, code: int) -> None:
    """Stop the Xvfb server started for the screenshots and end the process at once with ``code``.

    Qt still holds its connection to this server and would use it while Python shuts down (a segfault once the
    server is gone), so the process leaves without that shutdown; the files are written and closed by then.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    xvfb.terminate()
    xvfb.wait(timeout=10)
    os._exit(code)


if __name__ == "__main__":
    main()
