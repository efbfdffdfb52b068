import hashlib

import pytest
import torch

from napari_tiled_unet import UNet, UNetConfig, load_model, save_model


def n_params(net):
    return sum(p.numel() for p in net.parameters())


def test_original_network_parameter_count_and_shape():
    net = UNet(UNetConfig(in_channels=1, n_classes=2, depth=5, wf=6, padding="valid", up_mode="upconv"))
    assert n_params(net) == 31_030_658
    convs = [m for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    assert len(convs) == 23
    with torch.inference_mode():
        assert net.eval()(torch.zeros(1, 1, 572, 572)).shape == (1, 2, 388, 388)


def test_variants_parameter_counts():
    assert n_params(UNet(UNetConfig(depth=5, wf=6, up_mode="upsample"))) == 28_941_698
    assert n_params(UNet(UNetConfig(depth=5, wf=6, batch_norm=True))) == 31_042_434


def test_3d_valid_shape():
    net = UNet(UNetConfig(dims=3, depth=4, wf=1)).eval()
    with torch.inference_mode():
        assert net(torch.zeros(1, 1, 116, 132, 132)).shape == (1, 2, 28, 44, 44)


@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("up_mode", ["upconv", "upsample"])
def test_same_padding_keeps_shape(dims, up_mode):
    net = UNet(UNetConfig(dims=dims, depth=3, wf=1, padding="same", up_mode=up_mode, batch_norm=True)).eval()
    shape = (1, 1) + ((16, 24, 32) if dims == 3 else (40, 64))
    with torch.inference_mode():
        assert net(torch.zeros(shape)).shape[2:] == shape[2:]


def test_invalid_spatial_size_raises_with_nearest_sizes():
    net = UNet(UNetConfig(depth=4, wf=1))
    with pytest.raises(ValueError, match="use 204 or 212"):
        net(torch.zeros(1, 1, 206, 204))


def test_wrong_channels_and_axes_raise():
    net = UNet(UNetConfig(depth=3, wf=1, in_channels=2))
    with pytest.raises(ValueError, match="expects 2"):
        net(torch.zeros(1, 1, 124, 124))
    with pytest.raises(ValueError, match="has 3 axes"):
        net(torch.zeros(2, 124, 124))


def test_dropout_at_bottleneck_active_only_in_training():
    net = UNet(UNetConfig(depth=3, wf=1, dropout=0.5))
    assert isinstance(net.dropout, torch.nn.Dropout)
    x = torch.rand(1, 1, 124, 124)
    net.eval()
    with torch.inference_mode():
        assert torch.equal(net(x), net(x))


def test_rejects_non_config():
    with pytest.raises(TypeError):
        UNet({"depth": 3})  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- per axis
ANISO = dict(dims=3, depth=3, wf=1, pooling=((1, 2, 2), (2, 2, 2)), kernels=((1, 3, 3), (3, 3, 3), (3, 3, 3)))


def _fingerprint(net):
    text = "\n".join(f"{k}:{tuple(v.shape)}" for k, v in net.state_dict().items())
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def test_isotropic_state_dict_is_unchanged_by_per_axis_support():
    # names and shapes of every tensor, pinned from the module before pooling/kernels existed
    assert _fingerprint(UNet(UNetConfig(depth=5, wf=6))) == "81610d5c07106486"
    assert _fingerprint(UNet(UNetConfig(depth=5, wf=6, up_mode="upsample"))) == "65d959f66bc8c137"
    assert _fingerprint(UNet(UNetConfig(depth=5, wf=6, batch_norm=True))) == "f08a24db1ad6ed2b"


def test_anisotropic_layers_have_per_axis_kernels_pooling_and_upsampling():
    net = UNet(UNetConfig(**ANISO))
    assert net.down_path[0].block[0].kernel_size == (1, 3, 3) and net.down_path[1].block[0].kernel_size == (3, 3, 3)
    assert [p.kernel_size for p in net.pools] == [(1, 2, 2), 2]
    first_up = net.up_path[-1].up  # level 0: undoes the first pooling step
    assert first_up.kernel_size == (1, 2, 2) and first_up.stride == (1, 2, 2)
    assert net.up_path[0].up.kernel_size == (2, 2, 2)
    assert net.up_path[-1].conv_block.block[0].kernel_size == (1, 3, 3)
    bilinear = UNet(UNetConfig(**ANISO, up_mode="upsample")).up_path[-1].up[0]
    assert bilinear.scale_factor == (1.0, 2.0, 2.0)
    same = UNet(UNetConfig(**ANISO, padding="same")).down_path[0].block[0]
    assert same.padding == (0, 1, 1)


def test_anisotropic_parameter_count():
    iso = sum(p.numel() for p in UNet(UNetConfig(dims=3, depth=3, wf=1)).parameters())
    aniso = sum(p.numel() for p in UNet(UNetConfig(**ANISO)).parameters())
    # level 0 (down and up): 4 convolutions of 1x3x3 instead of 3x3x3; the first up-conv is 1x2x2, not 2x2x2
    conv_weights = (1 * 2 + 2 * 2 + 4 * 2 + 2 * 2) * (27 - 9)
    upconv_weights = 4 * 2 * (8 - 4)
    assert iso - aniso == conv_weights + upconv_weights


@pytest.mark.parametrize("options", [{}, {"up_mode": "upsample", "batch_norm": True}, {"padding": "same"}])
def test_anisotropic_output_shape(options):
    net = UNet(UNetConfig(**ANISO, **options)).eval()
    shape = (20, 48, 52) if net.config.padding == "valid" else (6, 16, 20)
    with torch.inference_mode():
        assert tuple(net(torch.zeros(1, 1, *shape)).shape[2:]) == net.config.output_shape(shape)
    with pytest.raises(ValueError, match="on axis Z"):
        net(torch.zeros(1, 1, shape[0] + 1, *shape[1:]))


def test_anisotropic_model_file_round_trip(tmp_path):
    net = UNet(UNetConfig(**ANISO)).eval()
    loaded = load_model(save_model(net, tmp_path / "aniso.safetensors"))
    assert loaded.config == net.config and not loaded.config.isotropic
    x = torch.rand(1, 1, 20, 48, 48)
    with torch.inference_mode():
        assert torch.equal(loaded(x), net(x))
