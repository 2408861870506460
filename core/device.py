"""Which device to compute on: CUDA when present, then Apple's MPS, else the CPU."""
from __future__ import annotations

import torch


def pick_device(preference: str = "auto") -> torch.device:
    """Return the device for ``preference`` ('auto', 'cpu', 'cuda', 'cuda:1', 'mps').

    >>> pick_device("cpu").type
    'cpu'
    """
    if preference != "auto":
        return torch.device(preference)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def describe_device(device: torch.device | None = None) -> str:
    """A one-line human description, e.g. 'cuda (NVIDIA H100)' or 'cpu (2 threads)'."""
    device = device or pick_device()
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return device.type
