"""Part A's checks: every graded function of the notebook against fundiff's reference.

Longer than 300 lines because an assignment's checks are one pytest module:
``autograder.runner`` collects one module per assignment, and each check's node id
in it is the id of its graded test cell in the built notebooks (a split renames them).

Tolerances come from ``compare.tolerance``: a formula is one step, a loop one step
per denoising step (inpainting two: each step also re-noises the original).

The step of iterative denoising follows the course's rule (``fundiff.diffusion.rules``):
the write-up's (``writeup_step``) or the DDPM posterior (``ddpm_step`` and its parts);
only that rule's checks are collected (``for_rule``). The loops built on the step are
judged with the rule the submission's own ``denoise_step`` follows (``loop_rule``), so
a step written by the other rule costs the step's checks and nothing more. Functions that
draw are judged by ``draws.expect_drawn``: the reference's draws pass at once, other
draw orders by what does not depend on the order. The toy backend and predictors
are linear in the image, so the draws cancel from the difference of two inputs.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st

from autograder.checks.compare import (
    expect_close,
    expect_shape,
    guidance_mistakes,
    max_diff,
    tolerance,
)
from autograder.checks.conftest import check, for_rule, generator, prediction_of, run, value_of
from autograder.checks.draws import Drawn, Run, expect_drawn
from autograder.helpers import Helper
from autograder.toys import ToyBackend, factories
from fundiff.backends.base import Prediction
from fundiff.diffusion import cfg, denoise, edit, forward, illusions, rules
from fundiff.diffusion.views import View
from fundiff.guidance import classifier_free_guidance
from fundiff.schedules import cosine_alphas_cumprod, strided_timesteps

ABAR = cosine_alphas_cumprod(1000)
TIMESTEPS = strided_timesteps()
COARSE = strided_timesteps(stride=90)  # 990, 900, ..., 0
shapes = st.tuples(st.integers(1, 3), st.sampled_from([1, 3]), st.sampled_from([8, 28]))
seeds = st.integers(0, 2**16)
LAW_SHAPE = (4, 3, 28)  # 9408 values: the law of a draw is judged on these (see draws)
# eps = FORGETS_X_T * x at t = 990: the estimate of x0 there forgets x
FORGETS_X_T = 1 / float(1 - ABAR[990]) ** 0.5
WRITEUP_FORMULA = "x_t' = √ᾱ_t' x̂_0 + √(1 − ᾱ_t') ε̂ (σ = 0)"
OTHER_RULE = {
    "ddpm": ("that is the DDPM posterior step, the classic course's rule (\"ddpm\"); this course follows the "
             f"write-up's rule (section 1.4): {WRITEUP_FORMULA}"),
    "writeup": ("that is the write-up's rule (\"writeup\", x_t' = √ᾱ_t' x̂_0 + √(1 − ᾱ_t') ε̂); this course "
                "follows the DDPM posterior: x_t' = mean + σ z, with the mean and variance of q(x_t' | x_t, x̂_0)"),
}  # fmt: skip
"""The hint for a step written by the other rule, by the rule it was written by."""


@pytest.fixture(scope="session")
def loop_rule(student, device: torch.device) -> rules.Rule:
    """The rule the submission's ``denoise_step`` follows: the other rule's where it computes that
    rule's step exactly (same draws), else the course's. The loops are judged with it."""
    course = rules.course_rule()
    x, eps = _images((2, 3, 8), 11, device), _images((2, 3, 8), 12, device)
    t, t_prev = int(TIMESTEPS[20]), int(TIMESTEPS[21])
    outcome = student.call("denoise_step", x, Helper("prediction", (eps, None)), t, t_prev, ABAR, "fixed_small",
                           Helper("generator", (5,)))  # fmt: skip
    if outcome.error is not None or not isinstance(outcome.value, torch.Tensor):
        return course
    got = outcome.value.detach().cpu()
    for rule in (course, *(r for r in rules.RULES if r != course)):
        want = denoise.STEPS[rule](x, Prediction(eps), t, t_prev, ABAR.to(device), "fixed_small",
                                   generator(device, 5)).cpu()  # fmt: skip
        if got.shape == want.shape and max_diff(got, want) <= tolerance(want, 2):
            return rule
    return course


def expect_the_course_rule(rule: rules.Rule) -> None:
    """Fail with the hint that names the rule when the submission's step is the other rule's."""
    if rule != rules.course_rule():
        pytest.fail(f"your step computes another rule's x_t': {OTHER_RULE[rule]}", pytrace=False)


def _images(shape: tuple[int, int, int], seed: int, device: torch.device) -> torch.Tensor:
    b, c, s = shape
    return (torch.rand(b, c, s, s, generator=torch.Generator().manual_seed(seed)) * 2 - 1).to(
        device
    )


def _toy(device: torch.device, learned: bool = False, size: int = 8) -> tuple[Helper, ToyBackend]:
    """The toy backend, as the submission's argument and as the reference's."""
    return Helper("toy_backend", (learned, size)), ToyBackend(learned, size, 3, device)


def _ref(name: str, device: torch.device, *args: object):
    """The reference's side of a ``Helper`` (the same factory the worker uses)."""
    return factories(device)[name](*args)


def _noise(
    like: torch.Tensor, seed: int, device: torch.device, uniform: bool = False
) -> torch.Tensor:
    """What fundiff draws first from a generator of ``seed``, shaped like ``like``."""
    draw = torch.rand if uniform else torch.randn
    return draw(like.shape, generator=generator(device, seed), device=device, dtype=like.dtype)


def _mix(x0: torch.Tensor, eps: torch.Tensor, abar: torch.Tensor) -> torch.Tensor:
    """A forward process with the given weights: √abar x0 + √(1 - abar) eps."""
    return abar.sqrt() * x0 + (1 - abar).sqrt() * eps


@check("forward", 2)
@given(shape=shapes, t=st.integers(0, 999), seed=seeds)
def test_forward_with_given_noise(student, device, shape, t, seed) -> None:
    """forward: x_t from x0 and given noise"""
    x0, eps = _images(shape, seed, device), _images(shape, seed + 1, device)
    got = value_of(run(student, "forward", x0, t, ABAR, eps=eps), "forward")
    abar = ABAR.to(device)
    want = forward.forward(x0, t, abar, eps=eps)
    likely = {"the square roots are missing: √ᾱ_t multiplies x0 and √(1 − ᾱ_t) the noise":
              abar[t] * x0 + (1 - abar[t]) * eps,
              "x0 and the noise are swapped: √ᾱ_t multiplies x0": _mix(eps, x0, abar[t])}  # fmt: skip
    if t > 0:
        likely["did you use alphas (ᾱ_t / ᾱ_t-1) instead of alphas_cumprod (ᾱ_t)?"] = _mix(
            x0, eps, abar[t] / abar[t - 1]
        )
    expect_close(got, want, f"at t={t} your x_t", atol=tolerance(want), likely=likely)


def _forward_drawn(student, device: torch.device, t: int) -> Drawn:
    abar = ABAR.to(device)
    return Drawn(lambda x, s: value_of(run(student, "forward", x, t, ABAR, Helper("generator", (s,))), "forward"),
                 lambda x, s: forward.forward(x, t, abar, generator(device, s)))  # fmt: skip


@check("forward", 1)
@given(shape=shapes, t=st.integers(0, 999), seed=seeds)
def test_forward_draws_from_the_generator(student, device, shape, t, seed) -> None:
    """forward: the noise comes from the generator"""
    x0, other = _images(shape, seed, device), _images(shape, seed + 7, device)
    abar = ABAR.to(device)
    likely = {"the noise is uniform: draw it with torch.randn, not torch.rand":
              lambda x, s: _mix(x, _noise(x, s, device, uniform=True), abar[t]),
              "the square roots are missing: √ᾱ_t multiplies x0 and √(1 − ᾱ_t) the noise":
              lambda x, s: abar[t] * x + (1 - abar[t]) * _noise(x, s, device)}  # fmt: skip
    law = (
        _forward_drawn(student, device, 500),
        _images(LAW_SHAPE, 99, device),
        "at t=500, your x_t",
    )
    expect_drawn(_forward_drawn(student, device, t), x0, seed, f"at t={t} with a seeded generator, your x_t",
                 other=other, law=[law], likely=likely)  # fmt: skip


@check("one_step", 2)
@given(shape=shapes, t=st.integers(1, 999), seed=seeds)
def test_estimate_x0(student, device, shape, t, seed) -> None:
    """estimate_x0: the one-step estimate of x0"""
    x_t, eps = _images(shape, seed, device), _images(shape, seed + 1, device)
    got = value_of(run(student, "estimate_x0", x_t, eps, ABAR[t]), "estimate_x0")
    a = ABAR[t].to(device)
    want = denoise.estimate_x0(x_t, eps, a)
    likely = {"the noise term is added: subtract √(1 − ᾱ_t)·ε̂ from x_t": (x_t + (1 - a).sqrt() * eps) / a.sqrt(),
              "the square roots are missing: (x_t − √(1 − ᾱ_t)·ε̂) / √ᾱ_t": (x_t - (1 - a) * eps) / a,
              "it multiplies by √ᾱ_t where it should divide": (x_t - (1 - a).sqrt() * eps) * a.sqrt()}  # fmt: skip
    expect_close(got, want, f"at t={t} your x0 estimate", atol=tolerance(want), likely=likely)


@for_rule("ddpm")
@check("iterative", 2)
@given(shape=shapes, i=st.integers(0, 32), seed=seeds)
def test_posterior_mean(student, device, shape, i, seed) -> None:
    """posterior_mean: the mean of a strided DDPM step"""
    t, t_prev = int(TIMESTEPS[i]), int(TIMESTEPS[i + 1])
    x_t, x0 = _images(shape, seed, device), _images(shape, seed + 1, device)
    got = value_of(run(student, "posterior_mean", x_t, x0, ABAR[t], ABAR[t_prev]), "posterior_mean")
    a, ap = ABAR[t].to(device), ABAR[t_prev].to(device)
    want = denoise.posterior_mean(x_t, x0, a, ap)
    beta = 1 - a / ap
    on_x0, on_xt = ap.sqrt() * beta / (1 - a), (a / ap).sqrt() * (1 - ap) / (1 - a)
    likely = {"the weights of x0_hat and x_t are swapped": on_x0 * x_t + on_xt * x0,
              "√ᾱ_t' lost its square root (on x0_hat)": ap * beta / (1 - a) * x0 + on_xt * x_t,
              "√α_t lost its square root (on x_t), with α_t = ᾱ_t / ᾱ_t'": on_x0 * x0 + (a / ap) * (1 - ap) / (1 - a) * x_t,
              "alpha is ᾱ_t / ᾱ_t' for a strided step, not ᾱ_t":
              ap.sqrt() * (1 - a) / (1 - a) * x0 + a.sqrt() * (1 - ap) / (1 - a) * x_t}  # fmt: skip
    expect_close(
        got,
        want,
        f"for the step t={t} to t'={t_prev}, your mean",
        atol=tolerance(want),
        likely=likely,
    )


@for_rule("ddpm")
@check("iterative", 1)
@given(i=st.integers(0, 32))
def test_posterior_log_variance(student, i) -> None:
    """posterior_log_variance: the fixed (small) variance of a strided step"""
    t, t_prev = int(TIMESTEPS[i]), int(TIMESTEPS[i + 1])
    got = value_of(
        run(student, "posterior_log_variance", ABAR[t], ABAR[t_prev]), "posterior_log_variance"
    )
    want = denoise.posterior_log_variance(ABAR[t], ABAR[t_prev])
    beta = 1 - ABAR[t] / ABAR[t_prev]
    tilde = ((1 - ABAR[t_prev]) / (1 - ABAR[t]) * beta).clamp(min=denoise.MIN_VARIANCE)
    likely = {"it is the variance β̃ itself: take its log": tilde,
              "that is log β_t, the step's own variance, not the posterior's β̃": beta.log()}  # fmt: skip
    expect_close(got.reshape(want.shape) if got.numel() == want.numel() else got, want,
                 f"for the step t={t} to t'={t_prev}, your log variance", atol=tolerance(want), likely=likely)  # fmt: skip


@for_rule("ddpm")
@check("iterative", 1)
@given(shape=shapes, i=st.integers(0, 32), seed=seeds)
def test_learned_range_log_variance(student, device, shape, i, seed) -> None:
    """learned_range_log_variance: IF's learned variance between β̃ and β"""
    t, t_prev = int(TIMESTEPS[i]), int(TIMESTEPS[i + 1])
    v = _images(shape, seed, device)
    got = value_of(run(student, "learned_range_log_variance", v, ABAR[t], ABAR[t_prev]),
                   "learned_range_log_variance")  # fmt: skip
    a, ap = ABAR[t].to(device), ABAR[t_prev].to(device)
    want = denoise.learned_range_log_variance(v, a, ap)
    log_beta, log_tilde = (1 - a / ap).log(), denoise.posterior_log_variance(a, ap)
    likely = {"v in [-1, 1] must first become frac = (v + 1) / 2": v * log_beta + (1 - v) * log_tilde,
              "log β and log β̃ are swapped: v = 1 gives β_t, v = -1 gives β̃":
              (v + 1) / 2 * log_tilde + (1 - v) / 2 * log_beta}  # fmt: skip
    expect_close(got, want, f"for the step t={t} to t'={t_prev}, your log variance", atol=tolerance(want),
                 likely=likely)  # fmt: skip


def _ddpm_drawn(student, device: torch.device, v: torch.Tensor | None, i: int, kind: str) -> Drawn:
    """ddpm_step as a function of ((x_t, eps), seed); ``v``, the variance values, stays fixed."""
    t, t_prev = int(TIMESTEPS[i]), int(TIMESTEPS[i + 1])
    abar = ABAR.to(device)
    return Drawn(lambda xe, s: value_of(run(student, "ddpm_step", xe[0], Helper("prediction", (xe[1], v)), t, t_prev,
                                            ABAR, kind, Helper("generator", (s,))), "ddpm_step"),
                 lambda xe, s: denoise.ddpm_step(xe[0], Prediction(xe[1], v), t, t_prev, abar, kind,
                                                 generator(device, s)),
                 steps=2)  # fmt: skip


@for_rule("ddpm")
@check("iterative", 2)
@given(shape=shapes, i=st.integers(0, 32), learned=st.booleans(), seed=seeds)
@example(shape=(2, 3, 8), i=31, learned=True, seed=5)
def test_ddpm_step(student, device, loop_rule, shape, i, learned, seed) -> None:
    """ddpm_step: one strided step, mean plus noise"""
    expect_the_course_rule(loop_rule)
    t, t_prev = int(TIMESTEPS[i]), int(TIMESTEPS[i + 1])
    x_t, eps = _images(shape, seed, device), _images(shape, seed + 1, device)
    v = _images(shape, seed + 2, device) if learned else None
    kind = "learned_range" if learned else "fixed_small"
    a, ap = ABAR[t].to(device), ABAR[t_prev].to(device)
    fixed = denoise.posterior_log_variance(a, ap)
    log_var = denoise.learned_range_log_variance(v, a, ap) if learned else fixed

    def mean(xe: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        return denoise.posterior_mean(xe[0], denoise.estimate_x0(xe[0], xe[1], a), a, ap)

    likely = {"exp(log σ²) is the variance: scale the noise by the standard deviation exp(0.5·log σ²)":
              lambda xe, s: mean(xe) + log_var.exp() * _noise(xe[0], s, device),
              "it adds no noise: add exp(0.5·log σ²)·z, z drawn from the generator": lambda xe, s: mean(xe)}  # fmt: skip
    likely[OTHER_RULE["writeup"]] = lambda xe, s: denoise.writeup_step(xe[0], Prediction(xe[1], v), t, t_prev,
                                                                       ABAR.to(device), kind)  # fmt: skip
    if learned:
        likely["for a learned_range step, the log variance comes from the prediction's variance values"] = (
            lambda xe, s: mean(xe) + (0.5 * fixed).exp() * _noise(xe[0], s, device))  # fmt: skip
    xe = (_images(LAW_SHAPE, 98, device), _images(LAW_SHAPE, 97, device))
    law = [(_ddpm_drawn(student, device, None, 31, "fixed_small"), xe,
            f"for a fixed_small step t={TIMESTEPS[31]} to t'={TIMESTEPS[32]}, your x_t'"),
           (_ddpm_drawn(student, device, _images(LAW_SHAPE, 99, device), 32, "learned_range"), xe,
            f"for a learned_range step t={TIMESTEPS[32]} to t'={TIMESTEPS[33]}, your x_t'")]  # fmt: skip
    other = (_images(shape, seed + 7, device), _images(shape, seed + 8, device))
    expect_drawn(_ddpm_drawn(student, device, v, i, kind), (x_t, eps), seed,
                 f"for a {kind} step t={t} to t'={t_prev}, your x_t'", other=other, law=law, likely=likely)  # fmt: skip


@for_rule("writeup")
@check("iterative", 3)
@given(shape=shapes, i=st.integers(0, 32), learned=st.booleans(), seed=seeds)
@example(shape=(2, 3, 8), i=32, learned=True, seed=5)
def test_writeup_step(student, device, loop_rule, shape, i, learned, seed) -> None:
    """writeup_step: one strided step by the write-up's rule"""
    expect_the_course_rule(loop_rule)
    t, t_prev = int(TIMESTEPS[i]), int(TIMESTEPS[i + 1])
    x_t, eps = _images(shape, seed, device), _images(shape, seed + 1, device)
    v = _images(shape, seed + 2, device) if learned else None
    kind = "learned_range" if learned else "fixed_small"
    got = value_of(run(student, "writeup_step", x_t, Helper("prediction", (eps, v)), t, t_prev, ABAR, kind,
                       Helper("generator", (seed,))), "writeup_step")  # fmt: skip
    abar = ABAR.to(device)
    a, ap = abar[t], abar[t_prev]
    want = denoise.writeup_step(x_t, Prediction(eps, v), t, t_prev, abar, kind)
    x0 = denoise.estimate_x0(x_t, eps, a)
    likely = {OTHER_RULE["ddpm"]: denoise.ddpm_step(x_t, Prediction(eps, v), t, t_prev, abar, kind,
                                                    generator(device, seed)),
              OTHER_RULE["ddpm"] + " (with the fixed variance)": denoise.ddpm_step(
                  x_t, Prediction(eps), t, t_prev, abar, "fixed_small", generator(device, seed)),
              OTHER_RULE["ddpm"] + " (here without its noise)": denoise.posterior_mean(x_t, x0, a, ap),
              "the square roots are missing: √ᾱ_t' multiplies x̂_0 and √(1 − ᾱ_t') the noise estimate":
              ap * x0 + (1 - ap) * eps,
              "x̂_0 and ε̂ are swapped: √ᾱ_t' multiplies x̂_0": _mix(eps, x0, ap),
              "the weights are those of t: the step goes to t', so use ᾱ_t' = alphas_cumprod[t']": _mix(x0, eps, a),
              "it starts from x_t: the signal term is √ᾱ_t' times the estimate x̂_0 = (x_t − √(1 − ᾱ_t) ε̂) / √ᾱ_t":
              _mix(x_t, eps, ap)}  # fmt: skip
    expect_close(got, want, f"for the step t={t} to t'={t_prev}, your x_t'", atol=tolerance(want, 2),
                 likely=likely)  # fmt: skip


@for_rule("writeup")
@check("iterative", 1)
@given(shape=shapes, i=st.integers(0, 32), sigma=st.floats(0.05, 1.0), seed=seeds)
def test_writeup_step_adds_sigma_z(student, device, loop_rule, shape, i, sigma, seed) -> None:
    """writeup_step: with σ > 0 it adds σ z, z standard normal from the generator"""
    expect_the_course_rule(loop_rule)
    t, t_prev = int(TIMESTEPS[i]), int(TIMESTEPS[i + 1])
    abar = ABAR.to(device)

    def ours(xe: tuple[torch.Tensor, torch.Tensor], s: int, scale: float = sigma) -> torch.Tensor:
        return denoise.writeup_step(xe[0], Prediction(xe[1]), t, t_prev, abar, "fixed_small", generator(device, s),
                                    sigma=scale)  # fmt: skip

    def drawn(at_t: int, at_prev: int, scale: float) -> Drawn:
        return Drawn(lambda xe, s: value_of(run(student, "writeup_step", xe[0], Helper("prediction", (xe[1], None)),
                                                at_t, at_prev, ABAR, "fixed_small", Helper("generator", (s,)),
                                                sigma=scale), "writeup_step"),
                     lambda xe, s: denoise.writeup_step(xe[0], Prediction(xe[1]), at_t, at_prev, abar, "fixed_small",
                                                        generator(device, s), sigma=scale),
                     steps=2)  # fmt: skip

    likely = {"it adds no noise: add σ·z, z drawn from the generator": lambda xe, s: ours(xe, s, 0.0),
              "the noise is not scaled by σ: add σ·z": lambda xe, s: ours(xe, s, 0.0) + _noise(xe[0], s, device),
              "σ is the standard deviation: add σ·z, not σ²·z": lambda xe, s: ours(xe, s, sigma**2)}  # fmt: skip
    xe = (_images(shape, seed, device), _images(shape, seed + 1, device))
    law = (drawn(int(TIMESTEPS[31]), int(TIMESTEPS[32]), 0.5),
           (_images(LAW_SHAPE, 98, device), _images(LAW_SHAPE, 97, device)),
           f"for the step t={TIMESTEPS[31]} to t'={TIMESTEPS[32]} with σ = 0.5, your x_t'")  # fmt: skip
    expect_drawn(drawn(t, t_prev, sigma), xe, seed, f"for the step t={t} to t'={t_prev} with σ = {sigma:.3g}, your x_t'",
                 other=(_images(shape, seed + 7, device), _images(shape, seed + 8, device)), law=[law],
                 likely=likely)  # fmt: skip


def _denoise_drawn(student, device: torch.device, weight: float, i_start: int) -> Drawn:
    """iterative_denoise with the linear predictor, as a function of ((x, shift), seed)."""
    abar = ABAR.to(device)
    return Drawn(lambda xk, s: value_of(run(student, "iterative_denoise", Helper("linear_predictor", (weight, xk[1])),
                                            xk[0], TIMESTEPS, i_start, ABAR, "fixed_small", Helper("generator", (s,))),
                                        "iterative_denoise"),
                 lambda xk, s: denoise.iterative_denoise(_ref("linear_predictor", device, weight, xk[1]), xk[0],
                                                         TIMESTEPS, i_start, abar, "fixed_small", generator(device, s)),
                 steps=len(TIMESTEPS) - 1 - i_start)  # fmt: skip


@check("iterative", 2)
@given(shape=shapes, i_start=st.integers(0, 30), weight=st.floats(-0.5, 0.5), seed=seeds)
def test_iterative_denoise(student, device, loop_rule, shape, i_start, weight, seed) -> None:
    """iterative_denoise: the loop from timesteps[i_start] to 0"""
    x, abar = _images(shape, seed, device), ABAR.to(device)

    def loop(timesteps: list[int], start: int) -> Run:
        return lambda xk, s: denoise.iterative_denoise(_ref("linear_predictor", device, weight, xk[1]), xk[0],
                                                       timesteps, start, abar, "fixed_small", generator(device, s))  # fmt: skip

    likely = {"it skips the first step, from timesteps[i_start]": loop(TIMESTEPS, i_start + 1)}
    if i_start < len(TIMESTEPS) - 3:
        likely["it stops one step early, before the step to timesteps[-1]"] = loop(
            TIMESTEPS[:-1], i_start
        )
    law = (_denoise_drawn(student, device, 0.2, 20), (_images(LAW_SHAPE, 96, device), 1.0),
           f"from i_start=20 (t={TIMESTEPS[20]}), your final image")  # fmt: skip
    with rules.using(loop_rule):  # the loop as the submission's step makes it
        expect_drawn(_denoise_drawn(student, device, weight, i_start), (x, 1.0), seed,
                     f"from i_start={i_start}, your final image", other=(_images(shape, seed + 7, device), -0.6),
                     law=[law], likely=likely)  # fmt: skip


def _sample_drawn(student, device: torch.device, weight: float, timesteps: list[int]) -> Drawn:
    """sample with the linear predictor, as a function of ((shape, shift), seed)."""
    abar = ABAR.to(device)
    return Drawn(lambda sk, s: value_of(run(student, "sample", Helper("linear_predictor", (weight, sk[1])), sk[0],
                                            timesteps, ABAR, "fixed_small", Helper("generator", (s,)),
                                            device=str(device)), "sample"),
                 lambda sk, s: denoise.sample(_ref("linear_predictor", device, weight, sk[1]), sk[0], timesteps, abar,
                                              "fixed_small", generator(device, s), device=device),
                 steps=len(timesteps))  # fmt: skip


@check("sample", 2)
@given(shape=shapes, weight=st.floats(-0.5, 0.5), seed=seeds)
def test_sample(student, device, loop_rule, shape, weight, seed) -> None:
    """sample: from pure noise, through every strided step"""
    b, c, s = shape
    abar = ABAR.to(device)

    def uniform_start(sk: tuple[tuple[int, ...], float], s: int) -> torch.Tensor:
        g = generator(device, s)
        x = torch.rand(sk[0], generator=g, device=device)
        return denoise.iterative_denoise(_ref("linear_predictor", device, weight, sk[1]), x, TIMESTEPS, 0, abar,
                                         "fixed_small", g)  # fmt: skip

    # few steps: the starting noise dominates the result's random part; a weight that makes the
    # first estimate of x0 forget x_T: the noise added at each step does
    short, forget = [990, 690, 390, 90, 0], [990, 600, 300, 0]
    law = [(_sample_drawn(student, device, 0.2, short), ((4, 3, 28, 28), 1.0),
            f"through the timesteps {short}, your sample"),
           (_sample_drawn(student, device, FORGETS_X_T, forget), ((4, 3, 28, 28), 1.0),
            f"through the timesteps {forget}, your sample")]  # fmt: skip
    with rules.using(loop_rule):  # the loop as the submission's step makes it
        expect_drawn(_sample_drawn(student, device, weight, TIMESTEPS), ((b, c, s, s), 1.0), seed,
                     f"for shape {(b, c, s, s)}, your sample", other=((b, c, s, s), -0.6), law=law,
                     likely={"the starting noise x_T is uniform: draw it with torch.randn, not torch.rand": uniform_start})  # fmt: skip


@check("sample", 2)
def test_sample_draws_digits_with_the_shipped_model(student, device) -> None:
    """sample: with the shipped MNIST model and guidance, it draws the digits asked for"""
    from fundiff.evaluation.metrics import shipped_classifier

    # every 90th timestep (12 steps): the shipped model draws clear digits with as few
    labels = list(range(10))
    got = value_of(run(student, "sample", Helper("guided_digits", (labels, 5.0)), (10, 1, 28, 28), COARSE, ABAR,
                       "fixed_small", Helper("generator", (0,)), device=str(device), on_meta=False), "sample")  # fmt: skip
    expect_shape(got, torch.zeros(10, 1, 28, 28), "your samples of the digits 0-9")
    read = shipped_classifier(device)(((got.to(device) + 1) / 2).clamp(0, 1)).argmax(1).cpu()
    right = int((read == torch.tensor(labels)).sum())
    assert right >= 8, (f"the shipped classifier reads {right} of the 10 digits your sampler drew as the digit asked "
                        "for (at least 8 needed)")  # fmt: skip


@check("cfg", 2)
@given(shape=st.tuples(st.integers(1, 3), st.sampled_from([1, 3]), st.sampled_from([8, 16])),
       cond=st.floats(-3, 3), scale=st.floats(0, 10), seed=seeds)  # fmt: skip
def test_classifier_free_guidance(student, device, shape, cond, scale, seed) -> None:
    """classifier_free_guidance: the guided estimate"""
    c, u = _images(shape, seed, device) * cond, _images(shape, seed + 1, device)
    got = value_of(
        run(student, "classifier_free_guidance", c, u, scale), "classifier_free_guidance"
    )
    want = classifier_free_guidance(c, u, scale)
    likely = guidance_mistakes(c, u, scale)
    expect_close(
        got, want, f"at scale {scale:.3g} your guided estimate", atol=tolerance(want), likely=likely
    )


@check("cfg", 2)
@given(
    b=st.integers(1, 3),
    t=st.integers(0, 999),
    learned=st.booleans(),
    scale=st.floats(0, 10),
    seed=seeds,
)
@example(b=2, t=500, learned=True, scale=3.0, seed=1)
def test_guided_prediction(student, device, b, t, learned, scale, seed) -> None:
    """guided_prediction: one guided estimate from the model"""
    toy, backend = _toy(device, learned)
    x = _images((b, 3, 8), seed, device)
    cond, uncond = backend.encode("a lithograph of waterfalls"), backend.encode("")
    eps, var = prediction_of(
        run(student, "guided_prediction", toy, x, t, cond, uncond, scale), "guided_prediction"
    )
    want = cfg.guided_prediction(backend, x, t, cond, uncond, scale)
    on_c, on_u = backend.predict(x, t, cond), backend.predict(x, t, uncond)
    expect_close(eps, want.eps, f"at t={t}, scale {scale:.3g}, your guided noise estimate", atol=tolerance(want.eps),
                 likely={"the prompt's and the empty prompt's estimates are swapped":
                         classifier_free_guidance(on_u.eps, on_c.eps, scale)})  # fmt: skip
    if not learned:
        if var is not None:
            raise AssertionError(
                "for a fixed_small model (no variance values), the variance must stay None"
            )
        return
    if var is None:
        raise AssertionError(
            "for a learned_range model, keep the conditional prediction's variance values"
        )
    expect_close(var, want.variance, f"at t={t}, your variance values", atol=tolerance(want.variance),
                 likely={"they come from the empty prompt's prediction: keep the prompt's (conditional) ones":
                         on_u.variance,
                         "they are guided too: keep the conditional prediction's, unguided":
                         classifier_free_guidance(on_c.variance, on_u.variance, scale)})  # fmt: skip


@check("cfg", 1)
@given(t=st.integers(0, 999), scale=st.floats(0, 10), seed=seeds)
def test_guided(student, device, t, scale, seed) -> None:
    """guided: the guided predictor it returns"""
    toy, backend = _toy(device)
    x = _images((2, 3, 8), seed, device)
    cond, uncond = backend.encode("an oil painting of a snowy mountain village"), backend.encode("")
    eps, _ = prediction_of(
        run(student, "guided", toy, cond, uncond, scale, then=(x, t)), "guided(...)(x, t)"
    )
    want = cfg.guided(backend, cond, uncond, scale)(x, t).eps
    expect_close(eps, want, f"at t={t}, scale {scale:.3g}, your predictor's estimate", atol=tolerance(want),
                 likely={"it ignores the scale it is given": cfg.guided(backend, cond, uncond)(x, t).eps})  # fmt: skip


def _sdedit_drawn(student, device: torch.device, weight: float, i_start: int) -> Drawn:
    """sdedit with the linear predictor, as a function of ((image, shift), seed)."""
    abar = ABAR.to(device)
    return Drawn(lambda xk, s: value_of(run(student, "sdedit", Helper("linear_predictor", (weight, xk[1])), xk[0],
                                            i_start, TIMESTEPS, ABAR, "fixed_small", Helper("generator", (s,))),
                                        "sdedit"),
                 lambda xk, s: edit.sdedit(_ref("linear_predictor", device, weight, xk[1]), xk[0], i_start, TIMESTEPS,
                                           abar, "fixed_small", generator(device, s)),
                 steps=len(TIMESTEPS) - i_start)  # fmt: skip


@check("sdedit", 2)
@given(
    shape=shapes,
    i_start=st.sampled_from([1, 3, 5, 7, 10, 20]),
    weight=st.floats(-0.5, 0.5),
    seed=seeds,
)
def test_sdedit(student, device, loop_rule, shape, i_start, weight, seed) -> None:
    """sdedit: noise the image to timesteps[i_start], then denoise it"""
    image, abar = _images(shape, seed, device), ABAR.to(device)

    def from_step(noise_at: int, denoise_from: int) -> Run:
        def wrong(xk: tuple[torch.Tensor, float], s: int) -> torch.Tensor:
            g = generator(device, s)
            x_t = forward.forward(xk[0], TIMESTEPS[noise_at], abar, g)
            return denoise.iterative_denoise(_ref("linear_predictor", device, weight, xk[1]), x_t, TIMESTEPS,
                                             denoise_from, abar, "fixed_small", g)  # fmt: skip

        return wrong

    likely = {"it noises the image to timesteps[0], not to timesteps[i_start]": from_step(0, i_start),
              "it denoises from timesteps[0], not from timesteps[i_start]": from_step(i_start, 0)}  # fmt: skip
    law = (
        _sdedit_drawn(student, device, 0.2, 10),
        (_images(LAW_SHAPE, 95, device), 1.0),
        "from i_start=10, your edit",
    )
    with rules.using(loop_rule):  # the loop as the submission's step makes it
        expect_drawn(_sdedit_drawn(student, device, weight, i_start), (image, 1.0), seed,
                     f"from i_start={i_start}, your edit", other=(_images(shape, seed + 7, device), -0.6), law=[law],
                     likely=likely)  # fmt: skip


def _mask(shape: tuple[int, int, int], seed: int, device: torch.device) -> torch.Tensor:
    b, _, s = shape
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(1, 1, s, s, generator=g) > 0.5).float().expand(b, 1, s, s).to(device)


def _inpaint_drawn(student, device: torch.device, weight: float, mask: torch.Tensor,
                   timesteps: list[int] = TIMESTEPS) -> Drawn:  # fmt: skip
    """inpaint with the mixing predictor, as a function of ((original, shift), seed)."""
    abar = ABAR.to(device)
    return Drawn(lambda xk, s: value_of(run(student, "inpaint", Helper("mixing_predictor", (weight, xk[1])), xk[0],
                                            mask, timesteps, ABAR, "fixed_small", Helper("generator", (s,))),
                                        "inpaint"),
                 lambda xk, s: edit.inpaint(_ref("mixing_predictor", device, weight, xk[1]), xk[0], mask, timesteps,
                                            abar, "fixed_small", generator(device, s)),
                 steps=2 * len(timesteps))  # fmt: skip


@check("inpaint", 2)
@given(shape=shapes, weight=st.floats(-0.5, 0.5), seed=seeds)
def test_inpaint(student, device, loop_rule, shape, weight, seed) -> None:
    """inpaint: new content inside the mask, the original outside"""
    # the estimator mixes pixels, so what is pasted outside the mask at each step shows inside it
    original, mask, abar = _images(shape, seed, device), _mask(shape, seed, device), ABAR.to(device)

    def clean_original(xk: tuple[torch.Tensor, float], s: int) -> torch.Tensor:
        g, predictor = generator(device, s), _ref("mixing_predictor", device, weight, xk[1])
        x = torch.randn(xk[0].shape, generator=g, device=device)
        for t, t_prev in zip(TIMESTEPS[:-1], TIMESTEPS[1:], strict=True):
            x = (
                mask * denoise.denoise_step(x, predictor(x, t), t, t_prev, abar, "fixed_small", g)
                + (1 - mask) * xk[0]
            )
        return x

    def inverted(xk: tuple[torch.Tensor, float], s: int) -> torch.Tensor:
        return edit.inpaint(_ref("mixing_predictor", device, weight, xk[1]), xk[0], 1 - mask, TIMESTEPS, abar,
                            "fixed_small", generator(device, s))  # fmt: skip

    likely = {"the mask is inverted: it is 1 where new content goes": inverted,
              "outside the mask, paste the original noised to t' (forward(original, t')), clean only at t' = 0":
              clean_original}  # fmt: skip
    law_mask, law_input = _mask(LAW_SHAPE, 94, device), (_images(LAW_SHAPE, 94, device), 1.0)
    # from t = 600, with a weight that makes the estimate of x0 forget x (not its mirror image): the
    # noise added at each step and the noise of the original pasted outside the mask dominate
    short = [600, 300, 100, 0]
    law = [(_inpaint_drawn(student, device, 0.2, law_mask), law_input, "your inpainted image"),
           (_inpaint_drawn(student, device, 1 / float(1 - ABAR[600]) ** 0.5, law_mask, short), law_input,
            f"through the timesteps {short}, your inpainted image")]  # fmt: skip
    with rules.using(loop_rule):  # the loop as the submission's step makes it
        expect_drawn(_inpaint_drawn(student, device, weight, mask), (original, 1.0), seed, "your inpainted image",
                     other=(_images(shape, seed + 7, device), -0.6), law=law, likely=likely)  # fmt: skip


@check("inpaint", 1)
@given(shape=shapes, seed=seeds)
def test_inpaint_keeps_the_original_outside_the_mask(student, device, shape, seed) -> None:
    """inpaint: outside the mask, the result is the original"""
    original, mask = _images(shape, seed, device), _mask(shape, seed, device)
    got = value_of(run(student, "inpaint", Helper("linear_predictor", (0.2,)), original, mask, TIMESTEPS, ABAR,
                       "fixed_small", Helper("generator", (seed,))), "inpaint")  # fmt: skip
    expect_shape(got, original, "your inpainted image")
    keep = (mask == 0).expand_as(original).cpu()
    expect_close(
        got[keep], original.cpu()[keep], "outside the mask, your result", atol=tolerance(original)
    )


VIEW_NAMES = ["identity", "flip", "rotate90", "rotate180", "transpose", "negate"]


def _not_inverted(view: View) -> View:
    """``view`` with its estimates left in the viewed frame (the mistake of not mapping them back)."""
    return View(view.name, view.apply, lambda x: x, lambda x: x)


@check("anagram", 2)
@given(t=st.integers(0, 999), second=st.sampled_from(VIEW_NAMES), learned=st.booleans(), seed=seeds)
@example(t=700, second="negate", learned=True, seed=3)
def test_anagram(student, device, t, second, learned, seed) -> None:
    """anagram: each prompt's estimate seen through its view, mapped back and averaged"""
    toy, backend = _toy(device, learned)
    x = _images((2, 3, 8), seed, device)
    conds = [backend.encode("an oil painting of an old man"),
             backend.encode("an oil painting of people around a campfire")]  # fmt: skip
    uncond = backend.encode("")
    views = [Helper("view", ("identity",)), Helper("view", (second,))]
    eps, var = prediction_of(
        run(student, "anagram", toy, conds, views, uncond, 7.0, then=(x, t)), "anagram(...)(x, t)"
    )
    ref_views = [_ref("view", device, "identity"), _ref("view", device, second)]
    want = illusions.anagram(backend, conds, ref_views, uncond, 7.0)(x, t)
    raw = illusions.anagram(backend, conds, [_not_inverted(v) for v in ref_views], uncond, 7.0)(
        x, t
    )
    expect_close(eps, want.eps, f"with views identity and {second}, at t={t}, your estimate", atol=tolerance(want.eps),
                 likely={"each view's estimate must be mapped back with view.invert": raw.eps,
                         "average the estimates (their mean), not their sum": 2 * want.eps})  # fmt: skip
    if not learned:
        return
    if var is None:
        raise AssertionError("for a learned_range model, your anagram dropped the variance values")
    signed = illusions.anagram(backend, conds, [View(v.name, v.apply, v.invert, v.invert) for v in ref_views],
                               uncond, 7.0)(x, t)  # fmt: skip
    expect_close(var, want.variance, f"with views identity and {second}, your variance values",
                 atol=tolerance(want.variance),
                 likely={"map each view's variance values back with view.invert_values (they have no sign)":
                         signed.variance, "each view's variance values must be mapped back": raw.variance})  # fmt: skip


@check("anagram", 1)
@given(t=st.integers(0, 999), seed=seeds)
def test_anagram_with_a_pixel_permutation(student, device, t, seed) -> None:
    """anagram: any pixel permutation works as a view"""
    toy, backend = _toy(device)
    x = _images((1, 3, 8), seed, device)
    perm = torch.randperm(64, generator=torch.Generator().manual_seed(seed))
    conds, uncond = (
        [backend.encode("a rocket ship"), backend.encode("a pencil")],
        backend.encode(""),
    )
    views = [Helper("view", ("identity",)), Helper("view", ("permute", perm))]
    eps, _ = prediction_of(run(student, "anagram", toy, conds, views, uncond, 5.0, then=(x, t), on_meta=False),
                           "anagram(...)(x, t)")  # fmt: skip
    ref_views = [_ref("view", device, "identity"), _ref("view", device, "permute", perm)]
    want = illusions.anagram(backend, conds, ref_views, uncond, 5.0)(x, t)
    raw = illusions.anagram(backend, conds, [_not_inverted(v) for v in ref_views], uncond, 5.0)(
        x, t
    )
    expect_close(eps, want.eps, f"with a pixel permutation view, at t={t}, your estimate", atol=tolerance(want.eps),
                 likely={"each view's estimate must be mapped back with view.invert": raw.eps})  # fmt: skip


@check("hybrid", 2)
@given(t=st.integers(0, 999), size=st.sampled_from([16, 28, 64]), seed=seeds)
def test_hybrid(student, device, t, size, seed) -> None:
    """hybrid: one prompt's low frequencies plus another's high frequencies"""
    toy, backend = _toy(device, size=size)
    x = _images((1, 3, size), seed, device)
    low, high, uncond = backend.encode("a skull"), backend.encode("a waterfall"), backend.encode("")
    eps, _ = prediction_of(
        run(student, "hybrid", toy, low, high, uncond, 7.0, then=(x, t)), "hybrid(...)(x, t)"
    )
    want = illusions.hybrid(backend, low, high, uncond, 7.0)(x, t).eps
    lowpass, highpass = illusions.frequency_split(size)
    likely = {"the prompts are swapped: low frequencies from cond_low, high ones from cond_high":
              illusions.factorized(backend, [low, high], [highpass, lowpass], uncond, 7.0)(x, t).eps}  # fmt: skip
    if 16 < size < 64:  # the 64 px filter pads by 16: smaller images cannot take it
        likely["the filter must scale with the image size: frequency_split(backend.image_shape[-1])"] = (
            illusions.factorized(backend, [low, high], list(illusions.frequency_split(64)), uncond, 7.0)(x, t).eps)  # fmt: skip
    expect_close(
        eps,
        want,
        f"for {size} px images at t={t}, your estimate",
        atol=tolerance(want),
        likely=likely,
    )


@check("hybrid", 1)
@given(t=st.integers(0, 999), scale=st.floats(1, 10), seed=seeds)
def test_factorized_grayscale_and_colour(student, device, t, scale, seed) -> None:
    """factorized: any components that sum to the identity (grayscale and colour)"""
    toy, backend = _toy(device)
    x = _images((2, 3, 8), seed, device)
    conds, uncond = [backend.encode("a lion"), backend.encode("a forest")], backend.encode("")
    parts = [Helper("component", ("gray",)), Helper("component", ("colour",))]
    eps, _ = prediction_of(run(student, "factorized", toy, conds, parts, uncond, scale, then=(x, t)),
                           "factorized(...)(x, t)")  # fmt: skip
    want = illusions.factorized(backend, conds, [_ref("component", device, "gray"), _ref("component", device, "colour")],
                                uncond, scale)(x, t).eps  # fmt: skip
    expect_close(eps, want, f"with grayscale/colour components at t={t}, your estimate", atol=tolerance(want),
                 likely={"sum the components (they add up to the identity), not their mean": want / 2})  # fmt: skip
