"""The self-contained architecture shipped in packages: same parameters and bit-identical logits as UNet."""

import ast
import importlib.util
import warnings
from pathlib import Path

import pytest
import torch
from unet_helpers import ANISO_3D, make_net

from napari_tiled_unet.bioimageio import standalone_unet
from napari_tiled_unet.bioimageio.standalone_unet import StandaloneUNet

CONFIGS = [
    {"depth": 3, "wf": 2},
    {"depth": 4, "wf": 1, "batch_norm": True, "up_mode": "upsample"},
    {"depth": 2, "wf": 1, "dims": 3, "batch_norm": True},
    {"depth": 3, "wf": 1, "padding": "same", "in_channels": 2, "n_classes": 3, "dropout": 0.5},
    {**ANISO_3D, "wf": 1},
    {**ANISO_3D, "wf": 1, "batch_norm": True, "up_mode": "upsample"},
    {**ANISO_3D, "wf": 1, "padding": "same"},
    {"depth": 3, "wf": 1, "pooling": ((1, 2), (2, 1)), "kernels": ((3, 1), (1, 3), (3, 3))},
]


def _pair(config):
    net = make_net(**config)
    twin = StandaloneUNet(**net.config.to_dict(), final_activation="none")
    twin.load_state_dict(net.state_dict(), strict=True)
    return net, twin.eval()


def _input(net, extra_steps=2, batch=2):
    cfg = net.config
    shape = [low + extra_steps * step for low, step in zip(cfg.min_input_sizes, cfg.alignments)]
    return torch.randn(batch, cfg.in_channels, *shape, generator=torch.Generator().manual_seed(0))


def _name(config):
    return "-".join(f"{k}{v}" for k, v in config.items()).replace(" ", "")


@pytest.mark.parametrize("config", CONFIGS, ids=_name)
def test_same_state_dict_gives_bit_identical_logits(config):
    net, twin = _pair(config)
    assert list(twin.state_dict()) == list(net.state_dict())
    x = _input(net)
    with torch.inference_mode():
        assert torch.equal(twin(x), net(x))


@pytest.mark.parametrize("config", [CONFIGS[1], CONFIGS[5]], ids=["upsample", "anisotropic-upsample"])
def test_torchscript_crop_and_activation(config):
    net, _ = _pair(config)
    crops = net.config.upsample_halos
    crop = crops[0] if len(set(crops)) == 1 else list(crops)
    exported = StandaloneUNet(**net.config.to_dict(), output_crop=crop, final_activation="softmax").eval()
    exported.load_state_dict(net.state_dict())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.script(exported)
    x = _input(net)
    with torch.inference_mode():
        logits = net(x)
        logits = logits[(..., *(slice(c, logits.shape[2 + a] - c) for a, c in enumerate(crops)))]
        assert all(c > 0 for c in crops)
        expected = torch.softmax(logits, dim=1)
        torch.testing.assert_close(exported(x), expected, rtol=0, atol=1e-6)
        torch.testing.assert_close(scripted(x), expected, rtol=0, atol=1e-6)


def test_invalid_size_is_refused_with_the_step():
    _, twin = _pair(CONFIGS[0])
    with pytest.raises(ValueError, match="multiple of 4"):
        twin(torch.zeros(1, 1, 45, 45))
    _, aniso = _pair(CONFIGS[4])
    aniso(torch.zeros(1, 1, 18, 44, 44))
    with pytest.raises(ValueError, match=r"input size 19 on axis 2 is not valid: .* multiple of 2"):
        aniso(torch.zeros(1, 1, 19, 44, 44))


def test_file_is_self_contained_and_importable_alone(tmp_path):
    source = Path(standalone_unet.__file__).read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported <= {"torch"}, imported
    copy = tmp_path / "unet_architecture.py"
    copy.write_text(source)
    spec = importlib.util.spec_from_file_location("unet_architecture_copy", copy)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    net, _ = _pair(CONFIGS[0])
    twin = module.StandaloneUNet(**net.config.to_dict(), final_activation="none").eval()
    twin.load_state_dict(net.state_dict())
    x = _input(net, batch=1)
    with torch.inference_mode():
        assert torch.equal(twin(x), net(x))
