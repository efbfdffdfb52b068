"""``python -m napari_tiled_unet.cli``."""

from napari_tiled_unet.cli.main import run

run()
