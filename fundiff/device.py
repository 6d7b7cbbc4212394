"""Choosing the device a run or a sampler works on."""

from __future__ import annotations

import torch


class DeviceUnavailable(ValueError):
    """CUDA was asked for where there is none.

    Attributes:
        device: the device name asked for.
    """

    def __init__(self, device: str) -> None:
        self.device = device
        super().__init__(
            f"device {device!r} asked for, but CUDA is not available here; use the cpu device"
        )


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """The device to train on: "auto" is cuda where there is one, else cpu.

    Args:
        device: "auto", "cpu", "cuda", "cuda:N" or a ``torch.device``.

    Returns:
        The checked ``torch.device``.

    Raises:
        DeviceUnavailable: CUDA asked for where there is none (a ``ValueError``).
        ValueError: for an unknown device name.
    """
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {device!r}; use auto, cpu or cuda") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailable(str(device))
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device {device!r} is not supported; use auto, cpu or cuda")
    return dev
