"""Closing the dock or the viewer while training or predicting: no crash, no orphan thread, the best model kept."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from napari_tiled_unet import UNet, UNetConfig
from napari_tiled_unet._napari.launch import PLUGIN, PREDICT, TRAIN
from napari_tiled_unet._napari.lifecycle import WAIT_ON_CLOSE_S

TIMEOUT = 60_000

CLOSE_VIEWER_SCRIPT = '''
import time

import napari
from qtpy.QtCore import QCoreApplication, QEvent, QTimer
from qtpy.QtWidgets import QApplication

from napari_tiled_unet._napari.launch import PLUGIN, PREDICT, TRAIN
from napari_tiled_unet._napari.model_registry import registry

viewer = napari.Viewer(show=True)
viewer.open_sample(PLUGIN, "nuclei_2d")
_dock, train = viewer.window.add_plugin_dock_widget(PLUGIN, TRAIN)
_dock, predict = viewer.window.add_plugin_dock_widget(PLUGIN, PREDICT, tabify=True)
train.time_limit.value = 600  # would train for ten minutes
train.epochs.value = 0
advanced = train.advanced
advanced.depth.value, advanced.wf.value, advanced.patch_size.value = 2, 2, 44
advanced.batch_size.value, advanced.steps_per_epoch.value = 2, 5
assert train.start(), train.status.value
started = time.monotonic()


def close_when_training():
    if len(train.plot.steps) >= 3 or time.monotonic() - started > 120:
        print(f"closing after {len(train.plot.steps)} steps", flush=True)
        print(f"closed at {time.time():.3f}", flush=True)
        viewer.close()
    else:
        QTimer.singleShot(50, close_when_training)


QTimer.singleShot(50, close_when_training)
napari.run()
# the event loop may go on (another viewer, IPython): deferred deletions and queued signals are delivered now
until = time.monotonic() + 2
while time.monotonic() < until:
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    QApplication.processEvents()
    time.sleep(0.02)
print(f"models: {registry.names()}", flush=True)
print(f"running: {train.running}", flush=True)
'''


@pytest.mark.slow
def test_closing_the_viewer_while_training_exits_cleanly_and_keeps_the_model(tmp_path):
    """A real viewer in its own process: start training in the widget, close the window, the process ends well."""
    script = tmp_path / "close_viewer.py"
    script.write_text(CLOSE_VIEWER_SCRIPT)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parents[2] / "src"), env.get("PYTHONPATH", "")])
    env.pop("QT_QPA_PLATFORM", None)
    process = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, env=env,
                             cwd=tmp_path)
    ended = time.time()
    output = process.stdout + process.stderr
    assert process.returncode == 0, output[-3000:]
    assert "has been deleted" not in output and "Traceback" not in output, output[-3000:]
    closed = float(next(line for line in process.stdout.splitlines() if line.startswith("closed at")).split()[-1])
    assert ended - closed < WAIT_ON_CLOSE_S, f"the process took {ended - closed:.0f} s to end after closing"
    assert "models: ['model 1 (semantic)']" in process.stdout  # the best model was kept
    assert "running: False" in process.stdout  # no orphan training thread


def _dock_of(viewer, widget):
    from qtpy.QtWidgets import QDockWidget

    return next(dock for dock in viewer.window._qt_window.findChildren(QDockWidget) if dock.widget() is widget.native)


def test_closing_the_train_dock_cancels_training_and_a_reopened_dock_offers_the_model(viewer, qtbot, notes,
                                                                                       make_tiny, clean_registry):
    _dock, train = viewer.window.add_plugin_dock_widget(PLUGIN, TRAIN)
    make_tiny(train)
    train.epochs.value = 0
    train.time_limit.value = 600
    assert train.start()
    qtbot.waitUntil(lambda: len(train.plot.steps) >= 2, timeout=TIMEOUT)
    # closing napari now would say what runs (napari's task status) and cancel it
    assert any(line.startswith("Tiled U-Net: training a new model") for line in
               viewer.window._task_status_manager.get_status())
    started = time.monotonic()
    viewer.window.remove_dock_widget(_dock_of(viewer, train))  # what the dock's close button does
    assert time.monotonic() - started < WAIT_ON_CLOSE_S
    assert not train.running and train.runner.closed and train.last_outcome.cancelled
    assert viewer.window._task_status_manager.get_status() == []
    assert clean_registry.names() == [train.model_name]  # the best model was kept
    assert any("panel was closed" in message and train.model_name in message for message in notes.infos)
    plotted = len(train.plot.steps)
    qtbot.wait(300)  # queued events of the ended run reach nobody
    assert len(train.plot.steps) == plotted and notes.errors == []
    _dock, reopened = viewer.window.add_plugin_dock_widget(PLUGIN, TRAIN)
    assert reopened is not train and reopened.model_name == train.model_name
    assert reopened.model_label.value.startswith(train.model_name) and "no model" not in reopened.model_label.value
    assert reopened.continue_button.enabled and len(reopened.plot.steps) == plotted
    _dock, predict = viewer.window.add_plugin_dock_widget(PLUGIN, PREDICT)
    assert predict.model.value == train.model_name


def test_closing_the_predict_dock_cancels_the_prediction(viewer, qtbot, notes, tiny_model, clean_registry):
    clean_registry.add(tiny_model, name="tiny")
    _dock, predict = viewer.window.add_plugin_dock_widget(PLUGIN, PREDICT)
    predict.auto_tile.value = False
    predict.tile_size.value = 20  # many small tiles: the prediction runs a while
    count = len(viewer.layers)
    assert predict.run()
    viewer.window.remove_dock_widget(_dock_of(viewer, predict))
    assert not predict.running and predict.runner.closed
    qtbot.wait(300)
    assert len(viewer.layers) == count and notes.errors == []  # nothing added by a closed widget
    clean_registry.add(tiny_model, name="another")  # a closed widget no longer listens to the registry
    assert predict.model.value == "tiny"


def test_closing_an_idle_viewer_closes_both_widgets(make_napari_viewer, qtbot, notes, clean_registry):
    viewer = make_napari_viewer(show=True)
    _dock, train = viewer.window.add_plugin_dock_widget(PLUGIN, TRAIN)
    _dock, predict = viewer.window.add_plugin_dock_widget(PLUGIN, PREDICT, tabify=True)
    qtbot.wait(100)
    viewer.close()
    qtbot.waitUntil(lambda: train.runner.closed and predict.runner.closed, timeout=5000)
    assert train.runner.closed_because == predict.runner.closed_because == "the napari window was closed"
    clean_registry.add(UNet(UNetConfig(depth=2, wf=1)), name="late")  # the closed widgets no longer listen
    qtbot.wait(100)
    assert notes.errors == []
