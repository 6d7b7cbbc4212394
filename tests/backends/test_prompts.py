"""Tests for DeepFloyd IF's prompt embeddings (``fundiff.backends.prompts``), offline.

T5-XXL is gated and tens of GB, so these tests load a tiny random T5 of the same
classes and layout (``conftest.py``) through the loaders users call.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fundiff import writeup
from fundiff.backends.hub import WeightsUnavailable
from fundiff.backends.prompts import (
    MAX_TOKENS,
    WRITEUP_PROMPTS,
    PromptEmbedsError,
    embed_prompts,
    load_prompt_embeds,
    load_t5,
    save_prompt_embeds,
)
from tests.backends.conftest import D_MODEL

DOG = "a photo of a dog"


@pytest.fixture(scope="module")
def t5(t5_dir: Path) -> tuple[object, torch.nn.Module]:
    return load_t5(t5_dir, device="cpu")


# --------------------------------------------------------------------------- prompt embeddings


def test_writeup_prompts_are_the_writeups_and_the_unconditional_prompt() -> None:
    """Is the default prompt set the write-up's prompts, verbatim and in order, then "", each once?"""
    assert list(WRITEUP_PROMPTS) == [*writeup.PROMPTS, ""]
    assert len(set(WRITEUP_PROMPTS)) == len(WRITEUP_PROMPTS) == len(writeup.PROMPTS) + 1


def test_embed_prompts_gives_one_77_token_embedding_per_unique_prompt(t5) -> None:
    """Is every prompt, duplicates once and "" always, a (1, 77, d_model) float16 CPU tensor?"""
    embeds = embed_prompts([DOG, "a pencil", DOG], *t5)
    assert list(embeds) == [DOG, "a pencil", ""]
    for value in embeds.values():
        assert value.shape == (1, MAX_TOKENS, D_MODEL)
        assert value.dtype == torch.float16 and value.device.type == "cpu"
        assert torch.isfinite(value).all()


def test_embed_prompts_ignores_case_and_outer_spaces_as_if_does(t5) -> None:
    """Does "  A Photo Of A Dog " embed as "a photo of a dog" (IFPipeline.encode_prompt lower-cases)?"""
    embeds = embed_prompts(["  A Photo Of A Dog ", DOG], *t5)
    torch.testing.assert_close(embeds["  A Photo Of A Dog "], embeds[DOG], rtol=0, atol=0)


def test_embed_prompts_tells_different_prompts_apart(t5) -> None:
    """Do two different prompts get different embeddings (the mask and ids reach the encoder)?"""
    embeds = embed_prompts([DOG, "a pencil"], *t5)
    assert not torch.equal(embeds[DOG], embeds["a pencil"])
    assert not torch.equal(embeds[DOG], embeds[""])


@settings(max_examples=15, deadline=None)
@given(text=st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=400))
def test_any_text_becomes_exactly_77_tokens(t5, text: str) -> None:
    """Is any prompt, empty to far too long, padded or truncated to (1, 77, d_model)?"""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # long prompts warn that they are truncated
        embeds = embed_prompts([text], *t5)
    assert embeds[text].shape == (1, MAX_TOKENS, D_MODEL)


def test_embed_prompts_refuses_a_single_string(t5) -> None:
    """Is embed_prompts("a dog") an error instead of embedding each letter?"""
    with pytest.raises(TypeError, match="list of prompts"):
        embed_prompts(DOG, *t5)


def test_saved_embeddings_load_back_equal(t5, tmp_path: Path) -> None:
    """Do save_prompt_embeds then load_prompt_embeds round-trip, leaving no temporary file?"""
    embeds = embed_prompts([DOG], *t5)
    path = save_prompt_embeds(embeds, tmp_path / "p.pth")
    loaded = load_prompt_embeds(path)
    assert loaded.keys() == embeds.keys()
    for prompt, value in embeds.items():
        torch.testing.assert_close(loaded[prompt], value, rtol=0, atol=0)
    assert [p.name for p in tmp_path.iterdir()] == ["p.pth"]


# --------------------------------------------------------------------------- the .pth file


GOOD = torch.zeros(1, 77, 8)


BAD_FILES = {
    "not a dict": [GOOD],
    "empty": {},
    "non-string key": {"": GOOD, 3: GOOD},
    "not a tensor": {"": [0.0]},
    "integer tensor": {"": torch.zeros(1, 77, 8, dtype=torch.int64)},
    "no batch axis": {"": torch.zeros(77, 8)},
    "mixed widths": {"": GOOD, DOG: torch.zeros(1, 77, 16)},
    "no unconditional": {DOG: GOOD},
}


@pytest.mark.parametrize("content", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_malformed_embedding_files_are_refused_by_name(content: object, tmp_path: Path) -> None:
    """Is a file of the wrong structure a PromptEmbedsError that names the file?"""
    path = tmp_path / "bad.pth"
    torch.save(content, path)
    with pytest.raises(PromptEmbedsError, match="bad.pth"):
        load_prompt_embeds(path)


@pytest.mark.parametrize("content", [b"", b"not a torch file"], ids=["empty", "junk"])
def test_unreadable_embedding_files_are_refused_by_name(content: bytes, tmp_path: Path) -> None:
    """Is a file torch cannot read a PromptEmbedsError that names it and how to re-make it?"""
    path = tmp_path / "junk.pth"
    path.write_bytes(content)
    with pytest.raises(PromptEmbedsError, match=r"junk.pth.*fundiff embed-prompts"):
        load_prompt_embeds(path)


def test_a_missing_embeddings_file_says_how_to_make_one(tmp_path: Path) -> None:
    """Does a missing file name itself and the command that makes it?"""
    with pytest.raises(PromptEmbedsError, match=r"nope.pth.*fundiff embed-prompts --out"):
        load_prompt_embeds(tmp_path / "nope.pth")


def test_load_t5_names_a_missing_folder(tmp_path: Path) -> None:
    """Does load_t5 on a folder that is not there raise WeightsUnavailable naming it?"""
    with pytest.raises(WeightsUnavailable, match="no-t5-here"):
        load_t5(tmp_path / "no-t5-here", device="cpu")
