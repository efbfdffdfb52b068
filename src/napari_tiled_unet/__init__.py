"""napari-tiled-unet: train a U-Net on your microscopy images and segment whole stacks, tile by tile, exactly.

The core (this package without its ``_napari`` subpackage) imports no napari, Qt or magicgui.
"""

from napari_tiled_unet._version import __version__
from napari_tiled_unet.config import UNetConfig
from napari_tiled_unet.errors import Cancelled, ModelFileError
from napari_tiled_unet.model import UNet
from napari_tiled_unet.model_file import load_model, save_model
from napari_tiled_unet.predict import predict_tiled

__all__ = [
    "Cancelled",
    "ModelFileError",
    "UNet",
    "UNetConfig",
    "__version__",
    "load_model",
    "predict_tiled",
    "save_model",
]
