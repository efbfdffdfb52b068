import threading

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from unet_helpers import make_net, one_pass_reference

from napari_tiled_unet import Cancelled, UNet, UNetConfig, predict_tiled
from napari_tiled_unet.predict import plan_tiles, predict_with_layout
from napari_tiled_unet.prediction_request import PredictionRequest
from napari_tiled_unet.tiling import AxisLayout, TileLayout, tile_context

TOL = dict(rtol=1e-4, atol=1e-4)


class CropNet(UNet):
    """A fake net of known answer: every class channel is the input shifted by the margin."""

    def forward(self, x):
        self.check_input(tuple(x.shape))
        m = self.config.margin
        inner = x[(slice(None), slice(0, 1)) + tuple(slice(m, s - m) for s in x.shape[2:])]
        return inner.repeat(1, self.config.n_classes, *([1] * self.config.dims)) + torch.arange(
            self.config.n_classes, dtype=x.dtype
        ).view(1, -1, *([1] * self.config.dims))


NET_2D = {
    "upconv": make_net(depth=4, wf=1),
    "upsample": make_net(depth=4, wf=1, up_mode="upsample"),
    "bn": make_net(depth=3, wf=1, batch_norm=True),
}


@given(
    kind=st.sampled_from(sorted(NET_2D)),
    height=st.integers(1, 150),
    width=st.integers(1, 150),
    tile=st.one_of(st.none(), st.integers(1, 260)),
    batch=st.integers(1, 3),
)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_tiled_equals_one_pass_2d(kind, height, width, tile, batch):
    net = NET_2D[kind]
    image = np.random.default_rng(height * 1000 + width).normal(size=(height, width)).astype(np.float32)
    result = predict_tiled(net, image, tile_shape=tile, batch_size=batch)
    assert result.shape == (2, height, width) and result.dtype == np.float32
    np.testing.assert_allclose(result, one_pass_reference(net, image), **TOL)


@pytest.mark.parametrize("shape", [(7, 13, 29), (17, 40, 23), (1, 1, 1)])
@pytest.mark.parametrize("batch_norm", [False, True])
def test_tiled_equals_one_pass_3d(shape, batch_norm):
    net = make_net(dims=3, depth=3, wf=1, batch_norm=batch_norm)
    image = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    result = predict_tiled(net, image, tile_shape=(52, 60, 68))
    np.testing.assert_allclose(result, one_pass_reference(net, image), **TOL)


def test_multichannel_prime_sized_image():
    net = make_net(depth=3, wf=1, in_channels=3, n_classes=4)
    image = np.random.default_rng(0).random((3, 97, 131)).astype(np.float32)
    result = predict_tiled(net, image, tile_shape=72)
    assert result.shape == (4, 97, 131)
    np.testing.assert_allclose(result, one_pass_reference(net, image), **TOL)


def test_integer_image_is_cast_to_float():
    net = NET_2D["upconv"]
    image = np.random.default_rng(0).integers(0, 4000, size=(60, 70)).astype(np.uint16)
    np.testing.assert_allclose(
        predict_tiled(net, image, tile_shape=140), one_pass_reference(net, image.astype(np.float32)), rtol=1e-4,
        atol=1e-3
    )


def test_misaligned_tiling_is_not_exact():
    """Tiles whose outputs just abut (step = output size = 4 mod 8) break pooling alignment at depth 4.

    This is the control that proves the exactness test can fail.
    """
    net = make_net(depth=4, wf=2)
    image = np.random.default_rng(3).normal(size=(300, 300)).astype(np.float32)
    reference = one_pass_reference(net, image)
    cfg = net.config
    tile = 140
    out = cfg.output_size(tile)  # 52, not a multiple of 8
    assert out % cfg.alignment != 0
    bad_axis = AxisLayout(size=300, tile=tile, context=cfg.margin, crop=0, step=out)
    bad = predict_with_layout(net, image[None], TileLayout((bad_axis, bad_axis)), PredictionRequest(batch_size=4))
    assert np.abs(bad - reference).max() > 0.1 * reference.std()
    good, batch = plan_tiles(net, image.shape, tile)
    np.testing.assert_allclose(predict_with_layout(net, image[None], good, PredictionRequest(batch_size=batch)),
                               reference, **TOL)


@pytest.mark.parametrize("config", [
    dict(depth=4), dict(depth=4, up_mode="upsample"), dict(depth=2, dims=3), dict(depth=3, padding="same"),
])
def test_full_coverage_with_fake_net_of_known_answer(config):
    cfg = UNetConfig(wf=0, n_classes=2, **config)
    net = CropNet(cfg).eval()
    shape = (23, 37, 41) if cfg.dims == 3 else (211, 97)
    image = np.random.default_rng(0).random(shape).astype(np.float32)
    tiles = (40,) * cfg.dims if cfg.dims == 3 else (100, 120)
    result = predict_tiled(net, image, tile_shape=tiles, batch_size=2)
    np.testing.assert_array_equal(result[0], image)
    np.testing.assert_array_equal(result[1], image + 1)


def test_same_padding_has_no_visible_seams():
    net = make_net(depth=3, wf=2, padding="same")
    yy, xx = np.mgrid[0:256, 0:256]
    image = (np.sin(xx / 9.0) * np.cos(yy / 13.0)).astype(np.float32)
    tiled = predict_tiled(net, image, tile_shape=96)
    context = tile_context(net.config)
    canvas = np.pad(image, context, mode="reflect")
    with torch.inference_mode():
        whole = net(torch.from_numpy(canvas)[None, None])[0].numpy()[:, context:-context, context:-context]
    # small differences (the receptive field is wider than the halo), far below the signal
    assert np.abs(tiled - whole).max() < 0.1 * whole.std()
    # no step in the output where tiles meet: the jump across a tile edge is like any other column jump
    layout, _ = plan_tiles(net, image.shape, 96)
    step = layout.axes[1].step
    jumps = np.abs(np.diff(tiled[0], axis=1)).mean(axis=0)
    assert jumps[step - 1] < 3 * np.median(jumps)


def test_progress_is_reported_per_tile_and_cancel_stops():
    net = NET_2D["upconv"]
    image = np.zeros((300, 300), np.float32)
    calls = []
    predict_tiled(net, image, tile_shape=140, batch_size=2, progress=lambda d, t: calls.append((d, t)))
    total = calls[-1][1]
    assert [c[0] for c in calls] == list(range(1, total + 1))
    event = threading.Event()

    def cancel_after_first(done, total):
        event.set()

    with pytest.raises(Cancelled, match="after 2 of"):
        predict_tiled(net, image, tile_shape=140, batch_size=2, progress=cancel_after_first, cancel=event)
    with pytest.raises(Cancelled):
        predict_tiled(net, image, tile_shape=140, cancel=lambda: True)


def test_refuses_train_mode_nan_and_wrong_channels():
    net = make_net(depth=3, wf=1)
    with pytest.raises(ValueError, match=r"net\.eval\(\)"):
        predict_tiled(net.train(), np.zeros((50, 50)))
    net.eval()
    bad = np.zeros((50, 50), np.float32)
    bad[3, 4] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        predict_tiled(net, bad)
    with pytest.raises(ValueError, match="expects 1"):
        predict_tiled(net, np.zeros((3, 50, 50)))
    with pytest.raises(ValueError, match="does not fit a 2D model"):
        predict_tiled(net, np.zeros((2, 3, 50, 50)))
    with pytest.raises(ValueError, match="positive"):
        predict_tiled(net, np.zeros((50, 50)), tile_shape=0)


def test_inference_mode_is_entered_in_worker_thread():
    net = NET_2D["upconv"]
    image = np.random.default_rng(0).random((64, 64)).astype(np.float32)
    results = {}

    def worker():
        results["out"] = predict_tiled(net, image)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert results["out"].flags.writeable is not False
    np.testing.assert_allclose(results["out"], one_pass_reference(net, image), **TOL)


def test_automatic_tile_fits_small_and_large_images():
    net = NET_2D["upconv"]
    layout, batch = plan_tiles(net, (20, 20))
    assert layout.n_tiles == 1 and batch == 1
    layout, batch = plan_tiles(net, (5000, 5000))
    assert layout.n_tiles > 1 and net.config.is_valid_size(layout.tile_shape[0])


def test_out_of_memory_halves_batch_then_tile_and_retries(monkeypatch):
    """The CUDA out-of-memory path, simulated: tiles above 100 px fail like a full GPU would."""
    import napari_tiled_unet.tile_engine as predict_module

    net = NET_2D["upconv"]
    image = np.random.default_rng(0).random((500, 500)).astype(np.float32)
    real = predict_module._launch
    seen = []

    def flaky(net_, batch, device, amp):
        seen.append(batch.shape)
        if batch.shape[0] > 1 or batch.shape[-1] > 200:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (simulated)")
        return real(net_, batch, device, amp)

    monkeypatch.setattr(predict_module, "_launch", flaky)
    result = predict_tiled(net, image, tile_shape=396, batch_size=2)
    assert seen[0][0] == 2 and seen[-1][0] == 1 and seen[-1][-1] <= 200
    np.testing.assert_allclose(result, one_pass_reference(net, image), **TOL)


def test_out_of_memory_at_the_smallest_tile_is_reported(monkeypatch):
    import napari_tiled_unet.tile_engine as predict_module

    def always(net_, batch, device, amp):
        raise torch.OutOfMemoryError("CUDA out of memory (simulated)")

    monkeypatch.setattr(predict_module, "_launch", always)
    with pytest.raises(torch.OutOfMemoryError, match="smallest useful tile"):
        predict_tiled(NET_2D["upconv"], np.zeros((300, 300), np.float32))


def test_cpu_prediction_runs_in_channels_last():
    net = make_net(depth=3, wf=1)
    predict_tiled(net, np.zeros((50, 50), np.float32))
    weight = net.down_path[1].block[2].weight
    assert weight.is_contiguous(memory_format=torch.channels_last) and not weight.is_contiguous()
