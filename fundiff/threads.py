"""How many CPU threads torch's operators get in fundiff's commands, demo and notebooks.

Torch's default is one intra-op thread per physical core, and OpenMP threads that spin
while they wait. On a machine whose cores are shared (a browser and JupyterLab beside a
student's notebook, submissions graded side by side) a spinning thread takes a core
that another program needs, and the command collapses: ``benchmarks/cpu_contention.py``
measured, on 2 cores beside 2 busy processes, a short training run at 4.3x its idle time
with the default against 1.75x with the same two threads sleeping while they wait
(``OMP_WAIT_POLICY=PASSIVE``), and one thread at 1.5x but 1.5x slower when idle
(``benchmarks/results_threads_cpu.json``; the docs' Performance page shows the table).

The policy, from those figures: torch's own count, with waiting threads asleep where
fundiff starts the process. The wait policy is read when torch loads OpenMP, so
:func:`sleep_while_waiting` runs before ``import torch``: the CLI does it first, and the
grader's worker starts with it (and one thread). ``fundiff-grade`` does it too, and its
grading processes under ``--jobs N`` share torch's count among them: with the whole count
each, ``--jobs 2`` on 2 cores took 9.15 s per solution notebook instead of 3.84 s
(``benchmarks/grade.py --jobs 2``; ``results_grade_jobs2_cpu*.json``). The notebooks keep OpenMP's default:
with their many small operations, sleeping threads made the solved Part A notebook
30% slower on idle cores (FAST mode through nbclient, 2 cores of an Intel Xeon:
25.9 s, 33.7 s with ``OMP_WAIT_POLICY=PASSIVE``); on shared cores a student sets ``FUNDIFF_THREADS=1`` or
``OMP_WAIT_POLICY=PASSIVE`` before starting JupyterLab (docs/student.md).

Nothing here runs on import. ``--threads N`` and ``FUNDIFF_THREADS`` (a count, or
``auto``) override the count.
"""

from __future__ import annotations

import os
import sys

ENV_VAR = "FUNDIFF_THREADS"
"""Environment variable: the number of threads, or ``auto`` for the policy."""

AUTO = "auto"
"""The value of ``--threads`` and ``FUNDIFF_THREADS`` that asks for the policy."""


def parse_threads(text: str, source: str = ENV_VAR) -> int | None:
    """Read a thread count as a user writes it.

    Args:
        text: a positive whole number, or ``auto`` (any case, surrounding blanks ignored).
        source: where the text came from, named in the error.

    Returns:
        The count, or None for ``auto``.

    Raises:
        ValueError: anything else; one line naming ``source`` and what to write.
    """
    value = text.strip().lower()
    if value == AUTO:
        return None
    if value.isdigit() and int(value) > 0:
        return int(value)
    raise ValueError(f"{source}={text!r}: give a positive number of CPU threads, or {AUTO}")


WAIT_POLICY = "OMP_WAIT_POLICY"
"""OpenMP's environment variable for what waiting threads do: ``PASSIVE`` sleeps."""

_torch_default: int | None = None  # torch's own count, seen before fundiff first set one


def sleep_while_waiting() -> None:
    """Ask OpenMP's waiting threads to sleep (``OMP_WAIT_POLICY=PASSIVE``) unless the user chose.

    Only in a process that has not loaded torch yet: OpenMP reads the variable when torch
    loads it, and once torch is loaded (a test or a notebook calling the CLI in-process)
    the variable would only reach the processes it starts.
    """
    if "torch" not in sys.modules:
        os.environ.setdefault(WAIT_POLICY, "PASSIVE")


def policy_threads() -> int:
    """The thread count fundiff uses when none is asked for.

    Returns:
        Torch's own count (one per physical core, or ``$OMP_NUM_THREADS``), as it was
        before fundiff first set one.
    """
    return max(1, _own_count())


def _own_count() -> int:
    """Torch's count as it was before fundiff first set one (remembered then)."""
    import torch

    global _torch_default
    if _torch_default is None:
        _torch_default = torch.get_num_threads()
    return _torch_default


def use_threads(threads: int | None = None) -> int:
    """Set torch's intra-op thread count for this process.

    Args:
        threads: the count; None: ``$FUNDIFF_THREADS`` if set (a count or ``auto``), else
            :func:`policy_threads`.

    Returns:
        The count now in force.

    Raises:
        ValueError: ``threads`` < 1, or ``$FUNDIFF_THREADS`` is neither a count nor ``auto``.
    """
    import torch

    _own_count()
    if threads is None:
        env = os.environ.get(ENV_VAR, "").strip()
        threads = parse_threads(env) if env else None
    if threads is None:
        threads = policy_threads()
    if threads < 1:
        raise ValueError(f"threads={threads}: give a positive number of CPU threads")
    torch.set_num_threads(threads)
    return threads
