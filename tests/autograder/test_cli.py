"""Do the grading processes of ``fundiff-grade --jobs N`` share the cores instead of fighting for them?"""

from __future__ import annotations

import os

import pytest

from autograder import cli


def _thread_policy() -> tuple[int, str | None]:
    """What a grading process runs with: torch's thread count and OpenMP's wait policy."""
    import torch

    return torch.get_num_threads(), os.environ.get("OMP_WAIT_POLICY")


@pytest.mark.parametrize("jobs", [1, 2, 3, 64])
def test_each_grading_process_gets_its_share_of_the_threads(
    jobs: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fundiff.threads import ENV_VAR, policy_threads

    monkeypatch.delenv(ENV_VAR, raising=False)
    share = cli.grading_threads(jobs)
    assert share is not None and share >= 1
    assert share * jobs <= policy_threads() or share == 1


def test_fundiff_threads_decides_where_it_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    from fundiff.threads import ENV_VAR

    monkeypatch.setenv(ENV_VAR, "3")
    assert cli.grading_threads(2) is None


def test_a_spawned_grading_process_runs_its_share_with_sleeping_waits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Started as ``main`` starts them, does each grading process run its share of threads, waiting asleep?"""
    from fundiff.threads import ENV_VAR, WAIT_POLICY

    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv(WAIT_POLICY, "PASSIVE")  # what main sets before any torch loads
    with cli.grading_pool(2) as pool:
        seen = {pool.submit(_thread_policy).result() for _ in range(4)}
    assert seen == {(cli.grading_threads(2), "PASSIVE")}


def test_the_command_asks_for_sleeping_waits_before_torch_loads() -> None:
    """Does ``fundiff-grade`` set the wait policy first, so that its grading processes inherit it?"""
    import subprocess
    import sys

    code = ("import contextlib, os, sys\nfrom autograder import cli\n"
            "with contextlib.suppress(SystemExit):\n    cli.main(['--help'])\n"
            "print(os.environ.get('OMP_WAIT_POLICY'), 'torch' in sys.modules)")  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.split()[-2:] == ["PASSIVE", "False"]
