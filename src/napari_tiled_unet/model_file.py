"""Model files: one ``.safetensors`` file holding the weights and JSON metadata. Never a pickle.

The metadata sits under the safetensors header key ``napari_tiled_unet`` as one JSON string::

    {"format": "napari-tiled-unet-model", "format_version": 1, "package_version": "...",
     "config": {...UNetConfig...}, "normalization": {...} | null, "task": "semantic" | "instances" | null,
     "class_names": [...], "label_values": [...], "sparse": false, "training": {...},
     "regression": ["centre distance"], "postprocess": {...InstanceSettings...},
     "postprocess_linked_planes": {...InstanceSettings...}, "channels": {...}, "voxel_size": [...]}

``label_values[k]`` is the label value written for output class ``k`` (so a model trained on sparse
scribbles writes 1 for background and 2.. for the classes, like its training labels).
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save as save_safetensors_bytes

from napari_tiled_unet._version import __version__
from napari_tiled_unet.atomic import atomic_write_bytes
from napari_tiled_unet.config import UNetConfig
from napari_tiled_unet.errors import ModelFileError
from napari_tiled_unet.model import UNet
from napari_tiled_unet.postprocess import InstanceSettings

FORMAT_NAME = "napari-tiled-unet-model"
FORMAT_VERSION = 2
METADATA_KEY = "napari_tiled_unet"
MODEL_SUFFIX = ".safetensors"
#: Name of the model file inside a bioimage.io package exported by napari-tiled-unet (next to its rdf.yaml).
EXPORT_ATTACHMENT = "napari_tiled_unet_model.safetensors"

# Metadata keys a model may carry besides its config, with the JSON types allowed for each.
_METADATA_TYPES: dict[str, tuple[type, ...]] = {
    "normalization": (dict, type(None)),
    "task": (str, type(None)),
    "class_names": (list,),
    "label_values": (list,),
    "sparse": (bool,),
    "training": (dict,),
    "description": (str,),
    "regression": (list,),
    "postprocess": (dict,),
    "postprocess_linked_planes": (dict,),
    "channels": (dict,),
    "voxel_size": (list,),
    "prediction": (dict,),
}
_TASKS = (None, "semantic", "instances")
_MAX_HEADER = 100 * 1024**2
_MAX_ATTACHMENT = 16 * 1024**3


def save_model(net: UNet, path: str | Path, metadata: Mapping[str, Any] | None = None) -> Path:
    """Write ``net`` and its metadata to a ``.safetensors`` file, atomically.

    Parameters
    ----------
    net : UNet
        The network. Its ``metadata`` attribute is saved, updated with ``metadata``.
    path : str or Path
        Destination; ``.safetensors`` is appended if the name has no suffix.
    metadata : mapping, optional
        Extra metadata (normalisation, task, class names, label values, training summary...).

    Returns
    -------
    Path
        The file written. It appears complete or not at all: the bytes go to a temporary file in the same
        folder that is then renamed over the destination.

    """
    if not isinstance(net, UNet):
        raise TypeError(f"save_model needs a UNet, got {type(net).__name__}")
    path = Path(path)
    if path.suffix == "":
        path = path.with_suffix(MODEL_SUFFIX)
    merged = {**net.metadata, **dict(metadata or {})}
    _check_metadata(merged, net.config, source=str(path))
    document = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "package_version": __version__,
                "config": net.config.to_dict(), **merged}
    tensors = {name: t.detach().to("cpu").contiguous() for name, t in net.state_dict().items()}
    payload = save_safetensors_bytes(tensors, metadata={METADATA_KEY: json.dumps(document)})
    atomic_write_bytes(path, payload)
    return path


def read_model_metadata(path: str | Path) -> dict[str, Any]:
    """Read and validate the metadata of a model file without building the network."""
    _, document = _read(Path(path))
    return document


def load_model(path: str | Path, device: str | torch.device = "cpu") -> UNet:
    """Load a model file written by :func:`save_model`, validating everything it reads.

    Parameters
    ----------
    path : str or Path
        A ``.safetensors`` model file, or a bioimage.io ``.zip`` package exported by napari-tiled-unet (its
        ``.safetensors`` attachment is read; nothing else in the archive is opened).
    device : str or torch.device
        Where to put the weights.

    Returns
    -------
    UNet
        The network in eval mode, with ``metadata`` set from the file.

    Raises
    ------
    ModelFileError
        If the file is missing, not a safetensors file (a pickle or a PyTorch ``.pt``/``.pth`` checkpoint is
        refused without being unpickled), truncated, foreign, or inconsistent with its own config.

    """
    path = Path(path)
    tensors, document = _read(path)
    config = UNetConfig.from_dict(document["config"])
    net = UNet(config)
    expected = net.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        raise ModelFileError(
            f"model file {path} does not match its own config (missing {missing[:3]}, unexpected {unexpected[:3]}): "
            "the file is corrupt or was edited; re-export it"
        )
    for name, tensor in tensors.items():
        if tuple(tensor.shape) != tuple(expected[name].shape) or tensor.dtype != expected[name].dtype:
            raise ModelFileError(
                f"model file {path}: tensor {name} has shape {tuple(tensor.shape)} {tensor.dtype}, expected "
                f"{tuple(expected[name].shape)} {expected[name].dtype}: the file is corrupt; re-export it"
            )
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ModelFileError(f"model file {path}: tensor {name} holds NaN or infinite weights: retrain the model")
    net.load_state_dict(tensors, strict=True)
    net.metadata = {k: v for k, v in document.items() if k in _METADATA_TYPES}
    return net.to(device).eval()


def _read(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    raw = _read_bytes(path)
    if raw[:4] == b"PK\x03\x04":
        raw = _exported_model_bytes(path, raw)
    _sniff(path, raw)
    try:
        tensors = load_safetensors_bytes(raw)
    except (SafetensorError, ValueError, RuntimeError, OSError) as err:
        raise ModelFileError(f"model file {path} is corrupt or truncated ({err}): save or download it again") from None
    header = json.loads(raw[8 : 8 + struct.unpack("<Q", raw[:8])[0]])
    text = (header.get("__metadata__") or {}).get(METADATA_KEY)
    if text is None:
        raise ModelFileError(
            f"{path} is a safetensors file but not a napari-tiled-unet model (no '{METADATA_KEY}' metadata): "
            "train or export a model with napari-tiled-unet"
        )
    try:
        document = json.loads(text)
    except json.JSONDecodeError as err:
        raise ModelFileError(f"model file {path} has unreadable metadata ({err}): the file is corrupt") from None
    _check_document(path, document)
    return tensors, document


def _exported_model_bytes(path: Path, raw: bytes) -> bytes:
    """The model file inside a bioimage.io package exported by napari-tiled-unet; other zips are returned as is.

    Only the archive's directory and the ``.safetensors`` attachment are read: nothing is unpickled, so a
    PyTorch checkpoint (also a zip, without ``rdf.yaml``) still gets the refusal of :func:`_sniff`.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            names = set(archive.namelist())
            ours = "rdf.yaml" in names and EXPORT_ATTACHMENT in names
            size = archive.getinfo(EXPORT_ATTACHMENT).file_size if ours else 0
            data = archive.read(EXPORT_ATTACHMENT) if ours and size <= _MAX_ATTACHMENT else b""
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, ValueError) as err:
        raise ModelFileError(
            f"{path} is a zip archive that cannot be read ({err}): if it is a napari-tiled-unet export, export or "
            "download it again (PyTorch .pt/.pth checkpoints are never opened, because loading pickles runs code)"
        ) from None
    if "rdf.yaml" not in names:
        return raw
    if not ours:
        raise ModelFileError(
            f"{path} is a bioimage.io model package not exported by napari-tiled-unet (it holds no "
            f"{EXPORT_ATTACHMENT}); its weights were not opened, because loading pickles runs code: use a package "
            "exported by napari-tiled-unet, or run this model with bioimage.io tools"
        )
    if size > _MAX_ATTACHMENT:
        raise ModelFileError(f"{path}: its {EXPORT_ATTACHMENT} claims {size} bytes, more than a model file can be: "
                             "the package is corrupt; export it again")
    return data


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise ModelFileError(f"model file {path} does not exist: check the path")
    if path.is_dir():
        raise ModelFileError(f"model path {path} is a folder: give a {MODEL_SUFFIX} file")
    try:
        return path.read_bytes()
    except OSError as err:
        raise ModelFileError(f"model file {path} cannot be read ({err.strerror}): check its permissions") from None


def _sniff(path: Path, raw: bytes) -> None:
    """Recognise foreign files from their first bytes, before any parser sees them.

    A safetensors file starts with its header length (8 bytes, little-endian) and the JSON header. Anything
    else is refused here; zip archives (PyTorch checkpoints) and pickles get a message of their own.
    """
    if len(raw) >= 10:
        (header_len,) = struct.unpack("<Q", raw[:8])
        if header_len <= min(_MAX_HEADER, len(raw) - 8) and raw[8:9] == b"{":
            return
    if raw[:4] == b"PK\x03\x04":
        raise ModelFileError(
            f"{path} is a zip archive (a PyTorch .pt/.pth checkpoint or another package), not a napari-tiled-unet "
            f"{MODEL_SUFFIX} model; it was not opened, because loading pickles runs code: use a model saved "
            "by napari-tiled-unet"
        )
    if raw[:1] == b"\x80" and raw[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        raise ModelFileError(
            f"{path} is a Python pickle, not a napari-tiled-unet {MODEL_SUFFIX} model; it was not unpickled, "
            "because unpickling runs code: use a model saved by napari-tiled-unet"
        )
    if len(raw) < 10:
        raise ModelFileError(f"model file {path} is empty or truncated ({len(raw)} bytes): save it again")
    raise ModelFileError(
        f"{path} is not a {MODEL_SUFFIX} model file (or it is truncated): give a model saved by napari-tiled-unet"
    )


def _check_document(path: Path, document: Any) -> None:
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{path} is not a napari-tiled-unet model (format is not '{FORMAT_NAME}')")
    version = document.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise ModelFileError(f"model file {path} has an invalid format_version {version!r}: the file is corrupt")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"model file {path} has format version {version}, newer than this napari-tiled-unet ({__version__}) "
            f"reads ({FORMAT_VERSION}): upgrade with 'pip install -U napari-tiled-unet'"
        )
    try:
        config = UNetConfig.from_dict(document.get("config"))
        metadata = {k: v for k, v in document.items() if k in _METADATA_TYPES}
        _check_metadata(metadata, config, source=str(path))
    except (ValueError, TypeError) as err:
        raise ModelFileError(f"model file {path} has invalid metadata: {err}") from None


def _check_metadata(metadata: Mapping[str, Any], config: UNetConfig, source: str) -> None:
    """Validate the metadata keys a model may carry."""
    unknown = sorted(set(metadata) - set(_METADATA_TYPES))
    if unknown:
        raise ValueError(f"unknown model metadata keys {unknown} for {source}: allowed are {sorted(_METADATA_TYPES)}")
    for key, value in metadata.items():
        if not isinstance(value, _METADATA_TYPES[key]):
            raise ValueError(f"model metadata {key}={value!r} has type {type(value).__name__}: expected "
                             f"{' or '.join(t.__name__ for t in _METADATA_TYPES[key])}")
    if metadata.get("task") not in _TASKS:
        raise ValueError(f"model task {metadata.get('task')!r} is unknown: use 'semantic' or 'instances'")
    regression = metadata.get("regression") or []
    if any(not isinstance(name, str) for name in regression) or len(regression) >= config.n_classes:
        raise ValueError(f"model metadata regression={regression!r} must name fewer channels than the model's "
                         f"{config.n_classes} outputs")
    n_classes = config.n_classes - len(regression)
    for key in ("class_names", "label_values"):
        values = metadata.get(key)
        if values is not None and values != [] and len(values) != n_classes:
            raise ValueError(f"model metadata {key} has {len(values)} entries but the model has "
                             f"{n_classes} classes")
    for key in ("postprocess", "postprocess_linked_planes"):
        if metadata.get(key) is not None:
            InstanceSettings.from_dict(metadata[key])
    values = metadata.get("label_values") or []
    if any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in values):
        raise ValueError(f"model metadata label_values={values!r} must be non-negative integers")
    json.dumps(dict(metadata), allow_nan=False, default=_reject)


def _reject(value: Any) -> Any:
    raise ValueError(f"model metadata value {value!r} is not JSON data")
