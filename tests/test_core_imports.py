"""The core (everything but the ``_napari`` subpackage) imports no napari, Qt, magicgui or vispy."""

import json
import subprocess
import sys
import textwrap

GUI_MODULES = ("napari", "qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "magicgui", "vispy")

CORE_MODULES = (
    "napari_tiled_unet",
    "napari_tiled_unet.config",
    "napari_tiled_unet.geometry",
    "napari_tiled_unet.model",
    "napari_tiled_unet.tiling",
    "napari_tiled_unet.predict",
    "napari_tiled_unet.inference",
    "napari_tiled_unet.model_file",
    "napari_tiled_unet.image_io",
    "napari_tiled_unet.normalization",
    "napari_tiled_unet.postprocess",
    "napari_tiled_unet.samples",
    "napari_tiled_unet.cli.main",
)

# Runs in a fresh interpreter: imports the named modules, then every module found under the package. The walk
# is pkgutil.walk_packages done by hand, because walk_packages imports every package it meets (and so would
# import ``_napari`` before it could be skipped).
SCRIPT = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys

    named = json.loads(sys.argv[1])
    gui = json.loads(sys.argv[2])
    for name in named:
        importlib.import_module(name)

    def skip(name):
        parts = name.split(".")
        return "_napari" in parts or parts[-1] == "__main__" or "sample_data" in parts

    def walk(package):
        found = []
        for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            if skip(info.name):
                continue
            module = importlib.import_module(info.name)
            found.append(info.name)
            if info.ispkg:
                found += walk(module)
        return found

    import napari_tiled_unet

    discovered = walk(napari_tiled_unet)
    # a namespace package (a folder without __init__.py) is not listed by iter_modules: enter it by name
    try:
        training = importlib.import_module("napari_tiled_unet.training")
    except ModuleNotFoundError:
        training = None
    if training is not None and "napari_tiled_unet.training" not in discovered:
        discovered += ["napari_tiled_unet.training", *walk(training)]
    print(json.dumps({
        "imported": sorted(set(named) | set(discovered)),
        "gui": sorted(m for m in gui if m in sys.modules),
    }))
    """
)


def test_core_imports_no_gui_toolkit():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(CORE_MODULES), json.dumps(GUI_MODULES)],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    imported = set(report["imported"])
    assert set(CORE_MODULES) <= imported
    assert "napari_tiled_unet.cli.predict_cmd" in imported, "pkgutil discovery found no cli modules"
    training = sorted(n for n in imported if n.startswith("napari_tiled_unet.training."))
    assert training, "no napari_tiled_unet.training.* module was discovered"
    assert not any("_napari" in n.split(".") for n in imported)
    assert report["gui"] == [], f"the core imported {report['gui']}"
