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

# Runs in a fresh interpreter: imports the named modules, then every module found under the package (the
# training subpackage may be a namespace package, which pkgutil.walk_packages does not enter from the top).
SCRIPT = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys

    named = json.loads(sys.argv[1])
    gui = json.loads(sys.argv[2])
    for name in named:
        importlib.import_module(name)

    import napari_tiled_unet

    def walk(path, prefix):
        found = []
        for info in pkgutil.walk_packages(path, prefix, onerror=lambda name: None):
            found.append(info.name)
        return found

    def skip(name):
        parts = name.split(".")
        return "_napari" in parts or parts[-1] == "__main__" or "sample_data" in parts

    discovered = [n for n in walk(napari_tiled_unet.__path__, "napari_tiled_unet.") if not skip(n)]
    training = None
    try:
        training = importlib.import_module("napari_tiled_unet.training")
    except ModuleNotFoundError:
        pass
    if training is not None:
        discovered += [n for n in walk(training.__path__, "napari_tiled_unet.training.") if not skip(n)]
    discovered = sorted(set(discovered))
    for name in discovered:
        importlib.import_module(name)
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
