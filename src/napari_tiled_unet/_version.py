"""Version of the package, read from its installed metadata."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("napari-tiled-unet")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without installing
    __version__ = "0.0.0+unknown"
