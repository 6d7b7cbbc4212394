"""Checks of functions that draw random numbers: fundiff's draws, or other draws of the same law.

A submission that draws what fundiff draws (the same calls on the same generator,
in the same order) matches the reference to rounding and passes at once. One that
draws in another order (the noise of the last step first, one draw per image, draws
in float64) gets other numbers; it is judged by what does not depend on the order:

1. the same seed gives the same result: every draw comes from the generator handed in;
2. where the function takes an input, the same seed on another input changes the
   result as it changes the reference's: the draws, the same in both calls, cancel
   from the difference, which is compared to rounding. Everything but the draws is so
   checked exactly;
3. once per check, on many values and two seeds, its random part has the reference's
   law: the spread of the difference between the two seeds, that difference's
   correlation across images, channels, rows and columns, and no offset (the result
   departs from the reference's no more than another draw of the reference does).
   A result of few values (a loss) must instead lie, at two seeds, within K standard
   deviations of the reference's mean over 16 seeds, and differ between the seeds;
   this is judged at each example's own input.

Statistics are judged at K = 6 standard deviations of their estimates, so a correct
submission fails with a probability below 1e-8, and the inputs and seeds are fixed,
so every run gives the same verdict. A mean square over N_eff values has a relative
standard deviation of sqrt(2 / N_eff); the ratio of two has 2 / sqrt(N_eff), so with
the several thousand values the checks use, a spread off by a quarter is seen.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import torch

from autograder.checks.compare import differs, expect_shape, max_diff, size_of, tolerance
from autograder.checks.conftest import once

K = 6.0  # standard deviations of a statistic before a verdict
SEEDS = (1001, 2002)  # the seeds the law is judged at
ENSEMBLE = 16  # seeds of the reference that give a scalar's mean and spread
AXES = ("images", "channels", "rows", "columns")  # of a (B, C, H, W) result

Run = Callable[[Any, int], torch.Tensor]
"""A function of (input, seed): the result with ``Helper("generator", (seed,))`` (or its reference)."""


@dataclass(frozen=True)
class Drawn:
    """A function of the submission's that draws, and fundiff's reference for it.

    Attributes:
        got: (input, seed) -> the submission's result (failing the check if it is none).
        want: (input, seed) -> the reference's result, with a generator of that seed.
        steps: how many steps the result goes through (its rounding, ``tolerance``).
    """

    got: Run
    want: Run
    steps: int = 1


def expect_drawn(d: Drawn, x: Any, seed: int, what: str, *, other: Any = None,
                 law: list[tuple[Drawn, Any, str]] | None = None, likely: dict[str, Run] | None = None) -> None:  # fmt: skip
    """Fail unless the submission computes the reference's result, up to the order of its draws.

    Args:
        d: the function and its reference.
        x: the input of this example (what ``d``'s functions take).
        seed: the generator's seed.
        what: the result, as the message names it ("at t=5 your x_t").
        other: another input of the same shapes, for step 2 (see the module docstring); None
            where the function takes none.
        law: for each setting whose law is judged (step 3), once per check: the function,
            its input and the result's name; several where the random parts of the result
            come from draws of different sizes (one setting where each dominates); None:
            ``d`` on ``x``.
        likely: a hint naming a mistake, for each mistake's result (with the reference's
            draws, as a function of input and seed); shown only when the result matches it.
    """
    got, want = _host(d.got(x, seed)), _host(d.want(x, seed))
    expect_shape(got, want, what)
    atol = tolerance(want, d.steps)
    if max_diff(got, want) <= atol:
        return
    wrongs = {hint: _host(wrong(x, seed)) for hint, wrong in (likely or {}).items()}
    for hint, wrong in wrongs.items():  # a mistake, made with the same draws: say which
        close = max(atol, tolerance(wrong, d.steps))
        if tuple(wrong.shape) == tuple(got.shape) and max_diff(got, wrong) <= close:
            pytest.fail(differs(got, want, what, atol=close, likely={hint: wrong}), pytrace=False)
    again = _host(d.got(x, seed))
    if max_diff(again, got) > atol:
        pytest.fail(f"{what} changes from call to call with the same generator seed (by up to "
                    f"{max_diff(again, got):.3g}): draw every random number from the generator it is given",
                    pytrace=False)  # fmt: skip
    if want.numel() < 64:  # a loss: no difference cancels the draws; its law, at this input
        verdict = _scalar_verdict(d, x, what, (got, _host(d.got(x, seed + 1))))
        if verdict:
            pytest.fail(verdict, pytrace=False)
        return
    if other is not None:
        got_o, want_o = _host(d.got(other, seed)), _host(d.want(other, seed))
        expect_shape(got_o, want_o, what)
        atol2 = atol + tolerance(want_o, d.steps)
        if max_diff(got - got_o, want - want_o) > atol2:  # not the draws: they cancel from these
            # a hint matches when the difference is the mistake's difference
            moved = {
                hint: wrong - _host((likely or {})[hint](other, seed)) + got_o
                for hint, wrong in wrongs.items()
            }
            pytest.fail(differs(got, want, what, atol=atol2, likely=moved), pytrace=False)
    for k, setting in enumerate(law or [(d, x, what)]):
        once(("law", str(k)), lambda setting=setting: law_verdict(*setting))


def law_verdict(d: Drawn, x: Any, what: str) -> str | None:
    """Whether ``d.got``'s results on ``x`` have the law of ``d.want``'s (step 3 of the module
    docstring): None if so, else what differs.

    Args:
        d: the function and its reference.
        x: the input, holding many values.
        what: the result, as the message names it.

    Returns:
        None, or the message.
    """
    g1, g2 = _host(d.got(x, SEEDS[0])), _host(d.got(x, SEEDS[1]))
    w1, w2 = _host(d.want(x, SEEDS[0])), _host(d.want(x, SEEDS[1]))
    for g, w in ((g1, w1), (g2, w2)):
        if tuple(g.shape) != tuple(w.shape):
            return f"{what} has shape {tuple(g.shape)}, expected {tuple(w.shape)}"
        if not torch.isfinite(g).all():
            return f"{what} holds NaN or infinite values"
    if w1.numel() < 64:
        return _scalar_verdict(d, x, what, (g1, g2))
    atol = tolerance(w1, d.steps)
    dw, dg = (w1 - w2).double().cpu(), (g1 - g2).double().cpu()
    vw, vg = dw.square().mean().item(), dg.square().mean().item()
    if vw <= atol**2:  # the reference draws nothing that shows here
        return None if max_diff(g1, w1) <= atol else differs(g1, w1, what, atol=atol)
    if vg <= atol**2:
        return (f"{what} is the same whatever the generator's seed: it takes no noise from the generator "
                "(a fixed pattern in place of a draw?)")  # fmt: skip
    n_eff = 3 * dw.square().sum().item() ** 2 / dw.pow(4).sum().item()  # n for equal spreads
    band = K * 2 / math.sqrt(n_eff)
    if abs(vg / vw - 1) > band:
        return (f"{what}: its random part has a standard deviation of {math.sqrt(vg / 2):.3g}, where the "
                f"expected one is {math.sqrt(vw / 2):.3g}")  # fmt: skip
    off = max(
        (g1 - w1).double().cpu().square().mean().item(),
        (g2 - w2).double().cpu().square().mean().item(),
    )
    if off > vw * (1 + band) + atol**2:
        return (f"{what} differs by {max_diff(g1, w1):.3g} at most, where the expected values are of size about "
                f"{size_of(w1):.2g}, more than other random draws explain (root mean square {math.sqrt(off):.3g}, "
                f"where two draws of the expected result differ by {math.sqrt(vw):.3g})")  # fmt: skip
    for axis in range(dw.ndim):
        n = dw.shape[axis]
        if n < 2:
            continue
        cw, cg = _correlation(dw, axis), _correlation(dg, axis)
        if abs(cg - cw) > K / math.sqrt(n_eff * (n - 1) / n) + 0.02:
            across = AXES[axis] if dw.ndim == len(AXES) else f"dimension {axis}"
            return (f"{what}: its random values are correlated across {across} ({cg:.2f}, where independent "
                    f"draws give {cw:.2f}): draw a separate value for every element")  # fmt: skip
    return None


def _host(t: torch.Tensor) -> torch.Tensor:
    """``t`` on the CPU, where the submission's results come back and the statistics are taken."""
    return t.detach().cpu()


def _correlation(d: torch.Tensor, axis: int) -> float:
    """The correlation of neighbours along ``axis`` of ``d``, a difference of draws (mean 0)."""
    n = d.shape[axis]
    a, b = d.narrow(axis, 0, n - 1), d.narrow(axis, 1, n - 1)
    norm = math.sqrt(a.square().mean().item() * b.square().mean().item())
    return (a * b).mean().item() / norm if norm > 0 else 1.0


def _scalar_verdict(
    d: Drawn, x: Any, what: str, got: tuple[torch.Tensor, torch.Tensor]
) -> str | None:
    """Step 3 for a result of few values: within K standard deviations of the reference's mean."""
    ensemble = torch.stack([d.want(x, seed).double().cpu() for seed in range(ENSEMBLE)])
    mean, spread = ensemble.mean(0), ensemble.std(0)
    atol = tolerance(mean, d.steps)
    if spread.max() <= atol:  # nothing random shows here: the result is the reference's, or wrong
        wrong = next((g for g in got if max_diff(g, mean) > atol), None)
        return None if wrong is None else differs(wrong, mean.to(wrong.dtype), what, atol=atol)
    for g in got:
        off = (g.double().cpu() - mean).abs()
        if (off > 1.5 * K * spread + atol).any():  # 1.5: the spread of 16 draws is itself uncertain
            i = int((off - 1.5 * K * spread).flatten().argmax())
            return (f"{what} is {g.flatten()[i].item():.4g}, where draws of the noise give "
                    f"{mean.flatten()[i].item():.4g} ± {spread.flatten()[i].item():.2g}: more than other random "
                    "draws explain")  # fmt: skip
    if (spread > atol).any() and max_diff(*got) <= atol:
        return (f"{what} is the same whatever the generator's seed: it takes no noise from the generator "
                "(a fixed pattern in place of a draw?)")  # fmt: skip
    return None
