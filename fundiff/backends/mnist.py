"""The MNIST diffusion backend: a small class-conditional pixel DDPM that fundiff trains and ships.

Design: epsilon prediction on DeepFloyd IF's own schedule (1000 steps,
cosine / ``squaredcos_cap_v2``), so that every Part A loop, the strided
timesteps 990, 960, ..., 0 and the i_start values of the write-up carry over
unchanged; only the images are smaller (1x28x28). The network is Part B's
``ClassConditionalUNet``: the time input is t / 1000, the class input a one-hot
vector of the digit, and the zero vector for the unconditional prompt "" (it is
trained with 10% class dropout, so classifier-free guidance works). Its
variance is the fixed posterior variance ("fixed_small").

Prompts are the digits "0" to "9" and "" (unconditional). Images are in [-1, 1]
(a [0, 1] MNIST digit x maps to 2x - 1).

Training: ``fundiff train diffusion-class`` (see ``fundiff.training.config.RECIPES``); the
network is loaded by ``fundiff.backends.mnist_weights``.
"""

from __future__ import annotations

import torch
from torch import nn

from fundiff.backends.base import Prediction
from fundiff.schedules import cosine_alphas_cumprod

NUM_STEPS = 1000
PROMPTS: tuple[str, ...] = tuple(str(d) for d in range(10)) + ("",)


class MNISTBackend:
    """The Part A ``Backend`` for a class-conditional MNIST epsilon model.

    Args:
        model: ``ClassConditionalUNet`` trained by ``fundiff.objectives.diffusion.diffusion_loss``.
        device: where it runs.
    """

    name = "mnist"
    image_shape = (1, 28, 28)
    variance_type = "fixed_small"
    prompts = PROMPTS

    def __init__(self, model: nn.Module, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.num_classes = getattr(model, "num_classes", 10)
        self.alphas_cumprod = cosine_alphas_cumprod(NUM_STEPS).to(self.device)

    def encode(self, prompt: str) -> torch.Tensor:
        """One-hot (1, 10) for "0".."9"; zeros for "".

        Args:
            prompt: a digit "0" to "9", or "" for the unconditional prompt.

        Returns:
            The class vector, shape (1, num_classes), on ``device``.

        Raises:
            ValueError: ``prompt`` is not a digit or "".
        """
        if prompt not in PROMPTS:
            raise ValueError(
                f"the MNIST backend knows the prompts '0' to '9' and '' (unconditional), not {prompt!r}"
            )
        c = torch.zeros(1, self.num_classes, device=self.device)
        if prompt:
            c[0, int(prompt)] = 1
        return c

    @torch.no_grad()
    def predict(self, x_t: torch.Tensor, t: int, cond: torch.Tensor) -> Prediction:
        """Noise estimate for ``x_t`` at timestep ``t`` under class vectors ``cond``.

        Args:
            x_t: noisy images, shape (B, 1, 28, 28).
            t: the timestep, an int in [0, 1000); the network sees t / 1000.
            cond: class vectors from ``encode``, shape (1, 10) (shared) or (B, 10).

        Returns:
            The noise estimate, shape (B, 1, 28, 28); no variance (``fixed_small``).
        """
        b = x_t.shape[0]
        c = cond.expand(b, -1) if cond.shape[0] == 1 else cond
        tt = torch.full((b,), t / NUM_STEPS, device=x_t.device, dtype=x_t.dtype)
        return Prediction(self.model(x_t, tt, c))
