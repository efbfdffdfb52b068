"""Open napari with a sample and both widgets docked: ``python -m napari_tiled_unet._napari.launch [--3d]``."""

from __future__ import annotations

import argparse
from typing import Any

PLUGIN = "napari-tiled-unet"
TRAIN, PREDICT = "Train U-Net", "Predict with U-Net"


def open_demo(viewer: Any, sample: str = "nuclei_2d") -> tuple[Any, Any]:
    """Open ``sample`` in ``viewer`` and dock the Train and Predict widgets (tabbed); return both widgets."""
    viewer.open_sample(PLUGIN, sample)
    _dock, train = viewer.window.add_plugin_dock_widget(PLUGIN, TRAIN)
    _dock, predict = viewer.window.add_plugin_dock_widget(PLUGIN, PREDICT, tabify=True)
    return train, predict


def main(argv: list[str] | None = None) -> None:
    """Start napari with the demo and run its event loop until the window is closed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--3d", dest="three_d", action="store_true", help="open the 3D nuclei stack instead")
    args = parser.parse_args(argv)
    import napari

    viewer = napari.Viewer(title="napari-tiled-unet demo")
    open_demo(viewer, "nuclei_3d" if args.three_d else "nuclei_2d")
    napari.run()


if __name__ == "__main__":
    main()
