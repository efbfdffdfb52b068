"""Screenshots of both widgets in a real viewer after a short training run and a prediction.

``python -m napari_tiled_unet._napari.screenshots --out docs/images`` writes ``train_widget.png`` and
``predict_widget.png``. Without a display it starts Xvfb itself (Linux; ``apt-get install xvfb``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

WINDOW = (1500, 950)


def start_xvfb() -> subprocess.Popen | None:
    """Start Xvfb on a free display and point DISPLAY at it (None when a display exists or Xvfb is missing)."""
    if os.environ.get("DISPLAY") or not sys.platform.startswith("linux") or shutil.which("Xvfb") is None:
        return None
    for number in range(99, 120):
        if Path(f"/tmp/.X11-unix/X{number}").exists() or Path(f"/tmp/.X{number}-lock").exists():
            continue
        process = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", "1920x1200x24", "-nolisten", "tcp"],
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


def grab(viewer: Any, path: Path) -> Path:
    """Save the whole main window as a PNG (palette-reduced to keep the file small)."""
    from qtpy.QtGui import QImage

    wait(lambda: True, 0)
    for _ in range(10):
        from qtpy.QtWidgets import QApplication

        QApplication.processEvents()
        time.sleep(0.05)
    image = viewer.window._qt_window.grab().toImage()
    image = image.convertToFormat(QImage.Format.Format_Indexed8)
    if not image.save(str(path), "PNG"):
        raise RuntimeError(f"could not write {path}")
    return path


def take(out: Path, seconds: float) -> list[Path]:
    """Train for ``seconds`` in the widget, predict, and save both screenshots into ``out``."""
    import napari

    from napari_tiled_unet._napari.launch import open_demo

    viewer = napari.Viewer(title="napari-tiled-unet", show=True)
    viewer.window._qt_window.resize(*WINDOW)
    try:
        train, predict = open_demo(viewer)
        train.native.parentWidget().raise_()
        train.time_limit.value = seconds
        train.advanced.steps_per_epoch.value = 5
        train.advanced.depth.value = 3
        if not train.start():
            raise RuntimeError(f"training did not start: {train.status.value}")
        wait(lambda: not train.running, seconds + 120)
        if train.last_outcome is None or train.last_outcome.error is not None:
            raise RuntimeError(f"training failed: {train.last_outcome}")
        written = [grab(viewer, out / "train_widget.png")]
        predict.native.parentWidget().raise_()
        if not predict.run():
            raise RuntimeError(f"prediction did not start: {predict.status.value}")
        wait(lambda: not predict.running, 120)
        viewer.layers["nuclei 2D scribbles"].visible = False
        predict.result_layer.opacity = 0.45
        viewer.layers.selection.active = predict.result_layer
        written.append(grab(viewer, out / "predict_widget.png"))
        return written
    finally:
        viewer.close()


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images"), help="folder for the PNG files")
    parser.add_argument("--seconds", type=float, default=40.0, help="training time limit")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    xvfb = start_xvfb()
    try:
        for path in take(args.out, args.seconds):
            print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")
    finally:
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait(timeout=10)


if __name__ == "__main__":
    main()
