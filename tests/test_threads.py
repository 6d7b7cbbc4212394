"""Does ``fundiff.threads`` read thread counts as users write them and set torch's, with the
explicit count first, then ``$FUNDIFF_THREADS``, then the policy?"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from fundiff.threads import (
    AUTO,
    ENV_VAR,
    WAIT_POLICY,
    parse_threads,
    policy_threads,
    sleep_while_waiting,
    use_threads,
)


@pytest.fixture(autouse=True)
def torch_threads(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts without $FUNDIFF_THREADS and leaves torch's count as it found it."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@given(st.integers(1, 4096), st.sampled_from(["{}", " {} ", "{}\n"]))
def test_a_positive_count_reads_as_itself(count: int, layout: str) -> None:
    assert parse_threads(layout.format(count)) == count


@pytest.mark.parametrize("text", ["auto", "AUTO", " Auto "])
def test_auto_asks_for_the_policy(text: str) -> None:
    assert parse_threads(text) is None


@pytest.mark.parametrize("text", ["0", "-1", "1.5", "two", "", "2 threads"])
def test_anything_else_is_one_line_naming_where_it_came_from(text: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_threads(text, "--threads")
    message = str(info.value)
    assert "\n" not in message and message.startswith("--threads=") and AUTO in message


def test_the_policy_is_a_usable_count() -> None:
    assert 1 <= policy_threads() <= max(1, torch.get_num_threads(), 64)


def test_the_explicit_count_wins_then_the_environment_then_the_policy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Which count does use_threads put in force, and does torch report it?"""
    monkeypatch.setenv(ENV_VAR, "3")
    assert use_threads(2) == 2 == torch.get_num_threads()
    assert use_threads() == 3 == torch.get_num_threads()
    monkeypatch.setenv(ENV_VAR, AUTO)
    assert use_threads() == policy_threads() == torch.get_num_threads()
    monkeypatch.delenv(ENV_VAR)
    assert use_threads() == policy_threads() == torch.get_num_threads()


def test_a_bad_environment_value_or_count_is_refused_before_torch_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    torch.set_num_threads(2)
    monkeypatch.setenv(ENV_VAR, "many")
    with pytest.raises(ValueError, match=f"^{ENV_VAR}='many'"):
        use_threads()
    with pytest.raises(ValueError, match="positive"):
        use_threads(0)
    assert torch.get_num_threads() == 2


def _fresh_count(wait_policy: str | None) -> tuple[int, int]:
    """In a fresh interpreter with ``wait_policy``: torch's own count, and the count use_threads sets."""
    env = {
        k: v for k, v in os.environ.items() if k not in (ENV_VAR, WAIT_POLICY, "OMP_NUM_THREADS")
    }
    env.update({WAIT_POLICY: wait_policy} if wait_policy else {})
    code = "import torch; n = torch.get_num_threads(); from fundiff.threads import use_threads; print(n, use_threads())"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    own, used = map(int, done.stdout.split())
    return own, used


@pytest.mark.parametrize("wait_policy", ["PASSIVE", None])
def test_the_policy_keeps_torchs_own_count(wait_policy: str | None) -> None:
    """In a fresh interpreter, is the policy's count the one torch chose before fundiff?"""
    own, used = _fresh_count(wait_policy)
    assert used == own >= 1


@pytest.mark.parametrize(
    "first, users, wanted",
    [("", None, "PASSIVE"), ("", "ACTIVE", "ACTIVE"), ("import torch; ", None, "None")],
    ids=["before-torch", "users-choice", "after-torch"],
)
def test_sleep_while_waiting_asks_for_passive_only_before_torch_loads(
    first: str, users: str | None, wanted: str
) -> None:
    """Passive before torch loads, a user's own choice kept, and nothing once torch is loaded
    (where it would only leak into the processes started later)?"""
    env = {k: v for k, v in os.environ.items() if k != WAIT_POLICY}
    env.update({WAIT_POLICY: users} if users else {})
    code = f"import os; {first}from fundiff.threads import sleep_while_waiting; sleep_while_waiting(); print(os.environ.get('{WAIT_POLICY}'))"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == wanted


def test_calling_the_cli_in_process_leaves_the_wait_policy_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(WAIT_POLICY, raising=False)
    sleep_while_waiting()  # torch is loaded in this process
    assert WAIT_POLICY not in os.environ
