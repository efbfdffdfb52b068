"""The physical size of an image's pixels: axes, a scale per axis letter and the units, read from TIFF files.

ImageJ hyperstacks store the pixel size as the TIFF resolution (pixels per unit), the Z step as ``spacing``,
the frame interval as ``finterval`` and the unit in their description; OME-TIFF files store
``PhysicalSizeX/Y/Z`` (with their units) and ``TimeIncrement`` in their OME-XML. :func:`read_calibration`
reads any of them (and the metadata this package writes into non-ImageJ TIFFs), so that results can be
written with the calibration of their input.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import tifffile

from napari_tiled_unet.checks import is_number

#: Axis letters that can carry a physical size: space (Z, Y, X) and time (T).
SPATIAL_LETTERS = "ZYX"
CALIBRATED_LETTERS = "T" + SPATIAL_LETTERS

#: Length units, in micrometres; the keys are the canonical short names used everywhere in this package.
LENGTH_UNITS: dict[str, float] = {"pm": 1e-6, "angstrom": 1e-4, "nm": 1e-3, "um": 1.0, "mm": 1e3, "cm": 1e4,
                                  "m": 1e6}
#: Time units, in seconds.
TIME_UNITS: dict[str, float] = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0}

_UNIT_ALIASES: dict[str, str | None] = {
    "micron": "um", "microns": "um", "µm": "um", "μm": "um", "\\u00b5m": "um", "micrometer": "um",
    "micrometre": "um", "nanometer": "nm", "nanometre": "nm", "millimeter": "mm", "millimetre": "mm",
    "centimeter": "cm", "centimetre": "cm", "meter": "m", "metre": "m", "å": "angstrom",
    "picometer": "pm", "pixel": None, "pixels": None, "px": None, "": None, "none": None,
    "sec": "s", "second": "s", "seconds": "s", "msec": "ms", "millisecond": "ms", "milliseconds": "ms",
    "µs": "us", "microsecond": "us", "nanosecond": "ns", "minute": "min", "minutes": "min", "hour": "h",
    "hours": "h", "hr": "h",
}
#: Unit names of the OME-NGFF specification (UDUNITS-2) for our canonical units.
NGFF_UNITS: dict[str, str] = {"pm": "picometer", "angstrom": "angstrom", "nm": "nanometer", "um": "micrometer",
                              "mm": "millimeter", "cm": "centimeter", "m": "meter", "ns": "nanosecond",
                              "us": "microsecond", "ms": "millisecond", "s": "second", "min": "minute", "h": "hour"}


def canonical_unit(unit: Any) -> str | None:
    """The canonical short name of a length or time unit (``'micron'`` -> ``'um'``); None for pixels.

    Raises
    ------
    ValueError
        If the unit is not a known length or time unit.

    """
    if unit is None:
        return None
    text = str(unit).strip()
    key = text.lower()
    if key in LENGTH_UNITS or key in TIME_UNITS:
        return key
    if key in _UNIT_ALIASES:
        return _UNIT_ALIASES[key]
    raise ValueError(f"unit {text!r} is unknown: use one of {', '.join([*LENGTH_UNITS, *TIME_UNITS])}")


def convert_length(value: float, unit: str, to: str) -> float:
    """``value`` in length unit ``unit`` expressed in length unit ``to`` (canonical names)."""
    return value * LENGTH_UNITS[unit] / LENGTH_UNITS[to]


def _positive(name: str, value: Any) -> float:
    if not is_number(value) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name}={value!r} is invalid: a pixel size must be a positive number")
    return float(value)


@dataclass(frozen=True)
class Calibration:
    """The axes of an image and the physical size of its pixels along each of them.

    Parameters
    ----------
    axes : str
        Axis letters of the array (``'YX'``, ``'ZYX'``, ``'TZCYX'``...).
    scale : mapping or sequence of (letter, size) pairs
        Size of a pixel along the axes that have one (``Z``, ``Y``, ``X`` in ``unit``, ``T`` in
        ``time_unit``); axes without an entry are uncalibrated (1 pixel). Letters not in ``axes`` are dropped.
    unit : str or None
        Length unit of the spatial sizes (``'um'``, ``'nm'``...); None: the sizes are in pixels.
    time_unit : str or None
        Unit of the ``T`` size (``'s'``, ``'ms'``, ``'min'``...).

    """

    axes: str
    scale: tuple[tuple[str, float], ...] = ()
    unit: str | None = None
    time_unit: str | None = None

    def __post_init__(self) -> None:
        axes = str(self.axes).upper()
        object.__setattr__(self, "axes", axes)
        items = self.scale.items() if isinstance(self.scale, Mapping) else self.scale
        sizes = {str(letter).upper(): _positive(f"pixel size of axis {letter}", value) for letter, value in items}
        ordered = tuple((a, sizes[a]) for a in axes if a in CALIBRATED_LETTERS and a in sizes)
        object.__setattr__(self, "scale", ordered)
        unit, time_unit = canonical_unit(self.unit), canonical_unit(self.time_unit)
        if unit is not None and unit not in LENGTH_UNITS:
            raise ValueError(f"unit {self.unit!r} is not a length unit: use one of {', '.join(LENGTH_UNITS)}")
        if time_unit is not None and time_unit not in TIME_UNITS:
            raise ValueError(f"time unit {self.time_unit!r} is unknown: use one of {', '.join(TIME_UNITS)}")
        object.__setattr__(self, "unit", unit)
        object.__setattr__(self, "time_unit", time_unit if "T" in dict(ordered) else None)

    @classmethod
    def uncalibrated(cls, axes: str) -> Calibration:
        """A calibration that says nothing but the axes (every pixel is 1 unit)."""
        return cls(axes)

    @property
    def sizes(self) -> dict[str, float]:
        """The pixel size per axis letter, for the axes that have one."""
        return dict(self.scale)

    def size(self, letter: str) -> float | None:
        """The pixel size along axis ``letter``, or None where it is not known."""
        return self.sizes.get(letter.upper())

    @property
    def is_calibrated(self) -> bool:
        """True when at least one spatial axis has a physical size."""
        return self.unit is not None and any(a in SPATIAL_LETTERS for a, _ in self.scale)

    def layer_scale(self) -> tuple[float, ...]:
        """The size of a pixel along every axis, 1.0 where none is known (napari's ``scale``)."""
        sizes = self.sizes
        return tuple(sizes.get(a, 1.0) for a in self.axes)

    def for_axes(self, axes: str) -> Calibration:
        """The calibration of an array with other axes (a result, a relabelled image): sizes follow the letters."""
        return Calibration(axes, self.scale, self.unit, self.time_unit)

    def with_voxel_size(self, voxel_size: Sequence[float], unit: str = "um") -> Calibration:
        """A copy whose spatial pixel size is ``voxel_size``: ``(Y, X)`` or ``(Z, Y, X)``, in ``unit``.

        Raises
        ------
        ValueError
            For a count other than 2 or 3, a non-positive size, or 3 sizes for an image without a Z axis.

        """
        sizes = list(voxel_size)
        if len(sizes) not in (2, 3):
            raise ValueError(f"a voxel size needs 2 (Y X) or 3 (Z Y X) values, got {len(sizes)}: {sizes}")
        letters = SPATIAL_LETTERS[-len(sizes):]
        missing = [a for a in letters if a not in self.axes]
        if missing:
            raise ValueError(f"voxel size {' '.join(f'{s:g}' for s in sizes)} gives {len(sizes)} values "
                             f"({' '.join(letters)}) but the image has no {'/'.join(missing)} axis (axes "
                             f"{self.axes}): give {len(sizes) - len(missing)} values")
        new = {a: _positive(f"voxel size along {a}", s) for a, s in zip(letters, sizes)}
        unit = canonical_unit(unit)
        kept = {}
        for letter, value in self.scale:
            if letter == "T":
                kept[letter] = value
            elif letter not in new and self.unit is not None and unit is not None:
                kept[letter] = convert_length(value, self.unit, unit)
        return Calibration(self.axes, {**kept, **new}, unit, self.time_unit)

    def describe(self) -> str:
        """A short text like ``'Z 1.5 x Y 0.25 x X 0.25 um'`` (or ``'uncalibrated'``)."""
        spatial = [(a, v) for a, v in self.scale if a in SPATIAL_LETTERS]
        if not spatial:
            return "uncalibrated"
        return " x ".join(f"{a} {v:g}" for a, v in spatial) + f" {self.unit or 'px'}"


def read_calibration(tif: tifffile.TiffFile, axes: str) -> Calibration:
    """The calibration stored in an open TIFF for its first series with axis letters ``axes``.

    OME-XML wins over the ImageJ description, which wins over the metadata this package writes into
    non-ImageJ TIFFs, which wins over plain resolution tags in centimetres or millimetres. Pixel sizes in
    inches (usually a screen or print resolution, not a microscope's) are ignored. Metadata that cannot be
    understood is ignored too: the image then reads as uncalibrated.
    """
    readers = []
    if tif.is_ome:
        readers.append(_from_ome)
    if tif.is_imagej:
        readers.append(_from_imagej)
    if tif.is_shaped:
        readers.append(_from_shaped)
    readers.append(_from_resolution_tags)
    for reader in readers:
        try:
            found = reader(tif, axes)
        except (ValueError, TypeError, KeyError, ZeroDivisionError, ElementTree.ParseError):
            found = None
        if found is not None:
            return found
    return Calibration.uncalibrated(axes)


def _known_unit(unit: Any, units: Mapping[str, float]) -> str | None:
    """The canonical name of ``unit`` when it is one of ``units``, else None (unknown units are ignored)."""
    try:
        name = canonical_unit(unit)
    except ValueError:
        return None
    return name if name in units else None


def _pixel_size_from_resolution(tif: tifffile.TiffFile) -> tuple[float, float] | None:
    """(Y, X) pixel size in resolution units, from the first page's resolution tags (None where missing)."""
    page = tif.pages[0]
    if "XResolution" not in page.tags or "YResolution" not in page.tags:
        return None
    x_res, y_res = page.get_resolution()
    if not (x_res > 0 and y_res > 0 and math.isfinite(x_res) and math.isfinite(y_res)):
        return None
    return _significant(1.0 / y_res), _significant(1.0 / x_res)


def _significant(value: float, digits: int = 10) -> float:
    """``value`` to ``digits`` significant digits: TIFF resolutions are fractions, 0.65 comes back as 0.6499999..."""
    return float(f"{value:.{digits}g}")


def _from_imagej(tif: tifffile.TiffFile, axes: str) -> Calibration | None:
    meta = tif.imagej_metadata or {}
    unit = _known_unit(meta.get("unit"), LENGTH_UNITS)
    sizes: dict[str, float] = {}
    pixel = _pixel_size_from_resolution(tif)
    if unit is not None:  # without a length unit (pixels, or inches of a print resolution) sizes mean nothing
        if pixel is not None:
            sizes["Y"], sizes["X"] = pixel
        if is_number(meta.get("spacing")) and meta["spacing"] > 0:
            sizes["Z"] = float(meta["spacing"])
    time_unit = None
    if is_number(meta.get("finterval")) and meta["finterval"] > 0:
        time_unit = _known_unit(meta.get("tunit", "s"), TIME_UNITS)
        if time_unit is not None:
            sizes["T"] = float(meta["finterval"])
    return Calibration(axes, sizes, unit, time_unit)


def _from_ome(tif: tifffile.TiffFile, axes: str) -> Calibration | None:
    root = ElementTree.fromstring(tif.ome_metadata)
    pixels = next((e for e in root.iter() if e.tag.rsplit("}", 1)[-1] == "Pixels"), None)
    if pixels is None:
        return None
    found: dict[str, tuple[float, str]] = {}
    for letter in "XYZ":
        value = pixels.get(f"PhysicalSize{letter}")
        if value is not None and float(value) > 0:
            letter_unit = _known_unit(pixels.get(f"PhysicalSize{letter}Unit", "µm"), LENGTH_UNITS)
            if letter_unit is not None:
                found[letter] = (float(value), letter_unit)
    unit = found["X"][1] if "X" in found else next((u for _, u in found.values()), None)
    sizes = {a: convert_length(v, u, unit) for a, (v, u) in found.items()}
    time_unit = None
    increment = pixels.get("TimeIncrement")
    if increment is not None and float(increment) > 0:
        time_unit = _known_unit(pixels.get("TimeIncrementUnit", "s"), TIME_UNITS)
        if time_unit is not None:
            sizes["T"] = float(increment)
    return Calibration(axes, sizes, unit, time_unit)


def _from_shaped(tif: tifffile.TiffFile, axes: str) -> Calibration | None:
    meta = (tif.shaped_metadata or ({},))[0]
    if not isinstance(meta.get("scale"), Mapping):
        return None
    return Calibration(axes, meta["scale"], meta.get("unit"), meta.get("time_unit"))


def _from_resolution_tags(tif: tifffile.TiffFile, axes: str) -> Calibration | None:
    page = tif.pages[0]
    resolution_unit = page.tags.valueof("ResolutionUnit", default=tifffile.RESUNIT.INCH)
    unit = {tifffile.RESUNIT.CENTIMETER: "cm", 4: "mm", 5: "um"}.get(resolution_unit)
    pixel = _pixel_size_from_resolution(tif)
    if unit is None or pixel is None:
        return None
    return Calibration(axes, {"Y": convert_length(pixel[0], unit, "um"), "X": convert_length(pixel[1], unit, "um")},
                       "um")


def imagej_calibration_arguments(calibration: Calibration) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``tifffile.imwrite`` arguments (``resolution``...) and ImageJ metadata entries of a calibration."""
    sizes = calibration.sizes
    kwargs: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    if "X" in sizes or "Y" in sizes:
        kwargs["resolution"] = (1.0 / sizes.get("X", 1.0), 1.0 / sizes.get("Y", 1.0))
    if calibration.unit is not None and any(a in sizes for a in SPATIAL_LETTERS):
        metadata["unit"] = calibration.unit
    if "Z" in sizes:
        metadata["spacing"] = sizes["Z"]
    if "T" in sizes:
        metadata["finterval"] = sizes["T"]
        metadata["tunit"] = {"s": "sec"}.get(calibration.time_unit or "s", calibration.time_unit)
    return kwargs, metadata


def shaped_calibration_arguments(calibration: Calibration) -> tuple[dict[str, Any], dict[str, Any]]:
    """The same for a non-ImageJ TIFF: resolution tags in centimetres and the sizes in tifffile's JSON metadata."""
    sizes = calibration.sizes
    kwargs: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    if not sizes:
        return kwargs, metadata
    metadata.update(scale=sizes, unit=calibration.unit, time_unit=calibration.time_unit)
    if calibration.unit is not None and ("X" in sizes or "Y" in sizes):
        to_cm = LENGTH_UNITS[calibration.unit] / LENGTH_UNITS["cm"]
        kwargs["resolution"] = (1.0 / (sizes.get("X", 1.0) * to_cm), 1.0 / (sizes.get("Y", 1.0) * to_cm))
        kwargs["resolutionunit"] = tifffile.RESUNIT.CENTIMETER
    return kwargs, metadata
