"""Export a trained model as a bioimage.io model package (format 0.5), in one .zip written atomically.

The package holds the description (``rdf.yaml``), ``pytorch_state_dict`` weights with a self-contained
architecture file, TorchScript weights, test tensors made by napari-tiled-unet's tiled engine, a cover image,
a documentation page, and the napari-tiled-unet model file itself (a ``.safetensors`` attachment) so that
:func:`~napari_tiled_unet.load_model` opens the package again. No bioimage.io library is needed.
"""

from __future__ import annotations

import copy
import hashlib
import io
import re
import tempfile
import warnings
import zipfile
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
import torch

from napari_tiled_unet.atomic import atomic_path
from napari_tiled_unet.bioimageio import standalone_unet
from napari_tiled_unet.bioimageio.cover import cover_labels, cover_png
from napari_tiled_unet.bioimageio.example_tensors import TestTensors, make_test_tensors
from napari_tiled_unet.bioimageio.export_geometry import ExportGeometry, export_geometry
from napari_tiled_unet.bioimageio.rdf import FILES, PackageInfo, architecture_kwargs, build_rdf
from napari_tiled_unet.bioimageio.readme import readme_text
from napari_tiled_unet.bioimageio.yaml_emit import dump_yaml
from napari_tiled_unet.model import UNet
from napari_tiled_unet.model_file import EXPORT_ATTACHMENT, load_model, save_model

DEFAULT_LICENSE = "CC-BY-4.0"
DEFAULT_AUTHOR = "napari-tiled-unet user"
_NAME_CHARS = re.compile(r"^[A-Za-z0-9_+\- ()]{5,128}$")
_LICENSE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+\-]*$")


def _trained_copy(model: UNet | str | Path) -> UNet:
    """A CPU copy of the model in eval mode, checked to carry what training stores."""
    net = load_model(model) if isinstance(model, (str, Path)) else model
    if not isinstance(net, UNet):
        raise TypeError(f"export_bioimageio needs a UNet or a model file path, got {type(model).__name__}")
    if not net.metadata.get("normalization") or not net.metadata.get("task"):
        raise ValueError(
            "the model has no normalisation/task metadata, so it was never trained with napari-tiled-unet: "
            "train it first (napari-tiled-unet train IMAGE LABELS --out model.safetensors, or the Train widget), "
            "then export the trained model"
        )
    high = float(net.metadata["normalization"].get("high", 100.0))
    if high <= 1.0:
        raise ValueError(f"the model normalises with a high percentile of {high}: bioimage.io's scale_range needs "
                         "more than 1; retrain with a high percentile such as 99.8")
    work = copy.deepcopy(net).to("cpu").eval()
    work.metadata = copy.deepcopy(net.metadata)
    return work


def _package_info(net: UNet, name: str | None, description: str | None, authors: Sequence[str] | None,
                  license: str, tags: Sequence[str]) -> PackageInfo:
    cfg = net.config
    task = "instance" if net.metadata.get("task") == "instances" else "semantic"
    name = name if name is not None else f"napari-tiled-unet {cfg.dims}D U-Net {task} segmentation"
    if not _NAME_CHARS.match(name):
        raise ValueError(f"model name {name!r} is invalid: use 5 to 128 letters, digits, spaces, '_', '-', '+', "
                         "'(' or ')'")
    if description is None:
        images = (net.metadata.get("training") or {}).get("images")
        description = net.metadata.get("description") or (
            f"{cfg.dims}D U-Net for {task} segmentation trained with napari-tiled-unet"
            + (f" on {images} image(s)" if images else "") + "; exact overlap-tile prediction.")
    if not description.strip() or len(description) > 1024:
        raise ValueError(f"description of {len(description)} characters: give 1 to 1024 characters")
    names = tuple(str(a).strip() for a in (authors if authors is not None else [DEFAULT_AUTHOR]))
    if not names or any(not a or "/" in a or a.startswith("(@") for a in names):
        raise ValueError(f"authors {list(names)!r} are invalid: give one or more names without '/', each "
                         "optionally followed by a GitHub user name as 'Jane Doe (@janedoe)'")
    if not _LICENSE.match(license or ""):
        raise ValueError(f"license {license!r} is not an SPDX identifier: use e.g. CC-BY-4.0, MIT or BSD-3-Clause")
    return PackageInfo(name=name, description=description, authors=names, license=license,
                       tags=tuple(str(t).strip() for t in tags if str(t).strip()))


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def _tiff(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, np.ascontiguousarray(array), compression="zlib")
    return buffer.getvalue()


def _weights(net: UNet, geometry: ExportGeometry, tensors: TestTensors) -> dict[str, bytes]:
    """State-dict and TorchScript weights, checked against the test output."""
    state = {k: v.detach().to("cpu").contiguous().clone() for k, v in net.state_dict().items()}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    standalone = standalone_unet.StandaloneUNet(**architecture_kwargs(net, geometry))
    standalone.load_state_dict(state, strict=True)
    standalone.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit is deprecated but bioimage.io reads it
        scripted = torch.jit.script(standalone)
    script_buffer = io.BytesIO()
    torch.jit.save(scripted, script_buffer)
    with torch.inference_mode():
        got = scripted(torch.from_numpy(np.ascontiguousarray(tensors.normalized[None], dtype=np.float32))).numpy()
    if got.shape != tensors.expected.shape or not np.allclose(got, tensors.expected, rtol=1e-4, atol=1e-4):
        raise RuntimeError("the exported network does not reproduce napari-tiled-unet's prediction: please report "
                           "this bug with the model's configuration")
    return {FILES["state_dict"]: buffer.getvalue(), FILES["torchscript"]: script_buffer.getvalue()}


def _model_file_bytes(net: UNet) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        return save_model(net, Path(folder) / EXPORT_ATTACHMENT).read_bytes()


def export_bioimageio(
    model: UNet | str | Path,
    out_zip: str | Path,
    *,
    name: str | None = None,
    description: str | None = None,
    authors: Sequence[str] | None = None,
    license: str = DEFAULT_LICENSE,
    tags: Sequence[str] = (),
    sample_image: Any | None = None,
) -> Path:
    """Write a trained model as a bioimage.io model package (format 0.5).

    Parameters
    ----------
    model : UNet, str or Path
        A trained model, or its model file (``.safetensors`` or a package exported before).
    out_zip : str or Path
        Destination; ``.zip`` is appended when the name has no suffix.
    name : str, optional
        Model name (5-128 letters, digits, spaces, ``_-+()``). Default: from the model's dimensions and task.
    description : str, optional
        One-paragraph description (at most 1024 characters). Default: generated.
    authors : sequence of str, optional
        Author names (credit yourself here). Default: one placeholder author.
    license : str
        SPDX license identifier of the weights (default CC-BY-4.0).
    tags : sequence of str
        Extra tags (the dimensions, task and architecture are tagged anyway).
    sample_image : array-like, optional
        Image to cut the test input from, ``(C, *spatial)`` or ``(*spatial)`` for one channel; any intensity
        range. Default: the shipped nuclei sample (repeated over the channels of a multi-channel model).

    Returns
    -------
    Path
        The package written. It appears complete or not at all.

    Raises
    ------
    ValueError
        If the model is untrained, the file is missing or corrupt (:class:`~napari_tiled_unet.ModelFileError`),
        an option is invalid, or the destination cannot be written; no file is left behind.

    """
    out = Path(out_zip)
    if out.is_dir():
        raise ValueError(f"cannot write {out}: it is a folder; give a .zip file name such as {out / 'model.zip'}")
    if out.suffix == "":
        out = out.with_suffix(".zip")
    if out.suffix.lower() != ".zip":
        raise ValueError(f"output {out} must end in .zip: a bioimage.io model package is a zip archive")
    net = _trained_copy(model)
    info = _package_info(net, name, description, authors, license, tags)
    geometry = export_geometry(net.config)
    instances = net.metadata.get("task") == "instances"
    with atomic_path(out) as tmp:
        tensors = make_test_tensors(copy.deepcopy(net), geometry, sample_image)
        files = {
            FILES["architecture"]: Path(standalone_unet.__file__).read_bytes(),
            **_weights(net, geometry, tensors),
            FILES["test_input"]: _npy(tensors.raw),
            FILES["test_output"]: _npy(tensors.expected),
            FILES["sample_input"]: _tiff(tensors.raw[0]),
            FILES["sample_output"]: _tiff(tensors.expected[0]),
            FILES["cover"]: cover_png(tensors.normalized, cover_labels(tensors.expected[0], instances),
                                      net.config.dims),
            FILES["documentation"]: readme_text(net, geometry, info).encode("utf-8"),
            EXPORT_ATTACHMENT: _model_file_bytes(net),
        }
        sha256 = {file: hashlib.sha256(data).hexdigest() for file, data in files.items()}
        timestamp = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
        rdf = build_rdf(net, geometry, info, sha256, timestamp, EXPORT_ATTACHMENT)
        try:
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                archive.writestr("rdf.yaml", dump_yaml(rdf))
                for file, data in files.items():
                    archive.writestr(file, data)
        except OSError as err:
            raise ValueError(f"cannot write {out}: {err.strerror or err}; choose another folder") from None
    return out
