"""The device a run computes on and, with a GPU, its memory and utilisation (what ``nvidia-smi --query-gpu=
memory.used,memory.free,memory.total,utilization.gpu`` shows), read with ``torch.cuda`` (utilisation through NVML
when the ``nvidia-ml-py`` package is installed). A plain warning when memory is near the limit.

>>> device_status(torch.device("cpu")).text()
'cpu (2 threads)'
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import torch

from core.device import describe_device, pick_device

NEAR_LIMIT = 0.9  # warn when 90% of the GPU's memory is in use
SAMPLE_EVERY = 5.0  # seconds between samples logged by a running job (like nvidia-smi -l 5)


@dataclass
class DeviceStatus:
    """One reading of a device."""

    device: str  # 'cuda:0', 'cpu', 'mps'
    name: str  # 'cuda (NVIDIA H200)', 'cpu (2 threads)'
    used_bytes: int | None = None  # GPU memory in use on the device (all processes), None off the GPU
    free_bytes: int | None = None
    total_bytes: int | None = None
    utilisation: float | None = None  # percent of the last sample period a kernel ran (NVML), None if unknown

    @property
    def used_fraction(self) -> float | None:
        return self.used_bytes / self.total_bytes if self.total_bytes else None

    def warning(self) -> str | None:
        """A plain sentence when memory is near the limit, else None."""
        frac = self.used_fraction
        if frac is None or frac < NEAR_LIMIT:
            return None
        return (f"{self.device} memory is {frac:.0%} full ({_gib(self.used_bytes)} of {_gib(self.total_bytes)}): "
                "a bigger batch or model will run out of memory. Lower the batch size, or switch on gradient "
                "checkpointing (Train form, Advanced).")

    def text(self) -> str:
        """'cuda (NVIDIA H200) · 12.0 of 139.8 GiB used · 87% busy' or just the name off the GPU."""
        parts = [self.name]
        if self.total_bytes:
            parts.append(f"{_gib(self.used_bytes)} of {_gib(self.total_bytes)} used, {_gib(self.free_bytes)} free")
        if self.utilisation is not None:
            parts.append(f"{self.utilisation:.0f}% busy")
        return " · ".join(parts)

    def to_dict(self) -> dict:
        return asdict(self)


def _gib(n: int | None) -> str:
    return "?" if n is None else f"{n / 2**30:.1f} GiB"


def device_status(device: torch.device | str | None = None) -> DeviceStatus:
    """Read the device now (``device`` defaults to what ``auto`` picks)."""
    device = torch.device(device) if device is not None else pick_device()
    status = DeviceStatus(device=str(device), name=describe_device(device))
    if device.type == "cuda" and torch.cuda.is_available():
        free, total = torch.cuda.mem_get_info(device)  # device-wide, every process (as nvidia-smi)
        status.used_bytes, status.free_bytes, status.total_bytes = total - free, free, total
        try:
            status.utilisation = float(torch.cuda.utilization(device))
        except Exception:  # noqa: BLE001 - NVML not installed or not permitted: utilisation stays unknown
            status.utilisation = None
    return status


class DeviceSampler:
    """Samples ``device_status`` at most every ``every`` seconds as scalars for a run store (GPU only)."""

    def __init__(self, device, every: float = SAMPLE_EVERY):
        self.device, self.every, self._last = torch.device(device), every, -float("inf")

    def sample(self) -> dict[str, float] | None:
        """{'gpu_mem_used_gib', 'gpu_mem_total_gib', 'gpu_util'} when due on a GPU, else None."""
        now = time.monotonic()
        if self.device.type != "cuda" or now - self._last < self.every:
            return None
        self._last = now
        s = device_status(self.device)
        out = {"gpu_mem_used_gib": s.used_bytes / 2**30, "gpu_mem_total_gib": s.total_bytes / 2**30}
        if s.utilisation is not None:
            out["gpu_util"] = s.utilisation
        return out
