import pytest
import torch

from napari_tiled_unet import UNet, UNetConfig


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
