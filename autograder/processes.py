"""The processes of a worker as /proc shows them: the tree below one, its CPU time, whether one runs.

The sandbox counts a call's time in CPU seconds of the worker's processes
(``CpuMeter``), finds them by walking /proc's children lists (``descendants``), and
waits for them to end (``alive``).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

CLOCK = os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError, ValueError):
            found += [int(c) for c in task.read_text().split()]
    return found


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (from /proc).

    Args:
        pid: the root of the tree.

    Returns:
        Their pids.
    """
    found, frontier = [], [pid]
    while frontier:
        nxt = [c for p in frontier for c in _children(p)]
        found += nxt
        frontier = nxt
    return found


def _stat(pid: int) -> tuple[str, int, int] | None:
    """``pid``'s state letter, start time and CPU ticks (its own and its waited-for children's); None: gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return fields[0], int(fields[19]), sum(int(f) for f in fields[11:15])
    except (OSError, IndexError, ValueError):
        return None


def _now_ticks() -> int:
    """Clock ticks since boot, the unit of a process's start time in /proc."""
    return int(float(Path("/proc/uptime").read_text().split()[0]) * CLOCK)


class CpuMeter:
    """The CPU seconds a changing set of processes spent since the meter was made.

    Each process counts from the meter's start, or from its own if it began later,
    wherever it is first seen: /proc lists a process's children unreliably while
    they run, and a process seen late must not bring in what it spent before.
    """

    def __init__(self) -> None:
        self.since = _now_ticks()
        self._base: dict[tuple[int, int], int] = {}  # (pid, start): ticks when first seen

    def measure(self, pids: list[int]) -> tuple[float, bool]:
        """The seconds spent since the start, and whether any process runs or waits for the disk now.

        Args:
            pids: the processes to count.

        Returns:
            (CPU seconds, busy): busy is True while one is runnable (R) or in disk wait (D),
            so that a call waiting for a busy machine is not taken for one that computes nothing.
        """
        ticks, busy = 0, False
        for pid in pids:
            found = _stat(pid)
            if found is None:
                continue
            state, start, spent = found
            base = self._base.setdefault((pid, start), spent if start < self.since else 0)
            ticks += spent - base
            busy = busy or state in ("R", "D")
        return ticks / CLOCK, busy


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie has finished).

    Args:
        pid: a process id.

    Returns:
        False once it has exited or is gone.
    """
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False
