"""The devices the widgets offer: ``auto``, ``cpu`` and the accelerators of this machine."""

from __future__ import annotations

import torch


def available_devices() -> list[str]:
    """Devices offered in the widgets: ``auto``, ``cpu`` and the accelerators this machine has."""
    devices = ["auto", "cpu"]
    if torch.cuda.is_available():
        count = torch.cuda.device_count()
        devices += ["cuda"] + ([f"cuda:{i}" for i in range(count)] if count > 1 else [])
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append("mps")
    return devices
