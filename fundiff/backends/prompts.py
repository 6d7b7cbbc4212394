"""Prompt embeddings for DeepFloyd IF: T5 once, a ``.pth`` file of tensors ever after.

IF is conditioned on the last hidden state of the T5 v1.1 XXL encoder
(``google/t5-v1_1-xxl``, shipped in ``DeepFloyd/IF-I-XL-v1.0/text_encoder``):
77 tokens of width 4096 per prompt. The encoder alone is ~4.7B parameters, so
the course hands students a precomputed file, a dict {prompt: (1, 77, 4096)
float16 tensor} with "" as the unconditional prompt. This module makes, saves,
checks and reads such files; ``fundiff embed-prompts`` (``fundiff.cli.embed_prompts``)
is their command line. Weights come through ``fundiff.backends.hub``.

Nothing here imports transformers until ``load_t5`` is called.

Longer than 300 lines because it is one concept, IF's prompt embeddings, from the
encoder that makes them to the file that holds them; the file's checks name every
way such a file can be wrong, which is most of its length.

References:
    diffusers ``IFPipeline.encode_prompt`` (tokenisation, 77 tokens, lower-casing).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from fundiff import writeup
from fundiff.atomic import atomic_path
from fundiff.backends.hub import IF_STAGE1, fetch_pretrained, local_folder, variant_preference

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase, T5EncoderModel

MAX_TOKENS = 77  # IF's T5 was trained on 77 tokens
UNCONDITIONAL = ""

WRITEUP_PROMPTS: tuple[str, ...] = (*writeup.PROMPTS, UNCONDITIONAL)
"""What ``fundiff embed-prompts`` embeds when given no prompts: the write-up's 17 Part 0 prompts,
verbatim and in its order (``fundiff.writeup.PROMPTS``), and "" (unconditional). Pick other prompts
on the command line with --prompt / --prompts-file."""


class PromptEmbedsError(ValueError):
    """A prompt-embeddings file or dict is missing or malformed; the message says how to fix it."""


class MissingPromptEmbedding(PromptEmbedsError):
    """A prompt asked for has no embedding among those loaded.

    Attributes:
        prompt: the prompt asked for.
        known: the prompts that have an embedding, in the file's order.
        embeds_file: the file the embeddings came from, or None for a dict handed in.
    """

    def __init__(self, prompt: str, known: Sequence[str], embeds_file: Path | None) -> None:
        self.prompt, self.known, self.embeds_file = prompt, tuple(known), embeds_file
        super().__init__(
            f"{self.summary()}; embed it with embed_prompts and add it to the file with "
            "save_prompt_embeds (fundiff.backends.prompts; needs the T5 encoder), then load the "
            "backend again"
        )

    def summary(self) -> str:
        """One line: the prompt, where it was looked for, and a few prompts that are there.

        Returns:
            e.g. "no embedding for the prompt 'a horse' in p.pth (it holds 18, e.g. ...)";
            a prompt's own newlines are shown escaped.
        """
        examples = ", ".join(repr(p) for p in self.known[:4])
        where = self.embeds_file or "the prompt embeddings"
        line = (
            f"no embedding for the prompt {self.prompt!r} in {where} "
            f"(it holds {len(self.known)}, e.g. {examples})"
        )
        return line.replace("\n", "\\n")


# --------------------------------------------------------------------------- the T5 encoder


def load_t5(
    text_encoder: str | os.PathLike[str] = IF_STAGE1,
    *,
    device: str | torch.device = "auto",
    dtype: torch.dtype | None = None,
) -> tuple[PreTrainedTokenizerBase, T5EncoderModel]:
    """Load IF's T5 tokenizer and encoder, never waiting on an unreachable hub.

    Args:
        text_encoder: a hub id or a local folder, either in IF's layout (subfolders
            ``text_encoder/`` and ``tokenizer/``, as ``DeepFloyd/IF-I-XL-v1.0``) or
            a plain T5 folder (as ``google/t5-v1_1-xxl``). A hub id is taken to
            have IF's layout when it is in the ``DeepFloyd/`` namespace.
        device: "auto" (CUDA if available), "cpu", "cuda" or "cuda:N".
        dtype: weights dtype; default float16 on CUDA, float32 on the CPU.

    Returns:
        (tokenizer, encoder), the encoder in eval mode on ``device``.

    Raises:
        WeightsUnavailable: the weights are neither here nor downloadable now.
    """
    from transformers import AutoTokenizer, T5EncoderModel

    from fundiff.device import resolve_device

    dev = resolve_device(device)
    dtype = dtype or (torch.float16 if dev.type == "cuda" else torch.float32)
    folder = local_folder(text_encoder)
    if folder is not None:
        if_layout = (folder / "text_encoder").is_dir()
    else:
        if_layout = str(text_encoder).lower().startswith("deepfloyd/")
    enc_dir, tok_dir = ("text_encoder", "tokenizer") if if_layout else ("", "")
    tokenizer = fetch_pretrained(
        AutoTokenizer.from_pretrained,
        text_encoder,
        what="T5 tokenizer",
        probe_file=_join(tok_dir, "tokenizer_config.json"),
        hint=_tokenizer_hint(),
        **({"subfolder": tok_dir} if tok_dir else {}),
    )
    encoder = fetch_pretrained(
        T5EncoderModel.from_pretrained,
        text_encoder,
        what="T5 text encoder",
        probe_file=_join(enc_dir, "config.json"),
        variants=variant_preference(dtype),
        **({"subfolder": enc_dir} if enc_dir else {}),
        **_transformers_dtype(dtype),
    )
    return tokenizer, encoder.to(dev).eval()


def _join(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


def _transformers_dtype(dtype: torch.dtype) -> dict[str, torch.dtype]:
    """``dtype=`` for transformers >= 4.56, ``torch_dtype=`` before (it is deprecated since)."""
    import transformers
    from packaging.version import Version

    key = "dtype" if Version(transformers.__version__) >= Version("4.56") else "torch_dtype"
    return {key: dtype}


def _tokenizer_hint() -> str:
    """Advice for a tokenizer that fails to load where T5's spiece.model cannot be read."""
    from importlib.util import find_spec

    if all(_importable(find_spec, name) for name in ("sentencepiece", "google.protobuf")):
        return ""
    return "reading T5's spiece.model needs sentencepiece and protobuf: pip install sentencepiece protobuf"


def _importable(find_spec: Any, name: str) -> bool:
    try:
        return find_spec(name) is not None
    except ModuleNotFoundError:  # a missing parent package ("google")
        return False


def embed_prompts(
    prompts: Sequence[str],
    tokenizer: PreTrainedTokenizerBase,
    encoder: T5EncoderModel,
    *,
    max_length: int = MAX_TOKENS,
) -> dict[str, torch.Tensor]:
    """T5 embeddings of ``prompts``, "" always among them.

    Each prompt is lower-cased and stripped, padded to ``max_length`` tokens
    (truncated beyond, with a warning) and encoded with its attention mask, as
    diffusers' ``IFPipeline.encode_prompt`` does; the keys are the prompts as given.

    Args:
        prompts: the prompts; duplicates are embedded once, order is kept.
        tokenizer: a T5 tokenizer (``load_t5``).
        encoder: a T5 encoder (``load_t5``).
        max_length: tokens per prompt; IF uses 77.

    Returns:
        {prompt: (1, max_length, d_model) float16 tensor on the CPU}; d_model is 4096 for T5-XXL.

    Raises:
        TypeError: ``prompts`` is a single string, or holds a non-string.
    """
    if isinstance(prompts, str):
        raise TypeError(f"embed_prompts takes a list of prompts, got the single string {prompts!r}")
    for prompt in prompts:
        if not isinstance(prompt, str):
            raise TypeError(f"a prompt must be a string, got {prompt!r} ({type(prompt).__name__})")
    device = next(encoder.parameters()).device
    embeds: dict[str, torch.Tensor] = {}
    for prompt in dict.fromkeys([*prompts, UNCONDITIONAL]):
        text = prompt.lower().strip()
        tokens = tokenizer(
            text,
            padding="max_length",
            max_length=max_length,
            truncation=True,
            add_special_tokens=True,
            return_attention_mask=True,
            return_tensors="pt",
        )
        n_tokens = len(tokenizer(text, add_special_tokens=True).input_ids)
        if n_tokens > max_length:
            warnings.warn(
                f"prompt {prompt!r} has {n_tokens} tokens; T5 sees only the first {max_length}",
                stacklevel=2,
            )
        with torch.no_grad():
            hidden = encoder(
                tokens.input_ids.to(device), attention_mask=tokens.attention_mask.to(device)
            ).last_hidden_state  # (1, max_length, d_model)
        embeds[prompt] = hidden.to("cpu", torch.float16)
    return embeds


# --------------------------------------------------------------------------- the .pth file


def check_prompt_embeds(obj: object, source: str) -> dict[str, torch.Tensor]:
    """Check that ``obj`` is {prompt: (1, L, D) float tensor} with one L and D and a "" entry.

    Args:
        obj: what a file held, or a dict handed in.
        source: where it came from, for messages ("prompts.pth", "the prompt_embeds dict").

    Returns:
        A new dict with the same entries.

    Raises:
        PromptEmbedsError: naming ``source`` and what is wrong.
    """
    remake = "make one with `fundiff embed-prompts --out FILE.pth`"
    if not isinstance(obj, Mapping):
        raise PromptEmbedsError(
            f"{source} holds a {type(obj).__name__}, not a dict of prompt -> tensor; {remake}"
        )
    if not obj:
        raise PromptEmbedsError(f"{source} holds no prompt embeddings; {remake}")
    shape: tuple[int, ...] | None = None
    for prompt, value in obj.items():
        if not isinstance(prompt, str):
            raise PromptEmbedsError(f"{source} has a non-string key {prompt!r}; keys are prompts")
        if not isinstance(value, torch.Tensor) or not value.is_floating_point():
            kind = (
                f"a {value.dtype} tensor"
                if isinstance(value, torch.Tensor)
                else type(value).__name__
            )
            raise PromptEmbedsError(
                f"{source}: the embedding of {prompt!r} is {kind}, not a float tensor"
            )
        if value.ndim != 3 or value.shape[0] != 1:
            raise PromptEmbedsError(
                f"{source}: the embedding of {prompt!r} has shape {tuple(value.shape)}; "
                f"expected (1, L, D), e.g. (1, {MAX_TOKENS}, 4096) for T5-XXL"
            )
        shape = shape or tuple(value.shape)
        if tuple(value.shape) != shape:
            raise PromptEmbedsError(
                f"{source}: the embedding of {prompt!r} has shape {tuple(value.shape)} but others "
                f"have {shape}; all must come from one text encoder, so re-make the file"
            )
    if UNCONDITIONAL not in obj:
        raise PromptEmbedsError(
            f"{source} has no embedding of the unconditional prompt ''; "
            "re-make it with `fundiff embed-prompts`, which always adds it"
        )
    return dict(obj)


def save_prompt_embeds(embeds: Mapping[str, torch.Tensor], path: str | os.PathLike[str]) -> Path:
    """Write ``embeds`` to ``path`` with ``torch.save``, atomically (whole or not at all).

    Args:
        embeds: {prompt: (1, L, D) tensor}, "" included (``embed_prompts`` makes one).
        path: the ``.pth`` file to write; its folder must exist.

    Returns:
        ``path`` as a Path.

    Raises:
        PromptEmbedsError: ``embeds`` is malformed.
        OSError: the file cannot be written.
    """
    path = Path(path)
    checked = check_prompt_embeds(embeds, "the embeddings to save")
    # clone: a view would otherwise drag its whole storage into the file
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in checked.items()}
    with atomic_path(path) as tmp:
        torch.save(tensors, tmp)
    return path


def load_prompt_embeds(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Read a prompt-embeddings file (``torch.load(weights_only=True)``, onto the CPU).

    Args:
        path: a ``.pth`` file of {prompt: (1, L, D) tensor}, as ``save_prompt_embeds``
            or the course writes.

    Returns:
        {prompt: (1, L, D) tensor}.

    Raises:
        PromptEmbedsError: the file is missing, unreadable or malformed; the message names it.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise PromptEmbedsError(
            f"no prompt-embeddings file at {path}: make one with "
            f"`fundiff embed-prompts --out {path}` (needs the T5 encoder), or use the course's file"
        )
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch.load's errors on a malformed file are many and undocumented
        lines = str(err).strip().splitlines()
        reason = f"{type(err).__name__}: {lines[0][:200]}" if lines else type(err).__name__
        raise PromptEmbedsError(
            f"{path} is not a prompt-embeddings file ({reason}); "
            f"re-make it with `fundiff embed-prompts --out {path}`"
        ) from err
    return check_prompt_embeds(obj, str(path))
