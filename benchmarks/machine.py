"""What every benchmark's JSON names: the card (or CPU) it ran on, the torch version and the date."""

from __future__ import annotations

import datetime
import os
import platform

import torch


def cpu_name() -> str:
    """The CPU's model name, from /proc/cpuinfo where there is one."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def machine(device: str) -> dict[str, object]:
    """The card (or CPU and its core count), torch version and today's date."""
    on_gpu = device.startswith("cuda")
    return {
        "device": device,
        "card": torch.cuda.get_device_name(0) if on_gpu else cpu_name(),
        "cpu_cores": os.cpu_count(),
        "torch": torch.__version__,
        "date": datetime.date.today().isoformat(),
    }
