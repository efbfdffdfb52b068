"""Device selection (CUDA, then Apple MPS, then CPU) and the memory a computation may use there."""

from __future__ import annotations

import os

import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")

_CPU_SHARE = 0.25
_CPU_CAP = 4 * 1024**3
_GPU_SHARE = 0.6


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """Turn a device name into a :class:`torch.device`, checking that it exists.

    Parameters
    ----------
    device : str, torch.device or None
        "auto" (or None) picks CUDA, then Apple MPS, then the CPU. "cuda:1" style names are accepted.

    Raises
    ------
    ValueError
        If the device is unknown or not available on this machine.

    """
    if isinstance(device, torch.device):
        device = str(device)
    name = (device or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    kind = name.split(":")[0]
    if kind not in DEVICE_CHOICES:
        raise ValueError(f"device {device!r} is unknown: use one of {', '.join(DEVICE_CHOICES)} (or cuda:N)")
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} is not available (no CUDA GPU or a CPU-only torch): use 'cpu' or 'auto'")
    if kind == "mps" and not _mps_available():
        raise ValueError(f"device {device!r} is not available (no Apple GPU): use 'cpu' or 'auto'")
    try:
        resolved = torch.device(name)
    except RuntimeError as err:
        raise ValueError(f"device {device!r} is not a valid device name: use e.g. 'cuda:0' ({err})") from None
    if resolved.type == "cuda" and resolved.index is not None and resolved.index >= torch.cuda.device_count():
        raise ValueError(
            f"device {device!r} does not exist: this machine has {torch.cuda.device_count()} CUDA device(s)"
        )
    return resolved


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def device_of(net: torch.nn.Module) -> torch.device:
    """The device holding a module's weights (the CPU for a module without any)."""
    param = next(net.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def available_ram_bytes() -> int:
    """Memory the operating system reports as available, or a conservative guess if it cannot be read."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 8 * 1024**3


def memory_budget_bytes(device: torch.device) -> int:
    """Bytes that one prediction batch may use on ``device``.

    GPU: a share of the free memory. CPU: a quarter of the available RAM, capped at 4 GiB (larger tiles do
    not run faster per pixel on a CPU and leave the viewer short of memory).
    """
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free * _GPU_SHARE)
    if device.type == "mps":
        return int(min(available_ram_bytes() * _CPU_SHARE * 2, 8 * 1024**3))
    return int(min(available_ram_bytes() * _CPU_SHARE, _CPU_CAP))
