"""How the checks compare a result with fundiff's reference, and how close is close enough.

Tolerances (``tolerance``): a correct implementation written with other operations
(another order, the math module, float64 inside) differs from fundiff's by rounding
alone, which grows with the number of steps a result goes through and with the size
of the values: ``atol = ROUNDING * sqrt(steps) * eps(dtype) * max(1, max |expected|)``.
ROUNDING is 256 ulps: fundiff's own float32 formulas err by up to ~60 ulps against
exact arithmetic (1 - ᾱ_t / ᾱ_t' cancels where a strided step's β is ~3e-3), another
correct formula may err as much the other way, and a factor of two is left over. The
errors of successive steps are independent and partly damped by the steps after
them, so they add up like a random walk, as sqrt(steps): a float64 DDPM loop of 33
steps differs from fundiff's float32 one by ~50 ulps of its largest value, where
the tolerance allows ~1500. Mistakes differ by 1e-2 of that size and more.

Hints that name a likely mistake (``expect_close``'s ``likely``) are shown only
when the result matches that mistake's output, computed on the same inputs;
otherwise the feedback says what differed and by how much.
"""

from __future__ import annotations

import math

import pytest
import torch

ROUNDING = 256  # ulps that rounding may cost a correct formula (module docstring)


def expect_dtype(value: torch.Tensor, name: str, dtype: torch.dtype = torch.float32) -> None:
    """Fail unless ``value`` holds ``dtype`` values (the checks hand in float32 tensors, and the
    docstrings promise results in the inputs' dtype)."""
    if value.dtype == dtype:
        return
    have, want = str(value.dtype).removeprefix("torch."), str(dtype).removeprefix("torch.")
    if not value.is_floating_point():
        pytest.fail(f"{name} returned {have} values; it should return floating-point values, in the inputs' "
                    f"dtype ({want}): convert with .to(x.dtype) or .float()", pytrace=False)  # fmt: skip
    pytest.fail(f"{name} returned {have} values from {want} inputs; return the inputs' dtype, e.g. "
                "result.to(x.dtype)", pytrace=False)  # fmt: skip


def tolerance(want: torch.Tensor, steps: int = 1) -> float:
    """What rounding may cost a correct result after ``steps`` steps (see the module docstring).

    Args:
        want: the reference's result; its dtype and size set the rounding.
        steps: how many steps (each a formula or two) the result goes through.

    Returns:
        ``ROUNDING * sqrt(steps) * eps(dtype) * max(1, max |want|)``.
    """
    dtype = want.dtype if want.is_floating_point() else torch.float32
    scale = max(1.0, want.detach().abs().max().item()) if want.numel() else 1.0
    return ROUNDING * math.sqrt(steps) * torch.finfo(dtype).eps * scale


def size_of(want: torch.Tensor) -> float:
    """The size of the expected values (their largest magnitude), as the feedback quotes it."""
    return want.detach().abs().max().item() if want.numel() else 0.0


def expect_close(got: torch.Tensor, want: torch.Tensor, what: str, *, atol: float,
                 likely: dict[str, torch.Tensor] | None = None) -> None:  # fmt: skip
    """Fail unless ``got`` has ``want``'s shape and values (to ``atol``), saying by how much it differs.

    Args:
        got: the submission's result.
        want: the reference's result.
        what: the result, as the message names it ("at t=5 your x_t").
        atol: the largest difference allowed (``tolerance``).
        likely: a hint naming a mistake, for each mistake's output on the same inputs; a hint
            is shown only if ``got`` matches that output.
    """
    expect_shape(got, want, what)
    if max_diff(got, want) > atol:
        pytest.fail(differs(got, want, what, atol=atol, likely=likely), pytrace=False)


def expect_shape(got: torch.Tensor, want: torch.Tensor, what: str) -> None:
    """Fail unless ``got`` has ``want``'s shape and finite values."""
    if tuple(got.shape) != tuple(want.shape):
        pytest.fail(
            f"{what} has shape {tuple(got.shape)}, expected {tuple(want.shape)}", pytrace=False
        )
    if not torch.isfinite(got).all():
        pytest.fail(f"{what} holds NaN or infinite values", pytrace=False)


def differs(got: torch.Tensor, want: torch.Tensor, what: str, *, atol: float,
            likely: dict[str, torch.Tensor] | None = None) -> str:  # fmt: skip
    """The message for ``got`` differing from ``want``: by how much, relative to the expected values'
    size, and the hint of the mistake it matches, if any (see ``expect_close``)."""
    message = (f"{what} differs by {max_diff(got, want):.3g} at most, where the expected values are of "
               f"size about {size_of(want):.2g}")  # fmt: skip
    for hint, wrong in (likely or {}).items():
        if tuple(wrong.shape) == tuple(got.shape) and max_diff(got, wrong) <= max(
            atol, tolerance(wrong)
        ):
            return f"{message}: {hint}"
    g, w = got.detach().double().cpu().flatten(), want.detach().double().cpu().flatten()
    if w.numel() > 1 and w.dot(w) > 0:
        k = (g.dot(w) / w.dot(w)).item()  # a result that is the expected one, scaled, says so
        if abs(k - 1) > 0.05 and (g - k * w).abs().max().item() <= 10 * atol:
            return f"{message}; yours is {k:.3g} times the expected result"
    return message


def max_diff(got: torch.Tensor, want: torch.Tensor) -> float:
    """The largest difference between two tensors of one shape (0 for empty ones)."""
    if not got.numel():
        return 0.0
    return (got.detach().double().cpu() - want.detach().double().cpu()).abs().max().item()


def guidance_mistakes(
    cond: torch.Tensor, uncond: torch.Tensor, scale: float
) -> dict[str, torch.Tensor]:
    """The usual wrong forms of classifier-free guidance on ``cond`` and ``uncond``, by the hint each earns."""
    right = "it is uncond + scale·(cond − uncond)"
    return {f"cond and uncond are swapped: {right}": cond + scale * (uncond - cond),
            f"it starts from cond: {right}": cond + scale * (cond - uncond)}  # fmt: skip
