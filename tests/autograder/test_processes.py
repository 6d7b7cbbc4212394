"""Does the CPU meter of the worker's processes count what a call spent, and tell waiting for itself from waiting for the machine?"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from autograder.processes import CpuMeter

# burns ``argv[1]`` CPU seconds, says so, then sleeps until killed
BURN_THEN_SLEEP = """
import sys, time
end = time.process_time() + float(sys.argv[1])
while time.process_time() < end:
    pass
print("burnt", flush=True)
time.sleep(600)
"""


@pytest.fixture
def burnt() -> Iterator[subprocess.Popen[str]]:
    """A process that spent 1 CPU second before any meter below was made, and now sleeps."""
    proc = subprocess.Popen(
        [sys.executable, "-c", BURN_THEN_SLEEP, "1.0"], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "burnt"
    yield proc
    proc.kill()
    proc.wait()


def test_a_process_seen_late_brings_in_nothing_it_spent_before(burnt) -> None:
    """Is a process that /proc lists only after the call began counted from then, not from its birth?"""
    meter = CpuMeter()
    assert meter.measure([]) == (
        0.0,
        False,
    )  # the process is missed at first, as /proc may miss a child
    spent, busy = meter.measure([burnt.pid])
    assert spent < 0.2 and not busy


def test_a_process_started_during_the_call_counts_whole() -> None:
    """Is all the CPU of a process started after the meter counted, even if first seen once it is done?"""
    meter = CpuMeter()
    proc = subprocess.Popen(
        [sys.executable, "-c", BURN_THEN_SLEEP, "0.5"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "burnt"
        spent, busy = meter.measure([proc.pid])
        assert spent >= 0.45 and not busy
    finally:
        proc.kill()
        proc.wait()


def test_running_is_busy_and_sleeping_or_stopped_is_not(burnt) -> None:
    """Is a spinning process busy, and a sleeping or a stopped one not?"""
    spinning = subprocess.Popen([sys.executable, "-c", "while True:\n    pass"])
    try:
        meter = CpuMeter()
        deadline = time.monotonic() + 10
        busy_seen = False
        while time.monotonic() < deadline and not busy_seen:
            busy_seen = meter.measure([spinning.pid])[1]
            time.sleep(0.05)
        assert busy_seen
        spinning.send_signal(signal.SIGSTOP)
        time.sleep(0.2)
        assert meter.measure([spinning.pid])[1] is False
        assert meter.measure([burnt.pid])[1] is False
    finally:
        spinning.kill()
        spinning.wait()
