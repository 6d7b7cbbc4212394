"""DeepFloyd IF as a Part A backend, through diffusers.

Stage I (``DeepFloyd/IF-I-XL-v1.0``) is a 64 px pixel-space UNet that predicts
6 channels: 3 of noise (epsilon) and 3 variance values ("learned_range"), on a
1000-step DDPM cosine (``squaredcos_cap_v2``) schedule. Stage II
(``DeepFloyd/IF-II-L-v1.0``) upsamples 64 -> 256 px. Both are conditioned on T5
embeddings (1, 77, 4096) read from a prompt-embeddings file
(``fundiff.backends.prompts``), so the T5 encoder is never loaded here.

Weights come from a local folder (a ``save_pretrained`` copy) or the Hugging
Face hub, through ``fundiff.backends.hub.fetch_pretrained``, which fails fast
with ``WeightsUnavailable`` instead of hanging.

diffusers is imported inside the functions that need it.

References:
    DeepFloyd IF, https://github.com/deep-floyd/IF
    diffusers ``IFPipeline`` and ``IFSuperResolutionPipeline`` (pipelines/deepfloyd_if).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from fundiff.backends.base import Prediction, VarianceType
from fundiff.backends.hub import (
    IF_STAGE1,
    IF_STAGE2,
    WeightsUnavailable,
    fetch_pretrained,
    variant_preference,
)
from fundiff.backends.prompts import (
    UNCONDITIONAL,
    MissingPromptEmbedding,
    check_prompt_embeds,
    load_prompt_embeds,
)

if TYPE_CHECKING:
    from diffusers import IFPipeline, IFSuperResolutionPipeline

COURSE_PROMPT_EMBEDS = Path("prompt_embeds_dict.pth")  # the course's file, in the current folder


def _diffusers_kwargs(dtype: torch.dtype) -> dict[str, Any]:
    """``dtype=`` where diffusers has it (``torch_dtype=`` is deprecated there), quiet loading."""
    from diffusers.utils import deprecation_utils

    key = "dtype" if hasattr(deprecation_utils, "_resolve_dtype") else "torch_dtype"
    kwargs: dict[str, Any] = {key: dtype}
    if importlib.util.find_spec("accelerate") is None:
        kwargs["low_cpu_mem_usage"] = False  # what diffusers falls back to, minus its warning
    return kwargs


def load_deepfloyd(
    stage1: str | os.PathLike[str] = IF_STAGE1,
    stage2: str | os.PathLike[str] | None = IF_STAGE2,
    prompt_embeds: str | os.PathLike[str] | Mapping[str, torch.Tensor] = COURSE_PROMPT_EMBEDS,
    *,
    device: str | torch.device = "auto",
    dtype: torch.dtype | None = None,
    stage2_optional: bool = False,
) -> DeepFloydBackend:
    """Load DeepFloyd IF stage I (and stage II) without its T5 encoder.

    Args:
        stage1: hub id or local folder of the stage I pipeline.
        stage2: hub id or local folder of the stage II (64 -> 256 px) pipeline; None skips it.
        stage2_optional: a stage II whose weights are not available is left out (the
            backend's ``stage2`` is None) instead of raising ``WeightsUnavailable``.
        prompt_embeds: a prompt-embeddings ``.pth`` file or dict {prompt: (1, 77, D)}.
        device: "auto" (CUDA if available), "cpu", "cuda" or "cuda:N".
        dtype: default float16 (fp16 weight files) on CUDA, float32 on the CPU.

    Returns:
        The backend, on ``device``.

    Raises:
        WeightsUnavailable: the weights are neither here nor downloadable now.
        PromptEmbedsError: the embeddings are missing or malformed.
        ValueError: an unknown device, or embeddings of the wrong width for the UNet.
    """
    from diffusers import IFPipeline, IFSuperResolutionPipeline

    from fundiff.device import resolve_device

    dev = resolve_device(device)
    dtype = dtype or (torch.float16 if dev.type == "cuda" else torch.float32)
    if isinstance(prompt_embeds, Mapping):
        embeds, source = check_prompt_embeds(prompt_embeds, "the prompt_embeds dict"), None
    else:
        embeds, source = load_prompt_embeds(prompt_embeds), Path(prompt_embeds)
    # T5 is replaced by the embeddings; the safety checker and watermark act on PIL output,
    # which a tensor-returning backend never makes, so none of them is loaded.
    unused = ["text_encoder", "tokenizer", "safety_checker", "feature_extractor", "watermarker"]
    common = {
        **dict.fromkeys(unused),
        "requires_safety_checker": False,
        **_diffusers_kwargs(dtype),
    }
    variants = variant_preference(dtype)
    pipe1 = fetch_pretrained(
        IFPipeline.from_pretrained,
        stage1,
        what="DeepFloyd IF stage I",
        probe_file="model_index.json",
        variants=variants,
        **common,
    )
    pipe2 = None
    if stage2 is not None:
        try:
            pipe2 = fetch_pretrained(
                IFSuperResolutionPipeline.from_pretrained,
                stage2,
                what="DeepFloyd IF stage II",
                probe_file="model_index.json",
                variants=variants,
                **common,
            )
        except WeightsUnavailable:
            if not stage2_optional:
                raise
    return DeepFloydBackend(pipe1, embeds, stage2=pipe2, device=dev, embeds_file=source)


class DeepFloydBackend:
    """DeepFloyd IF stage I as a ``Backend``, with stage II for upsampling.

    Attributes:
        image_shape: (C, H, W) of stage I, from its UNet config: (3, 64, 64) for IF-I-XL.
        alphas_cumprod: (1000,) float32 schedule of stage I's scheduler, on ``device``.
        device: where the pipelines run.
        dtype: the pipelines' weight dtype.
        prompts: the prompts of the embeddings, "" included.
        stage1: the diffusers stage I pipeline (no text encoder).
        stage2: the diffusers stage II pipeline, or None.
    """

    name: str = "deepfloyd"
    variance_type: VarianceType = "learned_range"

    def __init__(
        self,
        stage1: IFPipeline,
        prompt_embeds: Mapping[str, torch.Tensor],
        *,
        stage2: IFSuperResolutionPipeline | None = None,
        device: torch.device | str = "cpu",
        embeds_file: Path | None = None,
    ) -> None:
        config = stage1.unet.config
        if config.out_channels != 2 * config.in_channels:
            raise ValueError(
                f"stage I's UNet has {config.out_channels} output channels for "
                f"{config.in_channels} input ones; IF predicts noise and variance (2x): "
                "load a DeepFloyd IF stage I pipeline"
            )
        embeds = check_prompt_embeds(prompt_embeds, str(embeds_file or "the prompt embeddings"))
        d_model = embeds[UNCONDITIONAL].shape[-1]
        expected = config.encoder_hid_dim or config.cross_attention_dim
        if d_model != expected:
            raise ValueError(
                f"the prompt embeddings have width {d_model} but stage I expects {expected}: "
                "they come from another text encoder; make them with IF's T5 (fundiff embed-prompts)"
            )
        size = config.sample_size
        height, width = (size, size) if isinstance(size, int) else tuple(size)
        self.device = torch.device(device)
        self.stage1 = stage1.to(self.device)
        self.stage2 = stage2.to(self.device) if stage2 is not None else None
        self.dtype: torch.dtype = stage1.unet.dtype
        self.image_shape: tuple[int, int, int] = (config.in_channels, height, width)
        self.alphas_cumprod = stage1.scheduler.alphas_cumprod.to(self.device, torch.float32)
        self.prompts: tuple[str, ...] | None = tuple(embeds)
        self._embeds = embeds
        self._embeds_file = embeds_file

    def encode(self, prompt: str) -> torch.Tensor:
        """The T5 embedding of ``prompt``, shape (1, 77, D), on ``device`` in ``dtype``.

        Args:
            prompt: a prompt of the embeddings; "" is the unconditional one.

        Returns:
            The embedding, shape (1, 77, D) (D = 4096 for IF's T5).

        Raises:
            MissingPromptEmbedding: ``prompt`` is not in the embeddings (a ValueError); it
                carries the prompt, the prompts there are and their file.
        """
        if prompt not in self._embeds:
            raise MissingPromptEmbedding(prompt, tuple(self._embeds), self._embeds_file)
        return self._embeds[prompt].to(self.device, self.dtype)

    def predict(self, x_t: torch.Tensor, t: int, cond: torch.Tensor) -> Prediction:
        """Stage I's noise and variance for ``x_t`` (B, C, H, W) at timestep ``t``.

        Args:
            x_t: noisy images, (B, C, H, W) as ``image_shape``.
            t: timestep in [0, 1000).
            cond: embeddings (1 or B, 77, D), as ``encode`` gives.

        Returns:
            eps and variance values, each (B, C, H, W) float32.
        """
        b, c = x_t.shape[:2]
        if tuple(x_t.shape[1:]) != self.image_shape:
            raise ValueError(
                f"x_t has shape {tuple(x_t.shape)}; stage I takes (B, *{self.image_shape})"
            )
        if cond.shape[0] not in (1, b):
            raise ValueError(f"cond has batch {cond.shape[0]} for {b} images; give 1 or {b}")
        cond = cond.to(self.device, self.dtype).expand(b, -1, -1)  # (B, 77, D)
        with torch.no_grad():
            out = self.stage1.unet(
                x_t.to(self.device, self.dtype), t, encoder_hidden_states=cond, return_dict=False
            )[0]  # (B, 2C, H, W)
        eps, variance = out.split(c, dim=1)
        return Prediction(eps.float(), variance.float())

    def upsample(
        self,
        images: torch.Tensor,
        prompt: str,
        *,
        generator: torch.Generator | None = None,
        steps: int = 20,
    ) -> torch.Tensor:
        """Stage II: upsample 64 px images 4x under ``prompt`` (guided against "").

        Args:
            images: (B, 3, 64, 64) in [-1, 1].
            prompt: a prompt of the embeddings.
            generator: source of stage II's noise.
            steps: stage II denoising steps.

        Returns:
            (B, 3, 256, 256) float32 in [-1, 1] (stage II's sample size), on ``device``.

        Raises:
            RuntimeError: stage II was not loaded.
        """
        if self.stage2 is None:
            raise RuntimeError(
                "stage II was not loaded, so there is nothing to upsample with: "
                f"load the backend with load_deepfloyd(..., stage2={IF_STAGE2!r})"
            )
        b = images.shape[0]
        out = self.stage2(
            image=images.to(self.device, self.dtype),
            prompt_embeds=self.encode(prompt).expand(b, -1, -1),
            negative_prompt_embeds=self.encode(UNCONDITIONAL).expand(b, -1, -1),
            num_inference_steps=steps,
            generator=generator,
            output_type="pt",
        ).images  # (B, 3, 256, 256)
        return out.float().clamp(-1, 1)

    def sample_pipeline(self, prompt: str, steps: int, seed: int) -> torch.Tensor:
        """The stock diffusers stage I sampler (Part 0): one image for ``prompt``.

        Args:
            prompt: a prompt of the embeddings (guided against "").
            steps: denoising steps (the course uses 20, 50 and 100).
            seed: seed of ``torch.Generator(device)`` (the course uses 101).

        Returns:
            (1, 3, 64, 64) float32 in [-1, 1], on ``device``.
        """
        generator = torch.Generator(self.device).manual_seed(seed)
        out = self.stage1(
            prompt_embeds=self.encode(prompt),
            negative_prompt_embeds=self.encode(UNCONDITIONAL),
            num_inference_steps=steps,
            generator=generator,
            output_type="pt",
        ).images  # (1, 3, 64, 64)
        return out.float().clamp(-1, 1)
