import pytest
import torch

from napari_tiled_unet import devices
from napari_tiled_unet.devices import memory_budget_bytes, resolve_device


def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(devices, "_mps_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device(None) == torch.device("cpu")
    monkeypatch.setattr(devices, "_mps_available", lambda: True)
    assert resolve_device("auto") == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")


def test_unavailable_or_unknown_devices_are_clear_errors(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(devices, "_mps_available", lambda: False)
    with pytest.raises(ValueError, match="'cuda' is not available"):
        resolve_device("cuda")
    with pytest.raises(ValueError, match="no Apple GPU"):
        resolve_device("mps")
    with pytest.raises(ValueError, match="unknown"):
        resolve_device("tpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ValueError, match="has 1 CUDA device"):
        resolve_device("cuda:3")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


def test_memory_budget_cpu_share_and_gpu_free_memory(monkeypatch):
    monkeypatch.setattr(devices, "available_ram_bytes", lambda: 8 * 1024**3)
    assert memory_budget_bytes(torch.device("cpu")) == 2 * 1024**3
    monkeypatch.setattr(devices, "available_ram_bytes", lambda: 64 * 1024**3)
    assert memory_budget_bytes(torch.device("cpu")) == 4 * 1024**3  # capped
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (10 * 1024**3, 80 * 1024**3))
    assert memory_budget_bytes(torch.device("cuda")) == int(10 * 1024**3 * 0.6)


def test_available_ram_is_read():
    assert devices.available_ram_bytes() > 100 * 1024**2


def test_gpu_budget_gives_bigger_tiles_and_batches():
    from napari_tiled_unet import UNetConfig
    from napari_tiled_unet.tile_size import auto_batch_size, auto_tile_shape

    cfg = UNetConfig(depth=4, wf=4)
    cpu = auto_tile_shape(cfg, (8192, 8192), 4 * 1024**3, gpu=False)
    gpu = auto_tile_shape(cfg, (8192, 8192), 40 * 1024**3, gpu=True)
    assert gpu[0] > cpu[0]
    assert auto_batch_size(cfg, (508, 508), 40 * 1024**3, 100, gpu=True) > auto_batch_size(
        cfg, (508, 508), 4 * 1024**3, 100, gpu=False)
    tight = auto_tile_shape(cfg, (8192, 8192), 200 * 1024**2, gpu=False)
    assert tight[0] < cpu[0]
