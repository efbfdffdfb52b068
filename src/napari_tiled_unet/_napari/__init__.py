"""napari integration: the Train and Predict widgets, the labels writer, the demo launcher and screenshots.

Only this subpackage imports napari, Qt and magicgui; it translates layers and settings into calls of the core
(:func:`napari_tiled_unet.training.loop.train`, :func:`napari_tiled_unet.inference.predict_image`).
"""
