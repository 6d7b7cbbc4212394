"""DeepFloyd IF as a Part A backend, through diffusers.

Stage I (``DeepFloyd/IF-I-XL-v1.0``) is a 64 px pixel-space UNet that predicts
6 channels: 3 of noise (epsilon) and 3 variance values ("learned_range"), on a
1000-step DDPM cosine (``squaredcos_cap_v2``) schedule. Stage II
(``DeepFloyd/IF-II-L-v1.0``) upsamples 64 -> 256 px. Both are conditioned on T5
embeddings (1, 77, 4096) read from a prompt-embeddings file
(``fundiff.backends.prompts``), so the T5 encoder is never loaded here.

Weights come from a local folder (a ``save_pretrained`` copy) or the Hugging
Face hub. ``fetch_pretrained`` tries the hub cache first and the network only
after a probe with a short timeout, so a missing licence, login or network ends
in ``WeightsUnavailable`` at once instead of a hang.

diffusers is imported inside the functions that need it.

References:
    DeepFloyd IF, https://github.com/deep-floyd/IF
    diffusers ``IFPipeline`` and ``IFSuperResolutionPipeline`` (pipelines/deepfloyd_if).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import torch

from fundiff.backends.base import Prediction, VarianceType
from fundiff.backends.prompts import (
    IF_STAGE1,
    UNCONDITIONAL,
    check_prompt_embeds,
    load_prompt_embeds,
)

if TYPE_CHECKING:
    from diffusers import IFPipeline, IFSuperResolutionPipeline

IF_STAGE2 = "DeepFloyd/IF-II-L-v1.0"
COURSE_PROMPT_EMBEDS = Path("prompt_embeds_dict.pth")  # the course's file, in the current folder
HUB_TIMEOUT_S = 10.0  # seconds the hub gets to answer the probe before a download starts

T = TypeVar("T")
_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")


class WeightsUnavailable(RuntimeError):
    """Model weights are neither on disk nor downloadable now; the message says how to get them."""


# --------------------------------------------------------------------------- getting weights


def local_folder(source: str | os.PathLike[str]) -> Path | None:
    """The local folder ``source`` names, or None if it is a hub id ("owner/name").

    A Path, an existing path, or a string that cannot be a hub id is a folder.

    Args:
        source: a local folder or a hub id.

    Returns:
        The folder (with ``~`` expanded), or None for a hub id.
    """
    if isinstance(source, os.PathLike):
        return Path(source).expanduser()
    path = Path(source).expanduser()
    return path if path.exists() or not _REPO_ID.fullmatch(source) else None


def variant_preference(dtype: torch.dtype) -> tuple[str | None, ...]:
    """Weight-file variants to look for, best first: the fp16 files for float16, else the full ones.

    Args:
        dtype: the dtype the weights are loaded in.

    Returns:
        ``("fp16", None)`` for float16, else ``(None, "fp16")``; None names the plain files.
    """
    return ("fp16", None) if dtype == torch.float16 else (None, "fp16")


def fetch_pretrained(
    load: Callable[..., T],
    source: str | os.PathLike[str],
    *,
    what: str,
    probe_file: str,
    variants: Sequence[str | None] = (None,),
    hint: str = "",
    **kwargs: Any,
) -> T:
    """Call a ``from_pretrained`` on a local folder or a hub id, failing fast when it cannot.

    A local folder is read with ``local_files_only=True``, in the first of
    ``variants`` it holds files of (else whatever it holds). A hub id is read
    from the hub cache (any of ``variants``); failing that, unless offline, the
    hub is probed (``model_info`` with ``HUB_TIMEOUT_S``, then ``probe_file``,
    which a gated repo refuses without an accepted licence) and only then is
    the model downloaded, in ``variants[0]``.

    Args:
        load: e.g. ``IFPipeline.from_pretrained``.
        source: a local folder or a hub id.
        what: what is loaded, for messages ("DeepFloyd IF stage I").
        probe_file: a small file of the repo ("model_index.json").
        variants: weight variants, best first (None: the plain files).
        hint: extra advice for a failure, if any.
        **kwargs: passed to ``load``.

    Raises:
        WeightsUnavailable: naming ``source`` and how to get the weights.
    """
    errors = _load_errors()
    hint = f"; {hint}" if hint else ""
    folder = local_folder(source)
    if folder is not None:
        if not folder.is_dir():
            raise WeightsUnavailable(
                f"no {what} at {folder}: there is no such folder. Pass a folder written by "
                f"save_pretrained, or a hub id such as {IF_STAGE1} (first accept the licence on "
                f"https://huggingface.co/{IF_STAGE1} and log in with `hf auth login`)"
            )
        variant = _local_variant(folder / kwargs.get("subfolder", ""), variants)
        try:
            return load(str(folder), local_files_only=True, **_variant(variant), **kwargs)
        except errors as err:
            raise WeightsUnavailable(
                f"could not load {what} from the folder {folder} ({_reason(err)}): "
                f"pass a complete folder written by save_pretrained{hint}"
            ) from err
    repo = str(source)
    for variant in dict.fromkeys(variants):
        try:
            return load(repo, local_files_only=True, **_variant(variant), **kwargs)
        except errors:
            pass  # not in the hub cache (in this variant)
    if _offline():
        raise WeightsUnavailable(
            f"{what} ({repo}) is not in the Hugging Face cache and HF_HUB_OFFLINE is set, so it "
            f"cannot be downloaded: unset HF_HUB_OFFLINE and {_advice(repo)}"
        )
    try:
        _probe_hub(repo, probe_file)
        return load(repo, **_variant(variants[0]), **kwargs)
    except errors as err:
        raise WeightsUnavailable(
            f"could not get {what} ({repo}) from the Hugging Face hub ({_reason(err)}): "
            f"check the network, {_advice(repo)}{hint}"
        ) from err


def _advice(repo: str) -> str:
    return (
        f"accept the licence on the model page https://huggingface.co/{repo}, log in with "
        "`hf auth login` (older: `huggingface-cli login`), or pass a local folder "
        "(a save_pretrained copy)"
    )


def _reason(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    first = lines[0] if lines else ""
    return f"{type(err).__name__}: {first[:200]}" if first else type(err).__name__


def _variant(variant: str | None) -> dict[str, str]:
    return {"variant": variant} if variant else {}


def _local_variant(folder: Path, variants: Sequence[str | None]) -> str | None:
    """The first of ``variants`` with weight files under ``folder``; else the one there is."""
    found = {
        _variant_of(p.name) for ext in ("safetensors", "bin") for p in folder.rglob(f"*.{ext}")
    }
    for variant in variants:
        if variant in found:
            return variant
    return next(iter(found)) if len(found) == 1 else None


def _variant_of(name: str) -> str | None:
    """The variant in a weight file's name: "model.fp16-00001-of-00002.safetensors" -> "fp16"."""
    parts = name.split(".")
    return parts[1].split("-")[0] if len(parts) > 2 else None


def _offline() -> bool:
    from huggingface_hub import constants

    env = os.environ.get("HF_HUB_OFFLINE", "").upper() in {"1", "ON", "YES", "TRUE"}
    return bool(getattr(constants, "HF_HUB_OFFLINE", False)) or env


def _probe_hub(repo: str, probe_file: str) -> None:
    """Raise at once if the hub is unreachable, the repo unknown or its licence not accepted.

    huggingface_hub reads its timeout variables at import, so the timeouts are
    passed explicitly; ``model_info`` is not retried, unlike a file download.
    """
    from huggingface_hub import HfApi, hf_hub_download

    HfApi().model_info(repo, timeout=HUB_TIMEOUT_S)
    hf_hub_download(repo, probe_file, etag_timeout=HUB_TIMEOUT_S)


def _load_errors() -> tuple[type[BaseException], ...]:
    """What a failed ``from_pretrained`` raises: OS, value, hub and HTTP-client errors."""
    from huggingface_hub import errors as hub_errors

    found: list[type[BaseException]] = [
        OSError,  # EnvironmentError, LocalEntryNotFoundError, requests' errors
        ValueError,
        hub_errors.HfHubHTTPError,  # GatedRepoError, RepositoryNotFoundError
        hub_errors.EntryNotFoundError,
    ]
    for module, name in (("httpx", "HTTPError"), ("httpx2", "HTTPError")):
        cls = getattr(sys.modules.get(module), name, None)
        if isinstance(cls, type) and issubclass(cls, BaseException):
            found.append(cls)
    return tuple(found)


def _diffusers_kwargs(dtype: torch.dtype) -> dict[str, Any]:
    """``dtype=`` where diffusers has it (``torch_dtype=`` is deprecated there), quiet loading."""
    from diffusers.utils import deprecation_utils

    key = "dtype" if hasattr(deprecation_utils, "_resolve_dtype") else "torch_dtype"
    kwargs: dict[str, Any] = {key: dtype}
    if importlib.util.find_spec("accelerate") is None:
        kwargs["low_cpu_mem_usage"] = False  # what diffusers falls back to, minus its warning
    return kwargs


# --------------------------------------------------------------------------- the backend


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


def missing_prompt_message(
    prompt: str, embeds: Mapping[str, torch.Tensor], embeds_file: Path | None
) -> str:
    """One line: ``prompt`` has no embedding, some prompts that have one, and the command that adds it.

    Args:
        prompt: the prompt asked for.
        embeds: the embeddings there are, {prompt: (1, 77, D)}.
        embeds_file: the file they came from, or None for a dict handed in.

    Returns:
        The message, without newlines (a prompt's own are shown escaped).
    """
    known = ", ".join(repr(p) for p in list(embeds)[:4])
    out = shlex.quote(str(embeds_file)) if embeds_file is not None else "FILE.pth"
    add = f"fundiff embed-prompts --out {out} --prompt {shlex.quote(prompt)}"
    message = (
        f"no embedding for the prompt {prompt!r} in {embeds_file or 'the prompt embeddings'} "
        f"(it holds {len(embeds)}, e.g. {known}); add it with `{add}` (keeps the prompts already "
        "there; needs the T5 encoder) and load the backend again"
    )
    return message.replace("\n", "\\n")


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
            ValueError: ``prompt`` is not in the embeddings; the message says how to add it.
        """
        if prompt not in self._embeds:
            raise ValueError(missing_prompt_message(prompt, self._embeds, self._embeds_file))
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
