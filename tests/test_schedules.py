"""Is the cosine schedule IF's, and are the strided timesteps the write-up's?"""

from __future__ import annotations

import pytest
import torch

from fundiff.schedules import cosine_alphas_cumprod, strided_timesteps


def test_cosine_schedule_matches_diffusers_squaredcos_cap_v2() -> None:
    """Does our alphas_cumprod equal diffusers' DDPMScheduler('squaredcos_cap_v2'), an independent implementation?"""
    diffusers = pytest.importorskip("diffusers")
    sched = diffusers.DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2")
    torch.testing.assert_close(
        cosine_alphas_cumprod(1000), sched.alphas_cumprod, rtol=1e-5, atol=1e-7
    )


def test_schedule_decreases_from_one_towards_zero() -> None:
    """Is abar strictly decreasing, near 1 at t=0 and near 0 at t=T-1?"""
    abar = cosine_alphas_cumprod(1000, dtype=torch.float64)
    assert (abar[1:] < abar[:-1]).all()
    assert abar[0] > 0.9999 and abar[-1] < 1e-6


def test_default_strided_timesteps_are_990_to_0_by_30() -> None:
    """Are the defaults 990, 960, ..., 0 (34 steps)?"""
    ts = strided_timesteps()
    assert ts[0] == 990 and ts[-1] == 0 and len(ts) == 34
    assert all(a - b == 30 for a, b in zip(ts, ts[1:], strict=False))


@pytest.mark.parametrize(("start", "stride", "end"), [(990, 0, 0), (10, 3, 0), (0, 1, 5)])
def test_bad_strides_are_refused(start: int, stride: int, end: int) -> None:
    """Is a stride that does not land on the end refused with the values in the message?"""
    with pytest.raises(ValueError, match=f"start={start}"):
        strided_timesteps(start, stride, end)
