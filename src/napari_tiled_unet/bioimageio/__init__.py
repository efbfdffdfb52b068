"""Share models in the bioimage.io format: :func:`export_bioimageio` writes a model package (format 0.5).

Writing a package needs no bioimage.io library; checking one does (``pip install
'napari-tiled-unet[bioimageio]'``, then ``bioimageio test model.zip``). :func:`~napari_tiled_unet.load_model`
opens packages exported here.
"""

from napari_tiled_unet.bioimageio.export import export_bioimageio

__all__ = ["export_bioimageio"]
