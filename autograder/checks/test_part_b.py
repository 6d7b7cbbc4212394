"""Part B's checks: the UNet's blocks and models, the objectives and the samplers, against fundiff's reference.

Modules are compared by building the student's class and fundiff's under the
same arguments, checking that their parameters have the write-up's shapes in
the write-up's order, copying the reference's weights into the student's, and
comparing outputs on the same input in training mode (BatchNorm on batch
statistics) and in eval mode. float32 convolutions summed in another order
differ by ~1e-6 per layer; a UNet of ~20 layers gets 1e-3, a block 1e-4.
Formulas get 1e-4 (1e-5 where nothing is summed); Euler loops of up to 20
steps 1e-4, samplers of 50 steps 1e-3. Draws from a shared generator must match.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from autograder.checks.conftest import (
    check,
    expect_close,
    generator,
    returned,
    same_layers,
    value_of,
)
from autograder.toys import Helper, factories
from fundiff import denoiser, flow, sampling
from fundiff.guidance import classifier_free_guidance
from fundiff.models import blocks, unet

batches = st.integers(1, 4)
seeds = st.integers(0, 2**16)


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
    for mode in ("train", "eval"):
        got = value_of(student.forward(handle, *inputs, mode=mode, key=name), f"{name}{args}")
        reference.train(mode == "train")
        with torch.no_grad():
            want = reference(*inputs)
        what = f"{name}{args} in {mode} mode, on input of shape {tuple(inputs[0].shape)}"
        expect_close(got, want, what, atol=atol,
                     hint="with the write-up's weights it computes something else: check each layer's "
                          "kernel, stride, padding, the order of layers and the skip connections")  # fmt: skip


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
    got = value_of(student.forward(built["handle"], _batch(b, seed, device), key="UnconditionalUNet"),
                   "UnconditionalUNet")  # fmt: skip
    assert tuple(got.shape) == (b, 1, 28, 28), (
        f"UnconditionalUNet(hidden={hidden}) maps a batch of {b} digits to shape {tuple(got.shape)}, not {(b, 1, 28, 28)}"
    )


@check("unet", 2)
@given(b=batches, hidden=st.sampled_from([4, 8]), seed=seeds)
def test_unconditional_unet(student, device, b, hidden, seed) -> None:
    """UnconditionalUNet: the write-up's trunk, computing what it should"""
    _same_module(
        student,
        device,
        "UnconditionalUNet",
        (1, hidden),
        (_batch(b, seed, device),),
        seed=seed,
        atol=1e-3,
    )


@check("noising", 1)
@given(b=batches, sigma=st.floats(0, 1), seed=seeds)
def test_add_noise(student, device, b, sigma, seed) -> None:
    """add_noise: z = x + sigma * eps"""
    x = _batch(b, seed, device)
    got = value_of(student.call("add_noise", x, sigma, Helper("generator", (seed,))), "add_noise")
    want = denoiser.add_noise(x, sigma, generator(device, seed))
    expect_close(got, want, f"at sigma={sigma:.3g} your z", atol=1e-5,
                 hint="z = x + sigma * eps, with eps drawn once from the generator, shaped like x")  # fmt: skip


@check("denoiser_loss", 1)
@given(b=batches, sigma=st.floats(0, 1), weight=st.floats(-1, 1), seed=seeds)
def test_denoiser_loss(student, device, b, sigma, weight, seed) -> None:
    """denoiser_loss: the L2 loss of denoising x + sigma * eps"""
    x = _batch(b, seed, device)
    got = value_of(student.call("denoiser_loss", Helper("toy_denoiser", (weight, 0.1)), x, sigma,
                                Helper("generator", (seed,))), "denoiser_loss")  # fmt: skip
    want = denoiser.denoiser_loss(
        _ref("toy_denoiser", device, weight, 0.1), x, sigma, generator(device, seed)
    )
    expect_close(got.reshape(()) if got.numel() == 1 else got, want, f"at sigma={sigma:.3g} your loss",
                 atol=1e-5, hint="the mean squared difference between model(add_noise(x, sigma, generator)) and x")  # fmt: skip


@check("denoiser_loss", 1)
@given(b=batches, weight=st.floats(-1, 1), seed=seeds)
def test_pure_noise_loss(student, device, b, weight, seed) -> None:
    """pure_noise_loss: the L2 loss of mapping pure noise to a digit"""
    x = _batch(b, seed, device)
    got = value_of(student.call("pure_noise_loss", Helper("toy_denoiser", (weight, 0.1)), x,
                                Helper("generator", (seed,))), "pure_noise_loss")  # fmt: skip
    want = denoiser.pure_noise_loss(
        _ref("toy_denoiser", device, weight, 0.1), x, generator(device, seed)
    )
    expect_close(got.reshape(()) if got.numel() == 1 else got, want, "your loss", atol=1e-5,
                 hint="the mean squared difference between model(eps) and x, eps drawn from the generator like x")  # fmt: skip


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
    got = value_of(student.call("interpolate", x0, x1, t), "interpolate")
    expect_close(got, flow.interpolate(x0, x1, t), "your x_t", atol=1e-5,
                 hint="x_t = (1 - t) x0 + t x1, with t reshaped to (B, 1, 1, 1); x0 is the noise")  # fmt: skip


@check("flow_loss", 2)
@given(b=batches, weight=st.floats(-2, 2), seed=seeds)
def test_flow_matching_loss(student, device, b, weight, seed) -> None:
    """flow_matching_loss: the L2 loss against the velocity x1 - x0"""
    x1, x0 = _batch(b, seed, device), _batch(b, seed + 1, device) * 2 - 1
    t, bias = _batch(b, seed + 2, device, ()), _batch(1, seed + 3, device)[0]
    got = value_of(student.call("flow_matching_loss", Helper("affine_velocity", (weight, bias)), x1, x0, t),
                   "flow_matching_loss")  # fmt: skip
    want = flow.flow_matching_loss(_ref("affine_velocity", device, weight, bias), x1, x0, t)
    expect_close(got.reshape(()) if got.numel() == 1 else got, want, "your loss", atol=1e-4,
                 hint="the mean squared difference between u(x_t, t) and x1 - x0")  # fmt: skip


@check("euler", 2)
@given(b=batches, weight=st.floats(-1, 1), steps=st.integers(1, 20), seed=seeds)
def test_euler_integrate(student, device, b, weight, steps, seed) -> None:
    """euler_integrate: Euler steps from t = 0 to 1"""
    x0, bias = _batch(b, seed, device) * 2 - 1, _batch(1, seed + 1, device)[0]
    got = value_of(student.call("euler_integrate", Helper("affine_velocity", (weight, bias)), x0, steps),
                   "euler_integrate")  # fmt: skip
    want = sampling.euler_integrate(_ref("affine_velocity", device, weight, bias), x0, steps)
    expect_close(got, want, f"with {steps} steps your x at t=1", atol=1e-4,
                 hint="x <- x + dt * u(x, t) for t = 0, dt, ..., 1 - dt, with dt = 1 / steps")  # fmt: skip


@check("euler", 1)
@given(num=batches, steps=st.integers(1, 20), weight=st.floats(-1, 1), seed=seeds)
def test_sample_time_conditional(student, device, num, steps, weight, seed) -> None:
    """sample_time_conditional: noise from the generator, then Euler steps"""
    bias = _batch(1, seed + 1, device)[0]
    got = value_of(student.call("sample_time_conditional", Helper("toy_time_model", (weight, bias)), num, steps,
                                Helper("generator", (seed,)), device=str(device)), "sample_time_conditional")  # fmt: skip
    want = sampling.sample_time_conditional(_ref("toy_time_model", device, weight, bias), num, steps,
                                            generator(device, seed), device=device)  # fmt: skip
    expect_close(got, want, f"{num} samples with {steps} steps", atol=1e-4,
                 hint="x0 = torch.randn((num, 1, 28, 28), generator=generator, device=device), then euler_integrate")  # fmt: skip


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


@check("class_unet", 1)
@given(p=st.sampled_from([0.0, 0.1, 0.5, 1.0]), seed=seeds)
def test_one_hot_with_dropout(student, device, p, seed) -> None:
    """one_hot_with_dropout: one-hot vectors, each zeroed with probability p"""
    labels = torch.arange(10, device=device).repeat(400)
    got = value_of(student.call("one_hot_with_dropout", labels, 10, p, Helper("generator", (seed,))),
                   "one_hot_with_dropout")  # fmt: skip
    if tuple(got.shape) != (4000, 10):
        pytest.fail(
            f"for 4000 labels your vectors have shape {tuple(got.shape)}, expected (4000, 10)",
            pytrace=False,
        )
    one_hot = torch.nn.functional.one_hot(labels.cpu(), 10).float()
    kept = (got == one_hot).all(1)
    dropped = (got == 0).all(1)
    assert bool((kept | dropped).all()), "each row must be the label's one-hot vector or all zeros"
    rate = dropped.float().mean().item()
    # 4000 draws: the dropped fraction's standard deviation is at most 0.008; 0.04 is 5 of them
    assert abs(rate - p) <= 0.04, f"with p_uncond={p} you zeroed {rate:.1%} of the vectors"
    again = value_of(student.call("one_hot_with_dropout", labels, 10, p, Helper("generator", (seed,))),
                     "one_hot_with_dropout")  # fmt: skip
    assert torch.equal(got, again), (
        "with the same generator seed it must zero the same rows: draw from the generator"
    )


@check("cfg", 1)
@given(scale=st.floats(0, 10), seed=seeds)
def test_classifier_free_guidance(student, device, scale, seed) -> None:
    """classifier_free_guidance: the guided velocity"""
    c, u = _batch(2, seed, device), _batch(2, seed + 1, device)
    got = value_of(
        student.call("classifier_free_guidance", c, u, scale), "classifier_free_guidance"
    )
    expect_close(got, classifier_free_guidance(c, u, scale), f"at scale {scale:.3g} your guided velocity",
                 atol=1e-4, hint="it is uncond + scale * (cond - uncond)")  # fmt: skip


@check("cfg", 1)
@given(b=batches, guidance=st.floats(0, 10), seed=seeds)
def test_class_velocity(student, device, b, guidance, seed) -> None:
    """class_velocity: the guided velocity of a class-conditioned model"""
    labels = torch.randint(0, 10, (b,), generator=torch.Generator().manual_seed(seed)).to(device)
    x, t = _batch(b, seed, device), _batch(b, seed + 1, device, ())
    got = value_of(student.call("class_velocity", Helper("toy_class_model", (0.5, seed)), labels, 10, guidance,
                                then=(x, t)), "class_velocity(...)(x, t)")  # fmt: skip
    want = sampling.class_velocity(
        _ref("toy_class_model", device, 0.5, seed), labels, 10, guidance
    )(x, t)
    expect_close(got, want, f"at guidance {guidance:.3g}, your velocity", atol=1e-4,
                 hint="one-hot the labels; the unconditional velocity takes the zero class vector")  # fmt: skip


@check("cfg", 1)
@given(b=batches, steps=st.integers(1, 20), guidance=st.floats(0, 10), seed=seeds)
def test_sample_class_conditional(student, device, b, steps, guidance, seed) -> None:
    """sample_class_conditional: noise from the generator, then guided Euler steps"""
    labels = torch.randint(0, 10, (b,), generator=torch.Generator().manual_seed(seed)).to(device)
    got = value_of(student.call("sample_class_conditional", Helper("toy_class_model", (0.5, seed)), labels, steps,
                                guidance, Helper("generator", (seed,))), "sample_class_conditional")  # fmt: skip
    want = sampling.sample_class_conditional(_ref("toy_class_model", device, 0.5, seed), labels, steps, guidance,
                                             generator(device, seed))  # fmt: skip
    expect_close(got, want, f"{b} samples with {steps} steps at guidance {guidance:.3g}", atol=1e-3,
                 hint="x0 = torch.randn((B, 1, 28, 28), generator=generator, device=labels.device), then Euler steps "
                      "of class_velocity")  # fmt: skip


@check("cfg", 2)
def test_sampler_draws_digits_with_the_shipped_model(student, device) -> None:
    """sample_class_conditional: with the shipped UNet, it draws the digits asked for"""
    from fundiff.metrics import shipped_classifier

    # 10 Euler steps: the shipped model draws clear digits with as few
    labels = torch.arange(10, device=device)
    got = value_of(student.call("sample_class_conditional", Helper("shipped_flow_class"), labels, 10, 5.0,
                                Helper("generator", (0,))), "sample_class_conditional")  # fmt: skip
    if tuple(got.shape) != (10, 1, 28, 28) or not torch.isfinite(got).all():
        expect_close(got, torch.zeros(10, 1, 28, 28), "your samples of the digits 0-9")
    read = shipped_classifier(device)(got.to(device).clamp(0, 1)).argmax(1)
    right = int((read == labels).sum())
    assert right >= 8, (f"the shipped classifier reads {right} of the 10 digits your sampler drew with the shipped "
                         "UNet as the digit asked for (at least 8 needed)")  # fmt: skip
