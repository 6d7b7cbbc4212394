"""Part A's checks: every graded function of the notebook against fundiff's reference.

Tolerances: float32 arithmetic in another order differs by a few ulps of values
of order 1-10, so 1e-4 absolute for one formula; a loop of 30 steps compounds
that, so 1e-3. Draws from a shared generator must match up to that rounding
(the same calls in the same order). Division by small sqrt(ᾱ) (estimate_x0 at
t near 999 multiplies errors by up to ~300) gets 1e-3.
"""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st

from autograder.checks.conftest import check, expect_close, generator, prediction_of, value_of
from autograder.toys import Helper, ToyBackend, factories
from fundiff.backends.base import Prediction
from fundiff.diffusion import cfg, denoise, edit, forward, illusions
from fundiff.guidance import classifier_free_guidance
from fundiff.schedules import cosine_alphas_cumprod, strided_timesteps

ABAR = cosine_alphas_cumprod(1000)
TIMESTEPS = strided_timesteps()
COARSE = strided_timesteps(stride=90)  # 990, 900, ..., 0
shapes = st.tuples(st.integers(1, 3), st.sampled_from([1, 3]), st.sampled_from([8, 28]))
seeds = st.integers(0, 2**16)
DDPM_HINT = (
    "mean from x0_hat, then add exp(0.5 * log variance) * z, z drawn once from the generator"
)


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


@check("forward", 2)
@given(shape=shapes, t=st.integers(0, 999), seed=seeds)
def test_forward_with_given_noise(student, device, shape, t, seed) -> None:
    """forward: x_t from x0 and given noise"""
    x0, eps = _images(shape, seed, device), _images(shape, seed + 1, device)
    got = value_of(student.call("forward", x0, t, ABAR, eps=eps), "forward")
    expect_close(got, forward.forward(x0, t, ABAR.to(device), eps=eps), f"at t={t} your x_t", atol=1e-4,
                 hint="use alphas_cumprod[t] (ᾱ_t), with √ᾱ_t on x0 and √(1-ᾱ_t) on the noise")  # fmt: skip


@check("forward", 1)
@given(shape=shapes, t=st.integers(0, 999), seed=seeds)
def test_forward_draws_from_the_generator(student, device, shape, t, seed) -> None:
    """forward: the noise comes from the generator"""
    x0 = _images(shape, seed, device)
    got = value_of(student.call("forward", x0, t, ABAR, Helper("generator", (seed,))), "forward")
    want = forward.forward(x0, t, ABAR.to(device), generator(device, seed))
    expect_close(got, want, f"at t={t} with a seeded generator, your x_t", atol=1e-4,
                 hint="draw the noise with torch.randn(x0.shape, generator=generator, device=x0.device) and nothing else")  # fmt: skip


@check("one_step", 2)
@given(shape=shapes, t=st.integers(1, 999), seed=seeds)
def test_estimate_x0(student, device, shape, t, seed) -> None:
    """estimate_x0: the one-step estimate of x0"""
    x_t, eps = _images(shape, seed, device), _images(shape, seed + 1, device)
    got = value_of(student.call("estimate_x0", x_t, eps, ABAR[t]), "estimate_x0")
    expect_close(got, denoise.estimate_x0(x_t, eps, ABAR[t].to(device)), f"at t={t} your x0 estimate", atol=1e-3,
                 hint="did you use alphas instead of alphas_cumprod?")  # fmt: skip


@check("iterative", 2)
@given(shape=shapes, i=st.integers(0, 32), seed=seeds)
def test_posterior_mean(student, device, shape, i, seed) -> None:
    """posterior_mean: the mean of a strided DDPM step"""
    t, t_prev = int(TIMESTEPS[i]), int(TIMESTEPS[i + 1])
    x_t, x0 = _images(shape, seed, device), _images(shape, seed + 1, device)
    got = value_of(student.call("posterior_mean", x_t, x0, ABAR[t], ABAR[t_prev]), "posterior_mean")
    want = denoise.posterior_mean(x_t, x0, ABAR[t].to(device), ABAR[t_prev].to(device))
    expect_close(got, want, f"for the step t={t} to t'={t_prev}, your mean", atol=1e-4,
                 hint="alpha is ᾱ_t / ᾱ_t' for a strided step, not the one-step alpha")  # fmt: skip


@check("iterative", 1)
@given(i=st.integers(0, 32))
def test_posterior_log_variance(student, i) -> None:
    """posterior_log_variance: the fixed (small) variance of a strided step"""
    t, t_prev = int(TIMESTEPS[i]), int(TIMESTEPS[i + 1])
    got = value_of(
        student.call("posterior_log_variance", ABAR[t], ABAR[t_prev]), "posterior_log_variance"
    )
    want = denoise.posterior_log_variance(ABAR[t], ABAR[t_prev])
    expect_close(got.reshape(want.shape) if got.numel() == want.numel() else got, want,
                 f"for the step t={t} to t'={t_prev}, your log variance", atol=1e-4,
                 hint="β̃ = (1 - ᾱ_t') / (1 - ᾱ_t) · β with β = 1 - ᾱ_t / ᾱ_t'; clamp it away from 0 before the log")  # fmt: skip


@check("iterative", 1)
@given(shape=shapes, i=st.integers(0, 32), seed=seeds)
def test_learned_range_log_variance(student, device, shape, i, seed) -> None:
    """learned_range_log_variance: IF's learned variance between β̃ and β"""
    t, t_prev = int(TIMESTEPS[i]), int(TIMESTEPS[i + 1])
    v = _images(shape, seed, device)
    got = value_of(
        student.call("learned_range_log_variance", v, ABAR[t], ABAR[t_prev]),
        "learned_range_log_variance",
    )
    want = denoise.learned_range_log_variance(v, ABAR[t].to(device), ABAR[t_prev].to(device))
    expect_close(got, want, f"for the step t={t} to t'={t_prev}, your log variance", atol=1e-4,
                 hint="v in [-1, 1] maps to frac = (v + 1) / 2, then frac · log β + (1 - frac) · log β̃")  # fmt: skip


@check("iterative", 2)
@given(shape=shapes, i=st.integers(0, 32), learned=st.booleans(), seed=seeds)
def test_ddpm_step(student, device, shape, i, learned, seed) -> None:
    """ddpm_step: one strided step, mean plus noise"""
    t, t_prev = int(TIMESTEPS[i]), int(TIMESTEPS[i + 1])
    x_t, eps = _images(shape, seed, device), _images(shape, seed + 1, device)
    v = _images(shape, seed + 2, device) if learned else None
    kind = "learned_range" if learned else "fixed_small"
    got = value_of(student.call("ddpm_step", x_t, Helper("prediction", (eps, v)), t, t_prev, ABAR, kind,
                                Helper("generator", (seed,))), "ddpm_step")  # fmt: skip
    want = denoise.ddpm_step(
        x_t, Prediction(eps, v), t, t_prev, ABAR.to(device), kind, generator(device, seed)
    )
    expect_close(
        got, want, f"for a {kind} step t={t} to t'={t_prev}, your x_t'", atol=1e-4, hint=DDPM_HINT
    )


@check("iterative", 2)
@given(shape=shapes, i_start=st.integers(0, 30), weight=st.floats(-0.5, 0.5), seed=seeds)
def test_iterative_denoise(student, device, shape, i_start, weight, seed) -> None:
    """iterative_denoise: the loop from timesteps[i_start] to 0"""
    x = _images(shape, seed, device)
    got = value_of(student.call("iterative_denoise", Helper("linear_predictor", (weight,)), x, TIMESTEPS, i_start,
                                ABAR, "fixed_small", Helper("generator", (seed,))), "iterative_denoise")  # fmt: skip
    want = denoise.iterative_denoise(_ref("linear_predictor", device, weight), x, TIMESTEPS, i_start,
                                     ABAR.to(device), "fixed_small", generator(device, seed))  # fmt: skip
    expect_close(got, want, f"from i_start={i_start}, your final image", atol=1e-3,
                 hint="step from timesteps[i] to timesteps[i + 1] for i = i_start, ..., len - 2, one ddpm_step each")  # fmt: skip


@check("sample", 2)
@given(shape=shapes, weight=st.floats(-0.5, 0.5), seed=seeds)
def test_sample(student, device, shape, weight, seed) -> None:
    """sample: from pure noise, through every strided step"""
    kind = "fixed_small"
    b, c, s = shape
    got = value_of(student.call("sample", Helper("linear_predictor", (weight,)), (b, c, s, s), TIMESTEPS, ABAR, kind,
                                Helper("generator", (seed,)), device=str(device)), "sample")  # fmt: skip
    want = denoise.sample(_ref("linear_predictor", device, weight), (b, c, s, s), TIMESTEPS, ABAR.to(device), kind,
                          generator(device, seed), device=device)  # fmt: skip
    expect_close(got, want, f"for shape {(b, c, s, s)}, your sample", atol=1e-3,
                 hint="draw x_T with torch.randn(shape, generator=generator, device=device), then denoise from i_start=0")  # fmt: skip


@check("sample", 2)
def test_sample_draws_digits_with_the_shipped_model(student, device) -> None:
    """sample: with the shipped MNIST model and guidance, it draws the digits asked for"""
    from fundiff.metrics import shipped_classifier

    labels = list(
        range(10)
    )  # every 90th timestep (12 steps): the shipped model draws clear digits with as few
    got = value_of(student.call("sample", Helper("guided_digits", (labels, 5.0)), (10, 1, 28, 28), COARSE,
                                ABAR, "fixed_small", Helper("generator", (0,)), device=str(device)), "sample")  # fmt: skip
    if tuple(got.shape) != (10, 1, 28, 28) or not torch.isfinite(got).all():
        expect_close(got, torch.zeros(10, 1, 28, 28), "your samples of the digits 0-9")
    read = shipped_classifier(device)(((got.to(device) + 1) / 2).clamp(0, 1)).argmax(1).cpu()
    right = int((read == torch.tensor(labels)).sum())
    assert right >= 8, (f"the shipped classifier reads {right} of the 10 digits your sampler drew as the digit asked "
                        "for (at least 8 needed): check the loop's timesteps and the noise it adds")  # fmt: skip


@check("cfg", 2)
@given(shape=st.tuples(st.integers(1, 3), st.sampled_from([1, 3]), st.sampled_from([8, 16])),
       cond=st.floats(-3, 3), scale=st.floats(0, 10), seed=seeds)  # fmt: skip
def test_classifier_free_guidance(student, device, shape, cond, scale, seed) -> None:
    """classifier_free_guidance: the guided estimate"""
    c, u = _images(shape, seed, device) * cond, _images(shape, seed + 1, device)
    got = value_of(
        student.call("classifier_free_guidance", c, u, scale), "classifier_free_guidance"
    )
    expect_close(got, classifier_free_guidance(c, u, scale), f"at scale {scale:.3g} your guided estimate",
                 atol=1e-4, hint="it is uncond + scale * (cond - uncond)")  # fmt: skip


@check("cfg", 2)
@given(
    b=st.integers(1, 3),
    t=st.integers(0, 999),
    learned=st.booleans(),
    scale=st.floats(0, 10),
    seed=seeds,
)
def test_guided_prediction(student, device, b, t, learned, scale, seed) -> None:
    """guided_prediction: one guided estimate from the model"""
    toy, backend = _toy(device, learned)
    x = _images((b, 3, 8), seed, device)
    cond, uncond = backend.encode("a lithograph of waterfalls"), backend.encode("")
    eps, var = prediction_of(
        student.call("guided_prediction", toy, x, t, cond, uncond, scale), "guided_prediction"
    )
    want = cfg.guided_prediction(backend, x, t, cond, uncond, scale)
    expect_close(eps, want.eps, f"at t={t}, scale {scale:.3g}, your guided noise estimate", atol=1e-4,
                 hint="ask the model for the prompt's and the empty prompt's estimates, then combine them")  # fmt: skip
    if learned:
        if var is None:
            raise AssertionError(
                "for a learned-range model, keep the conditional prediction's variance"
            )
        expect_close(var, want.variance, "your variance values", atol=1e-5,
                     hint="keep the conditional prediction's variance, unguided")  # fmt: skip


@check("cfg", 1)
@given(t=st.integers(0, 999), scale=st.floats(0, 10), seed=seeds)
def test_guided(student, device, t, scale, seed) -> None:
    """guided: the guided predictor it returns"""
    toy, backend = _toy(device)
    x = _images((2, 3, 8), seed, device)
    cond, uncond = backend.encode("an oil painting of a snowy mountain village"), backend.encode("")
    eps, _ = prediction_of(
        student.call("guided", toy, cond, uncond, scale, then=(x, t)), "guided(...)(x, t)"
    )
    expect_close(eps, cfg.guided(backend, cond, uncond, scale)(x, t).eps, f"at t={t}, your predictor's estimate",
                 atol=1e-4, hint="return a function of (x_t, t) that calls guided_prediction with the given scale")  # fmt: skip


@check("sdedit", 2)
@given(
    shape=shapes,
    i_start=st.sampled_from([1, 3, 5, 7, 10, 20]),
    weight=st.floats(-0.5, 0.5),
    seed=seeds,
)
def test_sdedit(student, device, shape, i_start, weight, seed) -> None:
    """sdedit: noise the image to timesteps[i_start], then denoise it"""
    image = _images(shape, seed, device)
    got = value_of(student.call("sdedit", Helper("linear_predictor", (weight,)), image, i_start, TIMESTEPS, ABAR,
                                "fixed_small", Helper("generator", (seed,))), "sdedit")  # fmt: skip
    want = edit.sdedit(_ref("linear_predictor", device, weight), image, i_start, TIMESTEPS, ABAR.to(device),
                       "fixed_small", generator(device, seed))  # fmt: skip
    expect_close(got, want, f"from i_start={i_start}, your edit", atol=1e-3,
                 hint="forward-noise to timesteps[i_start] with the generator, then iterative_denoise from i_start")  # fmt: skip


def _mask(shape: tuple[int, int, int], seed: int, device: torch.device) -> torch.Tensor:
    b, _, s = shape
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(1, 1, s, s, generator=g) > 0.5).float().expand(b, 1, s, s).to(device)


@check("inpaint", 2)
@given(shape=shapes, weight=st.floats(-0.5, 0.5), seed=seeds)
def test_inpaint(student, device, shape, weight, seed) -> None:
    """inpaint: new content inside the mask, the original outside"""
    # the estimator mixes pixels, so what is pasted outside the mask at each step shows inside it
    original, mask = _images(shape, seed, device), _mask(shape, seed, device)
    got = value_of(student.call("inpaint", Helper("mixing_predictor", (weight,)), original, mask, TIMESTEPS, ABAR,
                                "fixed_small", Helper("generator", (seed,))), "inpaint")  # fmt: skip
    want = edit.inpaint(_ref("mixing_predictor", device, weight), original, mask, TIMESTEPS, ABAR.to(device),
                        "fixed_small", generator(device, seed))  # fmt: skip
    expect_close(got, want, "your inpainted image", atol=1e-3,
                 hint="start from pure noise; after each step set x = mask * x + (1 - mask) * forward(original, t')")  # fmt: skip


@check("inpaint", 1)
@given(shape=shapes, seed=seeds)
def test_inpaint_keeps_the_original_outside_the_mask(student, device, shape, seed) -> None:
    """inpaint: outside the mask, the result is the original"""
    original, mask = _images(shape, seed, device), _mask(shape, seed, device)
    got = value_of(student.call("inpaint", Helper("linear_predictor", (0.2,)), original, mask, TIMESTEPS, ABAR,
                                "fixed_small", Helper("generator", (seed,))), "inpaint")  # fmt: skip
    if tuple(got.shape) != tuple(original.shape):
        expect_close(got, original, "your inpainted image")
    keep = (mask == 0).expand_as(original).cpu()
    expect_close(got[keep], original.cpu()[keep], "outside the mask, your result", atol=1e-4,
                 hint="mask is 1 where new content goes; the last step (t'=0) must put the original back outside it")  # fmt: skip


VIEW_NAMES = ["identity", "flip", "rotate90", "rotate180", "transpose", "negate"]


@check("anagram", 2)
@given(t=st.integers(0, 999), second=st.sampled_from(VIEW_NAMES), learned=st.booleans(), seed=seeds)
def test_anagram(student, device, t, second, learned, seed) -> None:
    """anagram: each prompt's estimate seen through its view, mapped back and averaged"""
    toy, backend = _toy(device, learned)
    x = _images((2, 3, 8), seed, device)
    conds = [
        backend.encode("an oil painting of an old man"),
        backend.encode("an oil painting of people around a campfire"),
    ]
    uncond = backend.encode("")
    views = [Helper("view", ("identity",)), Helper("view", (second,))]
    eps, var = prediction_of(
        student.call("anagram", toy, conds, views, uncond, 7.0, then=(x, t)), "anagram(...)(x, t)"
    )
    want = illusions.anagram(backend, conds, [_ref("view", device, "identity"), _ref("view", device, second)],
                             uncond, 7.0)(x, t)  # fmt: skip
    expect_close(eps, want.eps, f"with views identity and {second}, at t={t}, your estimate", atol=1e-4,
                 hint="for each view: guided estimate of view.apply(x), mapped back with view.invert; then the mean")  # fmt: skip
    if learned:
        if var is None:
            raise AssertionError(
                "for a learned-range model, your anagram dropped the variance values"
            )
        expect_close(var, want.variance, f"with views identity and {second}, your variance values", atol=1e-5,
                     hint="map each view's variance back with view.invert_values and average them")  # fmt: skip


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
    eps, _ = prediction_of(
        student.call("anagram", toy, conds, views, uncond, 5.0, then=(x, t)), "anagram(...)(x, t)"
    )
    want = illusions.anagram(backend, conds, [_ref("view", device, "identity"), _ref("view", device, "permute", perm)],
                             uncond, 5.0)(x, t)  # fmt: skip
    expect_close(eps, want.eps, f"with a pixel permutation view, at t={t}, your estimate", atol=1e-4,
                 hint="use each view's own apply and invert; do not assume a flip")  # fmt: skip


@check("hybrid", 2)
@given(t=st.integers(0, 999), size=st.sampled_from([16, 28, 64]), seed=seeds)
def test_hybrid(student, device, t, size, seed) -> None:
    """hybrid: one prompt's low frequencies plus another's high frequencies"""
    toy, backend = _toy(device, size=size)
    x = _images((1, 3, size), seed, device)
    low, high, uncond = backend.encode("a skull"), backend.encode("a waterfall"), backend.encode("")
    eps, _ = prediction_of(
        student.call("hybrid", toy, low, high, uncond, 7.0, then=(x, t)), "hybrid(...)(x, t)"
    )
    want = illusions.hybrid(backend, low, high, uncond, 7.0)(x, t)
    expect_close(eps, want.eps, f"for {size} px images at t={t}, your estimate", atol=1e-4,
                 hint="lowpass(eps_low) + highpass(eps_high), with a Gaussian of kernel 33 and sigma 2 at 64 px, "
                      "scaled with the image size")  # fmt: skip


@check("hybrid", 1)
@given(t=st.integers(0, 999), scale=st.floats(1, 10), seed=seeds)
def test_factorized_grayscale_and_colour(student, device, t, scale, seed) -> None:
    """factorized: any components that sum to the identity (grayscale and colour)"""
    toy, backend = _toy(device)
    x = _images((2, 3, 8), seed, device)
    conds, uncond = [backend.encode("a lion"), backend.encode("a forest")], backend.encode("")
    parts = [Helper("component", ("gray",)), Helper("component", ("colour",))]
    eps, _ = prediction_of(student.call("factorized", toy, conds, parts, uncond, scale, then=(x, t)),
                           "factorized(...)(x, t)")  # fmt: skip
    want = illusions.factorized(backend, conds, [_ref("component", device, "gray"), _ref("component", device, "colour")],
                                uncond, scale)(x, t)  # fmt: skip
    expect_close(eps, want.eps, f"with grayscale/colour components at t={t}, your estimate", atol=1e-4,
                 hint="component k of the estimate comes from prompt k: sum of components[k](eps_k)")  # fmt: skip
