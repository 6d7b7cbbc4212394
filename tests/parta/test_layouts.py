"""Tests for ``fundiff.parta.layouts``: the timesteps 1.4's figure shows."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fundiff import writeup
from fundiff.parta.layouts import shown_timesteps

PART_A = writeup.PART_A


@given(i_start=st.integers(0, len(writeup.strided()) - 2))
def test_shown_timesteps_start_at_i_start_and_follow_the_schedule(i_start: int) -> None:
    """From any i_start: x_t first, then decreasing timesteps the loop passes, the write-up's where it can."""
    ts = writeup.strided()
    shown = shown_timesteps(ts, i_start)
    assert shown[0] == ts[i_start]
    assert shown == sorted(set(shown), reverse=True) and set(shown) <= set(ts[i_start:-1])
    assert set(shown[1:]) == {t for t in PART_A.shown_timesteps if t < ts[i_start]}
