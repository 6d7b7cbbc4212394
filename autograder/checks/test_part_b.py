"""Part B's checks: the UNet's blocks and models, the objectives and the samplers, against fundiff's reference.

Longer than 300 lines because an assignment's checks are one pytest module:
``autograder.runner`` collects one module per assignment, and each check's node id
in it is the id of its graded test cell in the built notebooks (a split renames them).

Modules are compared by building the student's class and fundiff's under the
same arguments, checking that their parameters have the write-up's shapes in
the write-up's order, copying the reference's weights into the student's, and
comparing outputs on the same input in training mode (BatchNorm on batch
statistics) and in eval mode. float32 convolutions summed in another order
differ by ~1e-6 per layer; a UNet of ~20 layers gets 1e-3, a block 1e-4.
Formulas and Euler loops get ``compare.tolerance`` (one step per Euler step).
Functions that draw are judged by ``draws.expect_drawn``: the reference's draws
pass at once, other draw orders by what does not depend on the order.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from autograder.checks.compare import expect_close, expect_shape, guidance_mistakes, tolerance
from autograder.checks.conftest import (
    check,
    generator,
    module_on_meta,
    returned,
    run,
    same_layers,
    value_of,
    watched,
)
from autograder.checks.draws import Drawn, K, expect_drawn
from autograder.helpers import Helper
from autograder.toys import factories
from fundiff.guidance import classifier_free_guidance
from fundiff.models import blocks, unet
from fundiff.objectives import denoiser, flow
from fundiff.sampling import flow as sampling

batches = st.integers(1, 4)
seeds = st.integers(0, 2**16)
LAW_BATCH = 8  # 8 digits, 6272 values: the law of a draw is judged on these (see draws)


def _batch(
    b: int, seed: int, device: torch.device, shape: tuple[int, ...] = (1, 28, 28)
) -> torch.Tensor:
    return torch.rand(b, *shape, generator=torch.Generator().manual_seed(seed)).to(device)


def _ref(name: str, device: torch.device, *args: object):
    return factories(device)[name](*args)


def _same_module(
    student, device, name: str, args: tuple, inputs: tuple, *, seed: int, atol: float
) -> None:
    """The student's ``name(*args)``, given fundiff's weights, computes what fundiff's does in both modes."""
    torch.manual_seed(seed)
    reference = getattr(blocks, name, None) or getattr(unet, name)
    reference = reference(*args).to(device)
    handle = same_layers(student, name, reference, *args, seed=seed)
    module_on_meta(student, name, args, inputs, seed=seed)
    for mode in ("train", "eval"):
        got = value_of(
            student.forward(handle, *watched(inputs), mode=mode, key=name), f"{name}{args}"
        )
        reference.train(mode == "train")
        with torch.no_grad():
            want = reference(*inputs)
        what = f"{name}{args} in {mode} mode, with the write-up's weights, on input of shape {tuple(inputs[0].shape)}"
        expect_close(got, want, what, atol=atol)


BLOCKS = {  # name: (constructor arguments from (C_in, C_out), input size from H)
    "Conv": (lambda i, o: (i, o), lambda h: h),
    "DownConv": (lambda i, o: (i, o), lambda h: h),
    "UpConv": (lambda i, o: (i, o), lambda h: h),
    "Flatten": (lambda i, o: (), lambda h: 7),
    "Unflatten": (lambda i, o: (i,), lambda h: 1),
    "ConvBlock": (lambda i, o: (i, o), lambda h: h),
    "DownBlock": (lambda i, o: (i, o), lambda h: h),
    "UpBlock": (lambda i, o: (i, o), lambda h: h),
}


@check("blocks", 0.5)
@pytest.mark.parametrize("name", list(BLOCKS))
@given(b=st.integers(2, 3), c_in=st.integers(1, 6), c_out=st.integers(1, 6), h=st.sampled_from([4, 8, 14]),
       seed=seeds)  # fmt: skip
def test_block(student, device, name, b, c_in, c_out, h, seed) -> None:
    """{name}: the write-up's layers, computing what they should"""
    make_args, size = BLOCKS[name]
    x = _batch(b, seed, device, (c_in, size(h), size(h))) * 2 - 1
    _same_module(student, device, name, make_args(c_in, c_out), (x,), seed=seed, atol=1e-4)


@check("unet", 1)
@given(b=batches, hidden=st.sampled_from([4, 8]), seed=seeds)
def test_unconditional_unet_shape(student, device, b, hidden, seed) -> None:
    """UnconditionalUNet: maps (B, 1, 28, 28) to (B, 1, 28, 28)"""
    built = returned(
        student.build("UnconditionalUNet", 1, hidden, seed=seed), f"UnconditionalUNet(1, {hidden})"
    )
    got = value_of(student.forward(built["handle"], *watched((_batch(b, seed, device),)), key="UnconditionalUNet"),
                   "UnconditionalUNet")  # fmt: skip
    assert tuple(got.shape) == (b, 1, 28, 28), (
        f"UnconditionalUNet(hidden={hidden}) maps a batch of {b} digits to shape {tuple(got.shape)}, not {(b, 1, 28, 28)}"
    )


@check("unet", 2)
@given(b=batches, hidden=st.sampled_from([4, 8]), seed=seeds)
def test_unconditional_unet(student, device, b, hidden, seed) -> None:
    """UnconditionalUNet: the write-up's trunk, computing what it should"""
    _same_module(student, device, "UnconditionalUNet", (1, hidden), (_batch(b, seed, device),), seed=seed,
                 atol=1e-3)  # fmt: skip


def _add_noise_drawn(student, device: torch.device, sigma: float) -> Drawn:
    return Drawn(lambda x, s: value_of(run(student, "add_noise", x, sigma, Helper("generator", (s,))), "add_noise"),
                 lambda x, s: denoiser.add_noise(x, sigma, generator(device, s)))  # fmt: skip


def _noise(
    like: torch.Tensor, seed: int, device: torch.device, uniform: bool = False
) -> torch.Tensor:
    """What fundiff draws first from a generator of ``seed``, shaped like ``like``."""
    draw = torch.rand if uniform else torch.randn
    return draw(like.shape, generator=generator(device, seed), device=device, dtype=like.dtype)


@check("noising", 1)
@given(b=batches, sigma=st.floats(0, 1), seed=seeds)
def test_add_noise(student, device, b, sigma, seed) -> None:
    """add_noise: z = x + sigma * eps"""
    x = _batch(b, seed, device)
    likely = {"the noise is uniform: draw it with torch.randn, not torch.rand":
              lambda x, s: x + sigma * _noise(x, s, device, uniform=True),
              "the noise is scaled by sigma², not sigma": lambda x, s: x + sigma**2 * _noise(x, s, device)}  # fmt: skip
    law = (
        _add_noise_drawn(student, device, 0.5),
        _batch(LAW_BATCH, 93, device),
        "at sigma=0.5 your z",
    )
    expect_drawn(_add_noise_drawn(student, device, sigma), x, seed, f"at sigma={sigma:.3g} your z",
                 other=_batch(b, seed + 7, device), law=[law], likely=likely)  # fmt: skip


def _loss(values: torch.Tensor) -> torch.Tensor:
    """A returned loss as a 0-d tensor (one of one value reshaped)."""
    return values.reshape(()) if values.numel() == 1 else values


@check("denoiser_loss", 1)
@given(b=batches, sigma=st.floats(0, 1), weight=st.floats(-1, 1), seed=seeds)
def test_denoiser_loss(student, device, b, sigma, weight, seed) -> None:
    """denoiser_loss: the L2 loss of denoising x + sigma * eps"""
    model = _ref("toy_denoiser", device, weight, 0.1)
    d = Drawn(lambda x, s: _loss(value_of(run(student, "denoiser_loss", Helper("toy_denoiser", (weight, 0.1)), x,
                                              sigma, Helper("generator", (s,))), "denoiser_loss")),
              lambda x, s: denoiser.denoiser_loss(model, x, sigma, generator(device, s)))  # fmt: skip

    def noisy_target(x: torch.Tensor, s: int) -> torch.Tensor:
        with torch.no_grad():
            z = denoiser.add_noise(x, sigma, generator(device, s))
            return torch.nn.functional.mse_loss(model(z), z)

    likely = {"the target is the clean image x, not the noisy one": noisy_target}
    with torch.no_grad():
        expect_drawn(
            d, _batch(b, seed, device), seed, f"at sigma={sigma:.3g} your loss", likely=likely
        )


@check("denoiser_loss", 1)
@given(b=batches, weight=st.floats(-1, 1), seed=seeds)
def test_pure_noise_loss(student, device, b, weight, seed) -> None:
    """pure_noise_loss: the L2 loss of mapping pure noise to a digit"""
    model = _ref("toy_denoiser", device, weight, 0.1)
    d = Drawn(lambda x, s: _loss(value_of(run(student, "pure_noise_loss", Helper("toy_denoiser", (weight, 0.1)), x,
                                              Helper("generator", (s,))), "pure_noise_loss")),
              lambda x, s: denoiser.pure_noise_loss(model, x, generator(device, s)))  # fmt: skip

    def l1(x: torch.Tensor, s: int) -> torch.Tensor:
        return torch.nn.functional.l1_loss(model(_noise(x, s, device)), x)

    with torch.no_grad():
        expect_drawn(d, _batch(b, seed, device), seed, "your loss",
                     likely={"it is the mean absolute error; take the mean squared error": l1})  # fmt: skip


@check("time_unet", 1)
@given(b=st.integers(2, 4), features=st.integers(1, 12), seed=seeds)
def test_fc_block(student, device, b, features, seed) -> None:
    """FCBlock: Linear, GELU, Linear"""
    _same_module(
        student,
        device,
        "FCBlock",
        (1, features),
        (_batch(b, seed, device, (1,)),),
        seed=seed,
        atol=1e-5,
    )


@check("time_unet", 2)
@given(b=st.integers(1, 3), hidden=st.sampled_from([4, 8]), t_shape=st.sampled_from(["(B,)", "(B, 1)", "scalar"]),
       seed=seeds)  # fmt: skip
def test_time_conditional_unet(student, device, b, hidden, t_shape, seed) -> None:
    """TimeConditionalUNet: the trunk modulated by the time, computing what it should"""
    t = _batch(b, seed + 1, device, ())
    t = {"(B,)": t, "(B, 1)": t[:, None], "scalar": t[0]}[t_shape]
    _same_module(student, device, "TimeConditionalUNet", (1, hidden), (_batch(b, seed, device), t),
                 seed=seed, atol=1e-3)  # fmt: skip


@check("flow_loss", 1)
@given(b=batches, seed=seeds)
def test_interpolate(student, device, b, seed) -> None:
    """interpolate: x_t on the straight line from noise to the digit"""
    x0, x1 = _batch(b, seed, device) * 2 - 1, _batch(b, seed + 1, device)
    t = _batch(b, seed + 2, device, ())
    got = value_of(run(student, "interpolate", x0, x1, t), "interpolate")
    want = flow.interpolate(x0, x1, t)
    expect_close(got, want, "your x_t", atol=tolerance(want),
                 likely={"x0 (the noise) and x1 (the digit) are swapped: x_t = (1 − t)·x0 + t·x1":
                         flow.interpolate(x1, x0, t)})  # fmt: skip


@check("flow_loss", 2)
@given(b=batches, weight=st.floats(-2, 2), seed=seeds)
def test_flow_matching_loss(student, device, b, weight, seed) -> None:
    """flow_matching_loss: the L2 loss against the velocity x1 - x0"""
    x1, x0 = _batch(b, seed, device), _batch(b, seed + 1, device) * 2 - 1
    t, bias = _batch(b, seed + 2, device, ()), _batch(1, seed + 3, device)[0]
    got = _loss(value_of(run(student, "flow_matching_loss", Helper("affine_velocity", (weight, bias)), x1, x0, t),
                         "flow_matching_loss"))  # fmt: skip
    velocity = _ref("affine_velocity", device, weight, bias)
    want = flow.flow_matching_loss(velocity, x1, x0, t)
    u = velocity(flow.interpolate(x0, x1, t), t)
    likely = {"the target velocity is x1 − x0 (towards the digit)": torch.nn.functional.mse_loss(u, x0 - x1),
              "average the squared errors (their mean), not their sum": ((u - (x1 - x0)) ** 2).sum()}  # fmt: skip
    expect_close(got, want, "your loss", atol=tolerance(want), likely=likely)


@check("euler", 2)
@given(b=batches, weight=st.floats(-1, 1), steps=st.integers(1, 20), seed=seeds)
def test_euler_integrate(student, device, b, weight, steps, seed) -> None:
    """euler_integrate: Euler steps from t = 0 to 1"""
    x0, bias = _batch(b, seed, device) * 2 - 1, _batch(1, seed + 1, device)[0]
    got = value_of(run(student, "euler_integrate", Helper("affine_velocity", (weight, bias)), x0, steps),
                   "euler_integrate")  # fmt: skip
    velocity = _ref("affine_velocity", device, weight, bias)
    want = sampling.euler_integrate(velocity, x0, steps)
    late = sampling.euler_integrate(lambda x, t: velocity(x, t + 1 / steps), x0, steps)
    expect_close(got, want, f"with {steps} steps your x at t=1", atol=tolerance(want, steps),
                 likely={"it evaluates u at the end of each step: use t = i·dt, the start": late})  # fmt: skip


def _sampler_drawn(student, device: torch.device, weight: float, steps: int) -> Drawn:
    """sample_time_conditional with the toy model w x + t b, as a function of ((num, b), seed)."""

    def got(nb: tuple[int, torch.Tensor], s: int) -> torch.Tensor:
        outcome = run(student, "sample_time_conditional", Helper("toy_time_model", (weight, nb[1])), nb[0], steps,
                      Helper("generator", (s,)), device=str(device))  # fmt: skip
        return value_of(outcome, "sample_time_conditional")

    return Drawn(got, lambda nb, s: sampling.sample_time_conditional(_ref("toy_time_model", device, weight, nb[1]),
                                                                     nb[0], steps, generator(device, s), device=device),
                 steps=steps)  # fmt: skip


@check("euler", 1)
@given(num=batches, steps=st.integers(1, 20), weight=st.floats(-1, 1), seed=seeds)
def test_sample_time_conditional(student, device, num, steps, weight, seed) -> None:
    """sample_time_conditional: noise from the generator, then Euler steps"""

    def uniform_start(nb: tuple[int, torch.Tensor], s: int) -> torch.Tensor:
        x0 = torch.rand((nb[0], 1, 28, 28), generator=generator(device, s), device=device)
        return sampling.euler_integrate(_ref("toy_time_model", device, weight, nb[1]), x0, steps)

    law = (_sampler_drawn(student, device, 0.5, 5), (LAW_BATCH, _batch(1, 91, device)[0]),
           f"{LAW_BATCH} samples with 5 steps")  # fmt: skip
    expect_drawn(_sampler_drawn(student, device, weight, steps), (num, _batch(1, seed + 1, device)[0]), seed,
                 f"{num} samples with {steps} steps", other=(num, _batch(1, seed + 2, device)[0] * 2 - 1), law=[law],
                 likely={"the starting noise is uniform: draw it with torch.randn, not torch.rand": uniform_start})  # fmt: skip


@check("class_unet", 2)
@given(b=st.integers(1, 3), hidden=st.sampled_from([4, 8]), seed=seeds)
def test_class_conditional_unet(student, device, b, hidden, seed) -> None:
    """ClassConditionalUNet: the trunk modulated by the class and time, computing what it should"""
    labels = torch.randint(0, 10, (b,), generator=torch.Generator().manual_seed(seed))
    c = torch.nn.functional.one_hot(labels, 10).float().to(device)
    c[0] = 0  # one "no class" row
    inputs = (_batch(b, seed, device), _batch(b, seed + 1, device, ()), c)
    _same_module(
        student, device, "ClassConditionalUNet", (1, hidden, 10), inputs, seed=seed, atol=1e-3
    )


def _dropout(student, labels: torch.Tensor, p: float, seed: int) -> torch.Tensor:
    got = value_of(run(student, "one_hot_with_dropout", labels, 10, p, Helper("generator", (seed,))),
                   "one_hot_with_dropout")  # fmt: skip
    if tuple(got.shape) != (labels.numel(), 10):
        pytest.fail(f"for {labels.numel()} labels your vectors have shape {tuple(got.shape)}, expected "
                    f"({labels.numel()}, 10)", pytrace=False)  # fmt: skip
    return got


@check("class_unet", 1)
@given(p=st.sampled_from([0.0, 0.1, 0.5, 1.0]), seed=seeds)
def test_one_hot_with_dropout(student, device, p, seed) -> None:
    """one_hot_with_dropout: one-hot vectors, each zeroed with probability p"""
    labels = torch.arange(10, device=device).repeat(400)
    got = _dropout(student, labels, p, seed)
    one_hot = torch.nn.functional.one_hot(labels.cpu(), 10).float()
    kept = (got == one_hot).all(1)
    dropped = (got == 0).all(1)
    assert bool((kept | dropped).all()), "each row must be the label's one-hot vector or all zeros"
    rate = dropped.float().mean().item()
    # 4000 draws: the dropped fraction's standard deviation is at most 0.008; 0.04 is 5 of them
    assert abs(rate - p) <= 0.04, f"with p_uncond={p} you zeroed {rate:.1%} of the vectors"
    by_label = dropped.float().view(400, 10).mean(0)  # 400 rows of each label
    worst = int((by_label - p).abs().argmax())
    assert abs(by_label[worst].item() - p) <= K * math.sqrt(p * (1 - p) / 400) + 0.01, (
        f"with p_uncond={p} you zeroed {by_label[worst].item():.0%} of the vectors of label {worst}: each row is "
        "zeroed with probability p, whatever its label or position")  # fmt: skip
    assert torch.equal(got, _dropout(student, labels, p, seed)), (
        "with the same generator seed it must zero the same rows: draw from the generator"
    )
    if 0 < p < 1:
        assert not torch.equal(got, _dropout(student, labels, p, seed + 1)), (
            "with another generator seed it zeroed the same rows: draw the rows to zero from the generator, "
            "not a fixed pattern")  # fmt: skip


@check("cfg", 1)
@given(scale=st.floats(0, 10), seed=seeds)
def test_classifier_free_guidance(student, device, scale, seed) -> None:
    """classifier_free_guidance: the guided velocity"""
    c, u = _batch(2, seed, device), _batch(2, seed + 1, device)
    got = value_of(
        run(student, "classifier_free_guidance", c, u, scale), "classifier_free_guidance"
    )
    want = classifier_free_guidance(c, u, scale)
    likely = guidance_mistakes(c, u, scale)
    expect_close(
        got, want, f"at scale {scale:.3g} your guided velocity", atol=tolerance(want), likely=likely
    )


@check("cfg", 1)
@given(b=batches, guidance=st.floats(0, 10), seed=seeds)
def test_class_velocity(student, device, b, guidance, seed) -> None:
    """class_velocity: the guided velocity of a class-conditioned model"""
    labels = torch.randint(0, 10, (b,), generator=torch.Generator().manual_seed(seed)).to(device)
    x, t = _batch(b, seed, device), _batch(b, seed + 1, device, ())
    got = value_of(run(student, "class_velocity", Helper("toy_class_model", (0.5, seed)), labels, 10, guidance,
                       then=(x, t)), "class_velocity(...)(x, t)")  # fmt: skip
    model = _ref("toy_class_model", device, 0.5, seed)
    want = sampling.class_velocity(model, labels, 10, guidance)(x, t)
    c = torch.nn.functional.one_hot(labels, 10).float()
    likely = {"the unconditional velocity takes the zero class vector":
              classifier_free_guidance(model(x, t, c), model(x, t, torch.ones_like(c)), guidance),
              "the conditional and unconditional velocities are swapped":
              classifier_free_guidance(model(x, t, c * 0), model(x, t, c), guidance)}  # fmt: skip
    expect_close(
        got, want, f"at guidance {guidance:.3g}, your velocity", atol=tolerance(want), likely=likely
    )


def _class_sampler_drawn(
    student, device: torch.device, seed: int, steps: int, guidance: float
) -> Drawn:
    """sample_class_conditional with a toy model of class and time terms scaled by a gain, as a function of
    ((labels, gain), seed)."""

    def got(lg: tuple[torch.Tensor, float], s: int) -> torch.Tensor:
        outcome = run(student, "sample_class_conditional", Helper("toy_class_model", (0.5, seed, lg[1])), lg[0], steps,
                      guidance, Helper("generator", (s,)))  # fmt: skip
        return value_of(outcome, "sample_class_conditional")

    return Drawn(got, lambda lg, s: sampling.sample_class_conditional(_ref("toy_class_model", device, 0.5, seed, lg[1]),
                                                                      lg[0], steps, guidance, generator(device, s)),
                 steps=steps)  # fmt: skip


@check("cfg", 1)
@given(b=batches, steps=st.integers(1, 20), guidance=st.floats(0, 10), seed=seeds)
def test_sample_class_conditional(student, device, b, steps, guidance, seed) -> None:
    """sample_class_conditional: noise from the generator, then guided Euler steps"""
    labels = torch.randint(0, 10, (b,), generator=torch.Generator().manual_seed(seed)).to(device)
    law = (_class_sampler_drawn(student, device, 5, 5, 3.0), (torch.arange(LAW_BATCH, device=device) % 10, 1.0),
           f"{LAW_BATCH} samples with 5 steps at guidance 3")  # fmt: skip
    expect_drawn(_class_sampler_drawn(student, device, seed, steps, guidance), (labels, 1.0), seed,
                 f"{b} samples with {steps} steps at guidance {guidance:.3g}", other=(labels, -0.6), law=[law])  # fmt: skip


@check("cfg", 2)
def test_sampler_draws_digits_with_the_shipped_model(student, device) -> None:
    """sample_class_conditional: with the shipped UNet, it draws the digits asked for"""
    from fundiff.evaluation.metrics import shipped_classifier

    # 10 Euler steps: the shipped model draws clear digits with as few
    labels = torch.arange(10, device=device)
    got = value_of(run(student, "sample_class_conditional", Helper("shipped_flow_class"), labels, 10, 5.0,
                       Helper("generator", (0,)), on_meta=False), "sample_class_conditional")  # fmt: skip
    expect_shape(got, torch.zeros(10, 1, 28, 28), "your samples of the digits 0-9")
    read = shipped_classifier(device)(got.to(device).clamp(0, 1)).argmax(1)
    right = int((read == labels).sum())
    assert right >= 8, (f"the shipped classifier reads {right} of the 10 digits your sampler drew with the shipped "
                         "UNet as the digit asked for (at least 8 needed)")  # fmt: skip
