"""The documentation page (``README.md``) of an exported model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from napari_tiled_unet._version import __version__
from napari_tiled_unet.bioimageio.export_geometry import ExportGeometry
from napari_tiled_unet.bioimageio.rdf import UNET_CITATION, PackageInfo, class_names, spatial_ids
from napari_tiled_unet.model import UNet
from napari_tiled_unet.model_meta import label_values, regression_channels


def _training_lines(summary: Mapping[str, Any]) -> list[str]:
    if not summary:
        return ["No training summary was stored with this model."]
    config = summary.get("config") or {}
    rows = [
        ("epochs / steps", f"{summary.get('epochs')} / {summary.get('steps')}"),
        ("patch shape", summary.get("patch_shape")),
        ("batch size, learning rate", f"{config.get('batch_size')}, {config.get('learning_rate')}"),
        ("loss", config.get("loss")),
        ("images", summary.get("images")),
        ("training time", f"{summary.get('seconds')} s on {summary.get('device')}"),
        ("stopped by", summary.get("stopped_by")),
        ("best epoch", summary.get("best_epoch")),
    ]
    lines = ["| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows if v is not None]
    return lines


def _validation_lines(summary: Mapping[str, Any]) -> list[str]:
    metrics = summary.get("best_metrics") or {}
    lines = [
        "During training a share of every image was held back and the model scored on it after every epoch; "
        "the weights of the best epoch were kept.",
        "",
    ]
    if metrics:
        lines += ["| metric (held-back validation pixels) | value |", "|---|---|"]
        lines += [f"| {name} | {value} |" for name, value in metrics.items()]
        lines.append("")
    lines += [
        "These numbers come from the training images themselves. Before relying on the model, validate it on "
        "annotated images it has not seen: predict them (`napari-tiled-unet predict model.zip image.tif --out "
        "result.tif`) and compare with the ground truth (foreground IoU, instance F1 at IoU 0.5).",
        "",
        "The test tensors of this package were produced by napari-tiled-unet's exact overlap-tile engine; "
        "`bioimageio test` reproduces them with a single pass of the network.",
    ]
    return lines


def _per_axis(values: Sequence[Any], dims: int) -> str:
    """One value when every spatial axis has it, else ``"(z 20, y 44, x 44)"``."""
    if len(set(values)) == 1:
        return str(values[0])
    return "(" + ", ".join(f"{a} {v}" for a, v in zip(spatial_ids(dims), values)) + ")"


def readme_text(net: UNet, geometry: ExportGeometry, info: PackageInfo) -> str:
    """The Markdown documentation of the package (it has the '## Validation' section bioimage.io asks for)."""
    cfg = net.config
    meta = net.metadata
    norm = meta["normalization"]
    labels = label_values(net)
    axes = ", ".join(spatial_ids(cfg.dims))
    shrinks = [-offset // 2 for offset in geometry.offsets]
    shrink = _per_axis(shrinks, cfg.dims)
    step = _per_axis(geometry.steps, cfg.dims)
    sizes = _per_axis([f"{low} + n x {s}" for low, s in zip(geometry.min_sizes, geometry.steps)], cfg.dims)
    classes = ["| output channel | class | label value written by napari-tiled-unet |", "|---|---|---|"]
    names = class_names(net)
    classes += [f"| {i} | {n} | {labels[i] if i < len(labels) else i} |" for i, n in enumerate(names[:len(labels)])]
    classes += [f"| {len(labels) + i} | {n} (sigmoid, 1 at object centres) | - |"
                for i, n in enumerate(regression_channels(net))]
    task = ("instance segmentation: the classes are background, object interior and object boundary, and a "
            "centre distance (1 at every object's centre, low where objects touch); napari-tiled-unet separates "
            "touching objects by a seeded watershed on them" if meta.get("task") == "instances"
            else "semantic segmentation: the most probable class per pixel")
    per_axis = ""
    if cfg.pooling is not None or cfg.kernels is not None:
        per_axis = (f" Per-axis architecture for anisotropic voxels ({axes}): max-pooling factors per step "
                    + " ".join("x".join(map(str, p)) for p in cfg.pool_factors) + "; convolution kernels per level "
                    + " ".join("x".join(map(str, k)) for k in cfg.kernel_sizes) + ".")
    lines = [
        f"# {info.name}", "", info.description, "",
        "## Model", "",
        f"A {cfg.dims}D U-Net (Ronneberger et al. 2015) trained and exported with napari-tiled-unet {__version__}: "
        f"depth {cfg.depth}, {2 ** cfg.wf} filters at the first level, {cfg.padding} convolutions, "
        f"{cfg.up_mode}{', batch normalisation' if cfg.batch_norm else ''}. Task: {task}.{per_axis}", "",
        *classes, "",
        "## Input", "",
        f"Axes batch, channel ({cfg.in_channels}), {axes}; float32, any intensity range. Preprocessing (done by "
        f"the bioimage.io runtime, `scale_range`): per image and channel, the {norm['low']} percentile maps to 0 "
        f"and the {norm['high']} percentile to 1, without clipping; the planes of a stack given as one batch are "
        "normalised together (napari-tiled-unet normalises with the statistics of the whole image).", "",
        f"Valid sizes per spatial axis: {sizes}.", "",
        "## Output", "",
        f"Class probabilities ({'softmax' if cfg.n_classes > 1 else 'sigmoid'} inside the network), "
        f"{shrink} pixels smaller than the input on every side of every spatial axis"
        + (f" ({_per_axis(cfg.margins, cfg.dims)} lost by the valid convolutions, "
           f"{_per_axis(geometry.output_crops, cfg.dims)} cropped where bilinear upsampling is not exact)"
           if any(geometry.output_crops) else "") + ". "
        + (f"To segment a whole image, mirror-pad it by {shrink} pixels per side (numpy 'reflect'; a little more "
           "on the far side to reach a valid size) and crop the output to the image, or tile it with tiles that "
           f"read {shrink} pixels of context and whose origins are a multiple of {step} apart: the results "
           "then stitch exactly. napari-tiled-unet does this for you." if cfg.padding == "valid" else
           f"Same-padding network: discard {_per_axis(geometry.halos, cfg.dims)} output pixels at the inner edges "
           "of tiles."), "",
        "## Use it in napari-tiled-unet", "",
        "Open this .zip in the Predict widget, or `napari-tiled-unet predict model.zip image.tif --out labels.tif`, "
        "or `napari_tiled_unet.load_model('model.zip')`: the package holds the napari-tiled-unet model file "
        "(`.safetensors`, no pickle), with its class names and label values.", "",
        "## Training", "", *_training_lines(meta.get("training") or {}), "",
        "## Validation", "", *_validation_lines(meta.get("training") or {}), "",
        "## Citation", "", f"{UNET_CITATION['text']} doi:{UNET_CITATION['doi']}", "",
    ]
    return "\n".join(lines)
