"""The built-in models of napari-tiled-unet and the scripts that train them (on synthetic data only)."""
