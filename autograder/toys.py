"""Small known models the checks hand to a submission's functions, and the ``Helper`` that names them.

A check cannot pickle a function into the confined worker, so it names one of
these with parameters (``Helper("toy_backend", (True,))``); the worker and the
grading process each build it from the same parameters, so the submission and
fundiff's reference see the same model. Every toy is cheap, deterministic and
depends on all of its inputs, so a function that drops or mixes one up gives a
different result.

This module runs inside the worker: it imports only torch and the parts of
fundiff that the student build leaves whole.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


@dataclass(frozen=True)
class Helper:
    """A function argument built where it is used, from ``args`` (see ``FACTORIES``)."""

    name: str
    args: tuple[Any, ...] = ()


def _pattern(shape: tuple[int, ...], device: torch.device | str) -> torch.Tensor:
    """A fixed, non-constant image of ``shape`` (..., H, W), so guidance terms are not uniform."""
    h, w = shape[-2:]
    yy = torch.arange(h, device=device, dtype=torch.float32)[:, None]
    xx = torch.arange(w, device=device, dtype=torch.float32)[None, :]
    return torch.sin(0.7 * yy + 0.3) * torch.cos(0.4 * xx - 0.2) + 0.1 * yy / h


class ToyBackend:
    """A Part A backend with a closed-form noise estimate.

    eps(x, t, c) = 0.5 x + t / 1000 + mean(c) * pattern (+ a per-view-visible
    asymmetry), and for ``learned_range`` a variance value tanh(x) / 2.
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
            values tanh(x_t) / 2, of the same shape.

        Raises:
            ValueError: ``cond``'s batch is neither 1 nor B.
        """
        from fundiff.backends.base import Prediction

        b = x_t.shape[0]
        c = cond.expand(b, -1) if cond.shape[0] == 1 else cond
        if c.shape[0] != b:
            raise ValueError(f"conditioning of batch {c.shape[0]} for images of batch {b}")
        weight = c.mean(dim=1).view(b, 1, 1, 1)
        eps = (
            0.5 * x_t
            + t / 1000
            + weight * _pattern(x_t.shape, x_t.device)
            + 0.2 * c[:, :1, None, None] * x_t.flip(-1)
        )
        return Prediction(eps, torch.tanh(x_t) / 2 if self.learned else None)


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
        t = torch.as_tensor(t, device=x.device, dtype=x.dtype).reshape(-1, *([1] * (x.ndim - 1)))
        return self.weight * x + t * self.bias.to(x.device)


class ToyClassModel(nn.Module):
    """A Part B class-conditioned velocity: u(x, t, c) = w x + t b + (c M) reshaped like x.

    With c the zero vector the class term vanishes, so the unconditional
    velocity differs from every conditional one.
    """

    def __init__(self, weight: float, seed: int) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.weight = weight
        self.register_buffer("bias", torch.rand(1, 28, 28, generator=g))
        self.register_buffer("classes", torch.randn(10, 28 * 28, generator=g) * 0.5)

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


def _linear_predictor(weight: float) -> Callable[..., Any]:
    """A Part A noise estimator: eps = weight * x_t + t / 1000."""
    from fundiff.backends.base import Prediction

    return lambda x, t: Prediction(weight * x + t / 1000)


def _mixing_predictor(weight: float) -> Callable[..., Any]:
    """A Part A noise estimator that mixes pixels: eps = weight * x_t + 0.3 * mirror(x_t) + t / 1000."""
    from fundiff.backends.base import Prediction

    return lambda x, t: Prediction(weight * x + 0.3 * x.flip(-1) + t / 1000)


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
    from fundiff.backends.mnist import load_mnist_backend

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
        A dict of helper name to the function that builds it from the ``Helper``'s args.
    """

    def shipped_flow_class() -> nn.Module:
        if (
            grading_assets is None
        ):  # in the grading process, or a notebook's own checks: the full fundiff
            from fundiff.assets import asset_path
            from fundiff.weights import load_exported_model

            return load_exported_model(asset_path("mnist_flow_class.safetensors"), device)[1]
        from fundiff.backends.mnist import load_exported_network

        return load_exported_network(f"{grading_assets}/mnist_flow_class.pt2", device)

    return {
        "generator": lambda seed: torch.Generator(device).manual_seed(seed),
        "prediction": _prediction,
        "linear_predictor": _linear_predictor,
        "mixing_predictor": _mixing_predictor,
        "affine_velocity": _affine_velocity,
        "toy_backend": lambda learned=False, size=8, channels=3: ToyBackend(
            learned, size, channels, device
        ),
        "toy_time_model": lambda w, b: ToyTimeModel(w, b).to(device),
        "toy_class_model": lambda w, seed: ToyClassModel(w, seed).to(device),
        "toy_denoiser": lambda w, b: ToyDenoiser(w, b).to(device),
        "view": _view,
        "component": _component,
        "guided_digits": lambda labels, scale: _guided_digits(labels, scale, str(device)),
        "shipped_flow_class": shipped_flow_class,
    }


def resolve(value: Any, built: dict[str, Callable[..., Any]], device: torch.device | str) -> Any:
    """``value`` with every helper built and its tensors on ``device``.

    Args:
        value: an argument: a ``Helper``, a helper dict from the wire, a tensor, or a
            list, tuple or dict of them (nested); anything else passes through.
        built: the builders, from ``factories``.
        device: where tensors are moved.

    Returns:
        ``value`` with helpers built and tensors on ``device``; tuples become lists.
    """
    if isinstance(value, Helper):
        value = {"__helper__": value.name, "args": list(value.args)}
    if isinstance(value, dict) and "__helper__" in value:
        args = [resolve(a, built, device) for a in value.get("args", [])]
        return built[value["__helper__"]](*args)
    if isinstance(value, dict):
        return {k: resolve(v, built, device) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [resolve(v, built, device) for v in value]
    if isinstance(value, torch.Tensor):
        return value.to(device)
    return value


def on_wire(value: Any) -> Any:
    """``value`` with ``Helper``s as plain dicts, ready for ``torch.save``.

    Args:
        value: an argument: a ``Helper``, or a list, tuple or dict holding them (nested);
            anything else passes through.

    Returns:
        ``value`` with each ``Helper`` as ``{"__helper__": name, "args": [...]}``; tuples
        become lists.
    """
    if isinstance(value, Helper):
        return {"__helper__": value.name, "args": [on_wire(a) for a in value.args]}
    if isinstance(value, (list, tuple)):
        return [on_wire(v) for v in value]
    if isinstance(value, dict):
        return {k: on_wire(v) for k, v in value.items()}
    return value
