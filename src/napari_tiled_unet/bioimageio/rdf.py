"""The bioimage.io model description (``rdf.yaml``, format 0.5) of an exported napari-tiled-unet model.

Pure data: :func:`build_rdf` maps a model, its metadata and the package's files to the description's fields;
no bioimage.io library is needed to write it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from napari_tiled_unet._version import __version__
from napari_tiled_unet.bioimageio.export_geometry import ExportGeometry
from napari_tiled_unet.model import UNet
from napari_tiled_unet.normalization import EPS, PercentileNormalization

#: bioimage.io model format written. Newer bioimage.io libraries read any 0.5.x and update it.
FORMAT_VERSION = "0.5.4"
INPUT_ID = "raw"
OUTPUT_ID = "probabilities"
ARCHITECTURE_CALLABLE = "StandaloneUNet"

#: File names inside the package.
FILES = {
    "architecture": "unet_architecture.py",
    "state_dict": "weights_state_dict.pt",
    "torchscript": "weights_torchscript.pt",
    "test_input": "test_input.npy",
    "test_output": "test_output.npy",
    "sample_input": "sample_input.tif",
    "sample_output": "sample_output.tif",
    "cover": "cover.png",
    "documentation": "README.md",
}

_GITHUB_AUTHOR = re.compile(r"^(.+?)\s*\(@([A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)\)$")

UNET_CITATION = {
    "text": "Ronneberger, O., Fischer, P., Brox, T. U-Net: Convolutional Networks for Biomedical Image "
            "Segmentation. MICCAI 2015, LNCS 9351, 234-241.",
    "doi": "10.1007/978-3-319-24574-4_28",
    "url": "https://arxiv.org/abs/1505.04597",
}


@dataclass(frozen=True)
class PackageInfo:
    """What the user says about the model: name, description, authors, license, tags."""

    name: str
    description: str
    authors: tuple[str, ...]  # 'Jane Doe' or 'Jane Doe (@github_user)'
    license: str
    tags: tuple[str, ...] = ()


def author_entry(text: str) -> dict[str, str]:
    """A bioimage.io author from ``'Jane Doe'`` or ``'Jane Doe (@janedoe)'`` (with a GitHub user name)."""
    match = _GITHUB_AUTHOR.match(text)
    if match is None:
        return {"name": text}
    return {"name": match.group(1), "github_user": match.group(2)}


def spatial_ids(dims: int) -> list[str]:
    """Axis ids of the spatial axes, slowest first."""
    return ["z", "y", "x"][-dims:]


def class_names(net: UNet) -> list[str]:
    """Output channel names: the model's class names when they are complete and unique, else ``class0``..."""
    count = net.config.n_classes
    given = [str(v).strip() for v in net.metadata.get("class_names") or []]
    if len(given) == count and all(given) and len(set(given)) == count:
        return given
    return [f"class{i}" for i in range(count)]


def architecture_kwargs(net: UNet, geometry: ExportGeometry) -> dict[str, Any]:
    """Keyword arguments of the standalone architecture for ``net``."""
    return {**net.config.to_dict(), "output_crop": geometry.output_crop,
            "final_activation": "softmax" if net.config.n_classes > 1 else "sigmoid"}


def _file(name: str, sha256: Mapping[str, str]) -> dict[str, str]:
    return {"source": name, "sha256": sha256[name]}


def normalized_axes(norm: PercentileNormalization, dims: int) -> list[str]:
    """The axes ``scale_range`` reduces over to state our rule: the whole image, i.e. a stack given as one batch.

    Our statistics cover every plane of the image as given (:mod:`napari_tiled_unet.normalization`); a
    bioimage.io runner that gets a stack as a batch computes the same percentiles when 'batch' is reduced too.
    """
    if norm.scope != "image":
        raise ValueError(f"normalization scope {norm.scope!r} cannot be exported: export a model normalised per image")
    return ["batch", *spatial_ids(dims)]


def _input(net: UNet, geometry: ExportGeometry, sha256: Mapping[str, str]) -> dict[str, Any]:
    cfg = net.config
    norm = PercentileNormalization.from_dict(net.metadata["normalization"])
    size = {"min": geometry.min_size, "step": geometry.step}
    axes: list[dict[str, Any]] = [
        {"type": "batch"},
        {"type": "channel", "channel_names": [f"channel{i}" for i in range(cfg.in_channels)]},
    ]
    axes += [{"type": "space", "id": a, "size": dict(size)} for a in spatial_ids(cfg.dims)]
    return {
        "id": INPUT_ID,
        "description": f"raw image, any intensity range; spatial sizes {geometry.min_size} + n*{geometry.step}",
        "axes": axes,
        "test_tensor": _file(FILES["test_input"], sha256),
        "sample_tensor": _file(FILES["sample_input"], sha256),
        "data": {"type": "float32"},
        "preprocessing": [
            {"id": "ensure_dtype", "kwargs": {"dtype": "float32"}},
            {"id": "scale_range", "kwargs": {"axes": normalized_axes(norm, cfg.dims),
                                             "min_percentile": float(norm.low), "max_percentile": float(norm.high),
                                             "eps": EPS}},
            {"id": "ensure_dtype", "kwargs": {"dtype": "float32"}},
        ],
    }


def _output(net: UNet, geometry: ExportGeometry, sha256: Mapping[str, str]) -> dict[str, Any]:
    axes: list[dict[str, Any]] = [{"type": "batch"}, {"type": "channel", "channel_names": class_names(net)}]
    for a in spatial_ids(net.config.dims):
        axis: dict[str, Any] = {"type": "space", "id": a,
                                "size": {"tensor_id": INPUT_ID, "axis_id": a, "offset": geometry.offset}}
        if geometry.halo:
            axis["halo"] = geometry.halo
        axes.append(axis)
    kind = "softmax" if net.config.n_classes > 1 else "sigmoid"
    return {
        "id": OUTPUT_ID,
        "description": f"class probabilities ({kind} inside the network), {-geometry.offset // 2} px smaller per side",
        "axes": axes,
        "test_tensor": _file(FILES["test_output"], sha256),
        "sample_tensor": _file(FILES["sample_output"], sha256),
        "data": {"type": "float32", "range": [0.0, 1.0]},
    }


def _training(summary: Mapping[str, Any]) -> dict[str, Any]:
    """bioimage.io training details from our training summary (only the fields it has)."""
    config = summary.get("config") or {}
    details: dict[str, Any] = {"optimizer": "torch.optim.AdamW"}
    if isinstance(summary.get("epochs"), (int, float)):
        details["training_epochs"] = float(summary["epochs"])
    for ours, theirs in (("batch_size", "training_batch_size"), ("learning_rate", "initial_learning_rate")):
        if isinstance(config.get(ours), (int, float)) and not isinstance(config.get(ours), bool):
            details[theirs] = float(config[ours])
    if isinstance(config.get("schedule"), str):
        details["learning_rate_schedule"] = config["schedule"]
    if isinstance(config.get("loss"), str):
        details["loss_function"] = {"ce": "weighted cross-entropy",
                                    "ce+dice": "weighted cross-entropy + soft Dice"}.get(config["loss"], config["loss"])
    if isinstance(summary.get("seconds"), (int, float)):
        details["training_duration"] = round(float(summary["seconds"]) / 3600.0, 4)
    details["training_preprocessing"] = "per-image percentile normalisation, random patches, augmentation"
    return details


def build_rdf(net: UNet, geometry: ExportGeometry, info: PackageInfo, sha256: Mapping[str, str],
              timestamp: str, attachment: str) -> dict[str, Any]:
    """The model description as a dictionary ready for :func:`~napari_tiled_unet.bioimageio.yaml_emit.dump_yaml`.

    Parameters
    ----------
    net : UNet
        The trained model (its metadata has a normalisation and a task).
    geometry : ExportGeometry
        Input and output sizes.
    info : PackageInfo
        Name, description, authors, license and tags.
    sha256 : mapping
        SHA-256 (hex) of every file of the package, by file name.
    timestamp : str
        ISO 8601 creation time.
    attachment : str
        File name of the napari-tiled-unet model file inside the package.

    """
    cfg = net.config
    meta = net.metadata
    torch_version = torch.__version__.split("+")[0]
    n_params = sum(p.numel() for p in net.parameters())
    tags = ["unet", f"{cfg.dims}d", "pytorch", "segmentation", "napari-tiled-unet",
            "instance-segmentation" if meta.get("task") == "instances" else "semantic-segmentation"]
    tags += [t for t in info.tags if t not in tags]
    return {
        "type": "model",
        "format_version": FORMAT_VERSION,
        "name": info.name,
        "description": info.description,
        "authors": [author_entry(a) for a in info.authors],
        "cite": [dict(UNET_CITATION)],
        "license": info.license,
        "tags": tags,
        "documentation": FILES["documentation"],
        "covers": [FILES["cover"]],
        "timestamp": timestamp,
        "attachments": [_file(attachment, sha256)],
        "inputs": [_input(net, geometry, sha256)],
        "outputs": [_output(net, geometry, sha256)],
        "weights": {
            "pytorch_state_dict": {
                **_file(FILES["state_dict"], sha256),
                "architecture": {**_file(FILES["architecture"], sha256), "callable": ARCHITECTURE_CALLABLE,
                                 "kwargs": architecture_kwargs(net, geometry)},
                "pytorch_version": torch_version,
            },
            "torchscript": {**_file(FILES["torchscript"], sha256), "pytorch_version": torch_version,
                            "parent": "pytorch_state_dict"},
        },
        "config": {
            "bioimageio": {
                "architecture_type": f"U-Net {cfg.dims}D ({cfg.padding})",
                "architecture_description": f"U-Net, depth {cfg.depth}, {2 ** cfg.wf} filters at the first level, "
                                            f"{cfg.padding} padding, {cfg.up_mode}"
                                            f"{', batch norm' if cfg.batch_norm else ''}",
                "task": "segmentation",
                "model_parameter_count": int(n_params),
                "training": _training(meta.get("training") or {}),
            },
            "napari_tiled_unet": {
                "package_version": __version__,
                "model_file": attachment,
                "unet": cfg.to_dict(),
                "task": meta.get("task"),
                "class_names": list(meta.get("class_names") or []),
                "label_values": list(meta.get("label_values") or []),
                "normalization": dict(meta["normalization"]),
                "margin": cfg.margin,
                "output_crop": geometry.output_crop,
                "training": meta.get("training") or {},
            },
        },
    }
