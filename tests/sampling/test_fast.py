"""Does the fast guided sampler solve the plain loop's ODE: the same steps with the Euler solver,
Heun's exactness where it must be exact, and samples close to the plain loop's on the shipped model?"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from fundiff.models import ClassConditionalUNet
from fundiff.sampling.fast import sample_class_conditional_fast
from fundiff.sampling.flow import sample_class_conditional

FAST = dict(max_examples=20, deadline=None)


class PolynomialInTime(nn.Module):
    """u(x, t, c) = a + b t + (c's first entry) d: a field that does not depend on x."""

    def __init__(self, a: torch.Tensor, b: torch.Tensor, d: torch.Tensor) -> None:
        super().__init__()
        self.a, self.b, self.d = a, b, d

    def forward(self, x: torch.Tensor, t: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Args: x (B, C, H, W); t (B,); c (B, K). Returns the field, (B, C, H, W)."""
        t, first = t.reshape(-1, 1, 1, 1), c[:, :1, None, None]
        return (self.a + self.b * t + first * self.d).expand_as(x).to(x.dtype)


@settings(**FAST)
@given(steps=st.integers(1, 12), scale=st.floats(0, 8), seed=st.integers(0, 2**31 - 1))
def test_heun_is_exact_for_a_field_linear_in_time(steps: int, scale: float, seed: int) -> None:
    """Does Heun carry x0 to x0 + a + b/2 + scale * d (digit 0) for any number of steps?"""
    g = torch.Generator().manual_seed(seed)
    a, b, d = (torch.randn(1, 1, 4, 4, generator=g) for _ in range(3))
    labels = torch.zeros(3, dtype=torch.long)
    out = sample_class_conditional_fast(PolynomialInTime(a, b, d), labels, steps, scale,
                                        torch.Generator().manual_seed(seed), image_shape=(1, 4, 4))  # fmt: skip
    x0 = torch.randn(3, 1, 4, 4, generator=torch.Generator().manual_seed(seed))
    torch.testing.assert_close(out, x0 + a + b / 2 + scale * d, rtol=0, atol=1e-5)


@settings(max_examples=5, deadline=None)
@given(steps=st.integers(1, 4), scale=st.floats(0, 8), seed=st.integers(0, 2**31 - 1))
def test_the_euler_solver_takes_the_plain_loops_steps(steps: int, scale: float, seed: int) -> None:
    """With solver="euler" in float32, are the samples the plain loop's (one batched pass, same noise)?"""
    torch.manual_seed(seed)
    model = ClassConditionalUNet(hidden=4).eval()
    labels = torch.tensor([0, 3, 9])
    plain = sample_class_conditional(
        model, labels, steps, scale, torch.Generator().manual_seed(seed)
    )
    fast = sample_class_conditional_fast(model, labels, steps, scale, torch.Generator().manual_seed(seed),
                                         solver="euler", dtype=torch.float32)  # fmt: skip
    torch.testing.assert_close(fast, plain, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(("steps", "solver"), [(0, "heun"), (3, "rk4")])
def test_bad_steps_or_solver_are_refused(steps: int, solver: str) -> None:
    with pytest.raises(ValueError, match="steps|solver"):
        sample_class_conditional_fast(
            ClassConditionalUNet(hidden=4), torch.tensor([1]), steps, solver=solver
        )


@pytest.mark.gpu
def test_on_the_shipped_model_heun_in_bfloat16_draws_the_plain_loops_samples() -> None:
    """On CUDA: are 48 Heun steps in bfloat16 within 1% of the pixel range (on average) of the plain
    loop's 300 Euler steps, and read as the same digits? (The benchmark's tolerance.)"""
    from fundiff.assets import asset_path
    from fundiff.evaluation.metrics import shipped_classifier
    from fundiff.training.weights import load_model_file

    _, model = load_model_file(asset_path("mnist_flow_class.safetensors"), "cuda")
    labels = torch.arange(10, device="cuda").repeat_interleave(20)
    plain = sample_class_conditional(
        model.eval(), labels, 300, 5.0, torch.Generator("cuda").manual_seed(0)
    )
    fast = sample_class_conditional_fast(
        model, labels, 48, 5.0, torch.Generator("cuda").manual_seed(0)
    )
    assert (fast - plain).abs().mean() <= 0.01
    classifier = shipped_classifier("cuda")
    same = classifier(fast.clamp(0, 1)).argmax(1) == classifier(plain.clamp(0, 1)).argmax(1)
    assert same.float().mean() >= 0.99
