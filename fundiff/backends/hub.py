"""Getting model weights from the Hugging Face hub or a local folder, failing fast.

DeepFloyd IF's pipelines and its T5 encoder are read with a ``from_pretrained``
of diffusers or transformers; ``fetch_pretrained`` wraps any of them. A local
folder (a ``save_pretrained`` copy) is read as it is. A hub id is read from the
hub cache first, and from the network only after a probe with a short timeout,
so that a missing licence, login or network ends in ``WeightsUnavailable`` at
once instead of a hang. ``HF_HUB_OFFLINE`` is honoured. Weight-file variants
(``fp16`` or the full files) are picked to match the dtype.

Nothing here imports diffusers or transformers; huggingface_hub is imported
inside the functions that need it.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import torch

IF_STAGE1 = "DeepFloyd/IF-I-XL-v1.0"  # 64 px, and IF's T5 encoder in its text_encoder/
IF_STAGE2 = "DeepFloyd/IF-II-L-v1.0"  # 64 -> 256 px
HUB_TIMEOUT_S = 10.0  # seconds the hub gets to answer the probe before a download starts

T = TypeVar("T")
_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")


class WeightsUnavailable(RuntimeError):
    """Model weights are neither on disk nor downloadable now; the message says how to get them."""


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
