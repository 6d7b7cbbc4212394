"""Small known models the checks hand to a submission's functions, built by name (``factories``).

A check cannot pickle a function into the confined worker, so it names one of
these with parameters (``Helper("toy_backend", (True,))``, ``autograder.helpers``); the
worker and the grading process each build it from the same parameters, so the submission and
fundiff's reference see the same model. Every toy is cheap, deterministic and
depends on all of its inputs, so a function that drops or mixes one up gives a
different result. Every toy works on any device, "meta" included (no values:
the checks run each function once on "meta" to see where it makes tensors).

``Helper("watched", (tensor,))`` hands a function a copy of ``tensor`` that
refuses to be changed (``autograder.watched``).

This module runs inside the worker: it imports only torch and the parts of
fundiff that the student build leaves whole.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

if __package__:  # the grading process
    from autograder.watched import watch
else:  # the worker, its own folder on its PYTHONPATH (``autograder.worker``)
    from watched import watch  # type: ignore[no-redef]


def _pattern(shape: tuple[int, ...], device: torch.device | str) -> torch.Tensor:
    """A fixed, non-constant image of ``shape`` (..., H, W), so guidance terms are not uniform."""
    h, w = shape[-2:]
    yy = torch.arange(h, device=device, dtype=torch.float32)[:, None]
    xx = torch.arange(w, device=device, dtype=torch.float32)[None, :]
    return torch.sin(0.7 * yy + 0.3) * torch.cos(0.4 * xx - 0.2) + 0.1 * yy / h


class ToyBackend:
    """A Part A backend with a closed-form noise estimate.

    eps(x, t, c) = 0.5 x + t / 1000 + mean(c) * pattern (+ a per-view-visible
    asymmetry), and for ``learned_range`` variance values
    tanh(x - c_k (1 + pattern) / 2) / 2 in channel k, c_k one of the conditioning's
    values: every channel of both outputs depends on the conditioning, so taking one
    from the unconditional estimate where the conditional one is meant shows.
    Conditionings are (B or 1, 4) vectors; ``encode`` maps a prompt to one.
    """

    name = "toy"
    prompts = None

    def __init__(self, learned: bool = False, size: int = 8, channels: int = 3,
                 device: torch.device | str = "cpu") -> None:  # fmt: skip
        from fundiff.schedules import cosine_alphas_cumprod

        self.device = torch.device(device)
        self.image_shape = (channels, size, size)
        self.alphas_cumprod = cosine_alphas_cumprod(1000).to(self.device)
        self.variance_type = "learned_range" if learned else "fixed_small"
        self.learned = learned

    def encode(self, prompt: str) -> torch.Tensor:
        """A (1, 4) conditioning: zeros for "", else a fixed function of the text.

        Args:
            prompt: any text; "" is the unconditional prompt.

        Returns:
            The conditioning, shape (1, 4), on ``device``.
        """
        if not prompt:
            return torch.zeros(1, 4, device=self.device)
        codes = torch.tensor([float(ord(ch)) for ch in prompt], device=self.device)
        return torch.stack([codes.mean() / 100, codes.std(unbiased=False) / 50,
                            torch.tensor(len(prompt) / 10.0, device=self.device),
                            torch.sin(codes).mean()])[None]  # fmt: skip

    def predict(self, x_t: torch.Tensor, t: int, cond: torch.Tensor):
        """The noise estimate for ``x_t`` (B, C, H, W) under ``cond`` (1 or B, 4).

        Args:
            x_t: noisy images, shape (B, C, H, W).
            t: the timestep, an int in [0, 1000).
            cond: conditionings from ``encode``, shape (1, 4) (shared) or (B, 4).

        Returns:
            The noise estimate, shape (B, C, H, W), and for ``learned_range`` the variance
            values in (-1/2, 1/2), of the same shape (see the class docstring).

        Raises:
            ValueError: ``cond``'s batch is neither 1 nor B.
        """
        from fundiff.backends.base import Prediction

        b = x_t.shape[0]
        c = cond.expand(b, -1) if cond.shape[0] == 1 else cond
        if c.shape[0] != b:
            raise ValueError(f"conditioning of batch {c.shape[0]} for images of batch {b}")
        weight = c.mean(dim=1).view(b, 1, 1, 1)
        pattern = _pattern(x_t.shape, x_t.device)
        eps = 0.5 * x_t + t / 1000 + weight * pattern + 0.2 * c[:, :1, None, None] * x_t.flip(-1)
        if not self.learned:
            return Prediction(eps)
        channels = x_t.shape[1]
        per_channel = c.repeat(1, -(-channels // c.shape[1]))[
            :, :channels, None, None
        ]  # (B, C, 1, 1)
        return Prediction(eps, torch.tanh(x_t - per_channel * (1 + pattern) / 2) / 2)


class ToyTimeModel(nn.Module):
    """A Part B time-conditioned velocity: u(x, t) = w x + t b, with b a fixed image."""

    def __init__(self, weight: float, bias: torch.Tensor) -> None:
        super().__init__()
        self.weight, self.bias = weight, bias

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """u(x, t) for x (B, 1, 28, 28) and t a scalar, (B,) or (B, 1).

        Args:
            x: images, shape (B, 1, 28, 28).
            t: times, a scalar or shape (B,) or (B, 1).

        Returns:
            ``w x + t b``, shape (B, 1, 28, 28).
        """
        # a tensor t is used where it is, as a network would: one made on the wrong device shows
        t = (
            t.to(x.dtype)
            if isinstance(t, torch.Tensor)
            else torch.tensor(t, device=x.device, dtype=x.dtype)
        )
        return self.weight * x + t.reshape(-1, *([1] * (x.ndim - 1))) * self.bias


class ToyClassModel(nn.Module):
    """A Part B class-conditioned velocity: u(x, t, c) = w x + gain (t b + (c M) reshaped like x).

    With c the zero vector the class term vanishes, so the unconditional
    velocity differs from every conditional one. A sampler driven by it is linear
    in (its starting noise, gain).
    """

    def __init__(self, weight: float, seed: int, gain: float = 1.0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.weight = weight
        self.register_buffer("bias", torch.rand(1, 28, 28, generator=g) * gain)
        self.register_buffer("classes", torch.randn(10, 28 * 28, generator=g) * 0.5 * gain)

    def forward(self, x: torch.Tensor, t: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """u(x, t, c) for x (B, 1, 28, 28), t (B,) and class vectors c (B, 10).

        Args:
            x: images, shape (B, 1, 28, 28).
            t: times, shape (B,).
            c: class vectors, shape (B, 10); zeros for no class.

        Returns:
            ``w x + t b + c M``, shape (B, 1, 28, 28).
        """
        t = t.reshape(-1, 1, 1, 1).to(x.dtype)
        return self.weight * x + t * self.bias + (c.to(x.dtype) @ self.classes).view_as(x)


class ToyDenoiser(nn.Module):
    """A Part B denoiser with parameters: model(z) = w z + b (w, b scalars)."""

    def __init__(self, weight: float, bias: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.tensor(weight))
        self.bias = nn.Parameter(torch.tensor(bias))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """w z + b, the shape of z.

        Args:
            z: noisy images, e.g. (B, 1, 28, 28); any shape.

        Returns:
            ``w z + b``, the shape of ``z``.
        """
        return self.weight * z + self.bias


def _linear_predictor(weight: float, shift: float = 1.0) -> Callable[..., Any]:
    """A Part A noise estimator: eps = weight * x_t + shift * t / 1000.

    A loop driven by it is linear in (x, shift) up to its draws: the checks vary
    both, so every deterministic part of the loop shows in a difference of two runs.
    """
    from fundiff.backends.base import Prediction

    return lambda x, t: Prediction(weight * x + shift * t / 1000)


def _mixing_predictor(weight: float, shift: float = 1.0) -> Callable[..., Any]:
    """A Part A noise estimator that mixes pixels: eps = weight * x_t + 0.3 * mirror(x_t) + shift * t / 1000."""
    from fundiff.backends.base import Prediction

    return lambda x, t: Prediction(weight * x + 0.3 * x.flip(-1) + shift * t / 1000)


def _prediction(eps: torch.Tensor, variance: torch.Tensor | None = None):
    from fundiff.backends.base import Prediction

    return Prediction(eps, variance)


def _view(name: str, perm: torch.Tensor | None = None):
    from fundiff.diffusion.views import get_view, permutation_view

    return permutation_view(perm) if perm is not None else get_view(name)


def _component(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    from fundiff.diffusion.illusions import grayscale_colour_split

    gray, colour = grayscale_colour_split()
    return {"gray": gray, "colour": colour}[name]


def _affine_velocity(weight: float, bias: torch.Tensor) -> Callable[..., torch.Tensor]:
    return lambda x, t: weight * x + t.reshape(-1, *([1] * (x.ndim - 1))) * bias.to(x.device)


def _guided_digits(labels: list[int], scale: float, device: str = "cpu") -> Callable[..., Any]:
    """A guided predictor on fundiff's shipped MNIST diffusion model, drawing digit ``labels[i]`` in row i."""
    from fundiff.backends.base import Prediction
    from fundiff.backends.mnist_weights import load_mnist_backend

    backend = load_mnist_backend(device=device)
    cond = torch.nn.functional.one_hot(torch.tensor(labels, device=device), 10).float()
    both = torch.cat([cond, torch.zeros_like(cond)])

    def predict(x: torch.Tensor, t: int):
        c, u = backend.predict(torch.cat([x, x]), t, both).eps.chunk(2)
        return Prediction(u + scale * (c - u))

    return predict


def factories(
    device: torch.device | str, grading_assets: str | None = None
) -> dict[str, Callable[..., Any]]:
    """Builders of every helper by name, creating tensors and generators on ``device``.

    Args:
        device: where the helpers' tensors, generators and models go.
        grading_assets: in the worker, the folder of the grading models (``torch.export``
            programs); None: the full fundiff (the grading process, or a notebook's own
            checks).

    Returns:
        A dict of helper name to the function that builds it from the ``Helper``'s args. On
        "meta", ``generator`` builds None (no generator lives there) and the shipped models
        are not available.
    """

    def shipped_flow_class() -> nn.Module:
        if (
            grading_assets is None
        ):  # in the grading process, or a notebook's own checks: the full fundiff
            from fundiff.assets import asset_path
            from fundiff.training.weights import load_exported_model

            return load_exported_model(asset_path("mnist_flow_class.safetensors"), device)[1]
        from fundiff.backends.mnist_weights import load_exported_network

        return load_exported_network(f"{grading_assets}/mnist_flow_class.pt2", device)

    def generator(seed: int) -> torch.Generator | None:
        if (
            torch.device(device).type == "meta"
        ):  # no generator lives there; draws on "meta" make no values
            return None
        return torch.Generator(device).manual_seed(seed)

    return {
        "generator": generator,
        "watched": watch,
        "prediction": _prediction,
        "linear_predictor": _linear_predictor,
        "mixing_predictor": _mixing_predictor,
        "affine_velocity": _affine_velocity,
        "toy_backend": lambda learned=False, size=8, channels=3: ToyBackend(
            learned, size, channels, device
        ),
        "toy_time_model": lambda w, b: ToyTimeModel(w, b).to(device),
        "toy_class_model": lambda w, seed, gain=1.0: ToyClassModel(w, seed, gain).to(device),
        "toy_denoiser": lambda w, b: ToyDenoiser(w, b).to(device),
        "view": _view,
        "component": _component,
        "guided_digits": lambda labels, scale: _guided_digits(labels, scale, str(device)),
        "shipped_flow_class": shipped_flow_class,
    }
