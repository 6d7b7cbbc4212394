"""Tests for the DeepFloyd IF backend (``fundiff.backends.deepfloyd``), offline.

Real IF weights are gated and tens of GB, so these tests load tiny random
components of the same classes and layout (``conftest.py``) through the loaders
users call.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fundiff.backends import Backend
from fundiff.backends.deepfloyd import DeepFloydBackend, load_deepfloyd
from fundiff.backends.prompts import (
    MAX_TOKENS,
    WRITEUP_PROMPTS,
    MissingPromptEmbedding,
    load_prompt_embeds,
)
from tests.backends.conftest import D_MODEL, STAGE1_SIZE, STAGE2_SIZE

DOG = "a photo of a dog"


@pytest.fixture(scope="module")
def backend(stage1_dir: Path, stage2_dir: Path, embeds_file: Path) -> DeepFloydBackend:
    b = load_deepfloyd(stage1_dir, stage2_dir, embeds_file, device="cpu")
    b.stage1.set_progress_bar_config(disable=True)
    b.stage2.set_progress_bar_config(disable=True)
    return b


# --------------------------------------------------------------------------- the backend


def test_loaded_backend_satisfies_the_backend_protocol(backend) -> None:
    """Is a loaded DeepFloydBackend a Backend, with its shape read from the UNet config?"""
    assert isinstance(backend, Backend)
    assert backend.name == "deepfloyd"
    assert backend.variance_type == "learned_range"
    assert backend.image_shape == (3, STAGE1_SIZE, STAGE1_SIZE)
    assert set(backend.prompts) == set(WRITEUP_PROMPTS)
    assert backend.device == torch.device("cpu") and backend.dtype == torch.float32


def test_alphas_cumprod_is_stage_one_schedule_as_float32(backend, stage1_dir) -> None:
    """Is alphas_cumprod the scheduler's, in float32, and IF's cosine schedule?"""
    from diffusers import DDPMScheduler

    from fundiff.schedules import cosine_alphas_cumprod

    scheduler = DDPMScheduler.from_pretrained(stage1_dir, subfolder="scheduler")
    assert backend.alphas_cumprod.dtype == torch.float32
    torch.testing.assert_close(backend.alphas_cumprod, scheduler.alphas_cumprod.float())
    torch.testing.assert_close(
        backend.alphas_cumprod, cosine_alphas_cumprod(1000), atol=1e-5, rtol=0
    )


def test_encode_gives_the_stored_embedding(backend, embeds_file) -> None:
    """Is encode(prompt) the file's tensor, in the backend's dtype and device?"""
    cond = backend.encode(DOG)
    assert cond.dtype == backend.dtype and cond.shape == (1, MAX_TOKENS, D_MODEL)
    torch.testing.assert_close(cond, load_prompt_embeds(embeds_file)[DOG].float())


@pytest.mark.parametrize("prompt", ["a photo of a horse", "a horse's\nsaddle"])
def test_encode_of_an_unknown_prompt_says_how_to_add_it(backend, embeds_file, prompt: str) -> None:
    """Is an unknown prompt a MissingPromptEmbedding in one line naming it and known prompts, carrying
    the prompt, the known prompts and the file (``fundiff.cli`` words them as embed-prompts' flags)?"""
    with pytest.raises(MissingPromptEmbedding) as info:
        backend.encode(prompt)
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert len(message.splitlines()) == 1
    assert repr(prompt).replace("\\n", "") in message.replace("\\n", "")
    assert repr(WRITEUP_PROMPTS[0]) in message
    assert "embed_prompts" in message and "save_prompt_embeds" in message
    assert info.value.prompt == prompt
    assert info.value.embeds_file == embeds_file
    assert info.value.known == WRITEUP_PROMPTS


def test_predict_splits_the_unet_output_into_eps_and_variance(backend) -> None:
    """Are eps and variance the UNet's first and last 3 channels, as float32 images?"""
    torch.manual_seed(0)
    x = torch.randn(2, *backend.image_shape)
    cond = backend.encode(DOG)
    pred = backend.predict(x, 500, cond)
    with torch.no_grad():
        out = backend.stage1.unet(x, 500, encoder_hidden_states=cond.expand(2, -1, -1)).sample
    assert pred.eps.shape == pred.variance.shape == x.shape
    assert pred.eps.dtype == pred.variance.dtype == torch.float32
    torch.testing.assert_close(torch.cat([pred.eps, pred.variance], dim=1), out)


@settings(max_examples=8, deadline=None)
@given(batch=st.integers(1, 3), t=st.integers(0, 999), seed=st.integers(0, 2**16))
def test_predict_on_a_batch_equals_predict_on_each_image(backend, batch, t, seed) -> None:
    """Does a batched call with one broadcast cond give each image's own prediction?"""
    x = torch.randn(batch, *backend.image_shape, generator=torch.Generator().manual_seed(seed))
    cond = backend.encode(DOG)
    whole = backend.predict(x, t, cond)
    for i in range(batch):
        one = backend.predict(x[i : i + 1], t, cond)
        torch.testing.assert_close(whole.eps[i : i + 1], one.eps, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(whole.variance[i : i + 1], one.variance, atol=1e-5, rtol=1e-4)


def test_predict_refuses_a_cond_batch_that_does_not_match(backend) -> None:
    """Is a cond of batch 2 for 3 images an error naming both batches?"""
    x = torch.zeros(3, *backend.image_shape)
    cond = backend.encode(DOG).expand(2, -1, -1)
    with pytest.raises(ValueError, match="batch 2 for 3"):
        backend.predict(x, 10, cond)


def test_sample_pipeline_is_seeded_and_in_range(backend) -> None:
    """Does the stock pipeline give a (1, 3, H, W) image in [-1, 1], the same for the same seed?"""
    a = backend.sample_pipeline(DOG, steps=2, seed=101)
    b = backend.sample_pipeline(DOG, steps=2, seed=101)
    c = backend.sample_pipeline(DOG, steps=2, seed=102)
    assert a.shape == (1, *backend.image_shape)
    assert a.min() >= -1 and a.max() <= 1
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.equal(a, c)


def test_upsample_gives_stage_two_size_per_image(backend) -> None:
    """Does stage II upsample a batch of 2 to (2, 3, 4H, 4W) in [-1, 1]?"""
    images = torch.rand(2, *backend.image_shape) * 2 - 1
    up = backend.upsample(images, DOG, generator=torch.Generator().manual_seed(0), steps=2)
    assert up.shape == (2, 3, STAGE2_SIZE, STAGE2_SIZE)
    assert up.dtype == torch.float32 and up.min() >= -1 and up.max() <= 1


def test_upsample_without_stage_two_says_how_to_load_it(stage1_dir, embeds_file) -> None:
    """Does upsample on a stage-I-only backend raise, naming the stage2 argument?"""
    b = load_deepfloyd(stage1_dir, None, embeds_file, device="cpu")
    assert b.stage2 is None
    with pytest.raises(RuntimeError, match="stage2="):
        b.upsample(torch.zeros(1, *b.image_shape), DOG)


def test_embeddings_of_another_width_are_refused(stage1_dir) -> None:
    """Are embeddings of width 16 for a UNet expecting 32 refused, naming both widths?"""
    with pytest.raises(ValueError, match="width 16.*expects 32"):
        load_deepfloyd(stage1_dir, None, {"": torch.zeros(1, 77, 16)}, device="cpu")


# --------------------------------------------------------------------------- CUDA


@pytest.mark.gpu
def test_on_cuda_the_weights_are_float16_and_predictions_float32(stage1_dir, embeds_file) -> None:
    """On CUDA, does load_deepfloyd pick float16 weights and still return float32 predictions?"""
    b = load_deepfloyd(stage1_dir, None, embeds_file, device="cuda")
    assert b.dtype == b.stage1.unet.dtype == torch.float16
    assert b.alphas_cumprod.dtype == torch.float32 and b.alphas_cumprod.is_cuda
    pred = b.predict(torch.randn(2, *b.image_shape, device="cuda"), 500, b.encode(DOG))
    assert pred.eps.dtype == torch.float32 and pred.eps.is_cuda
    assert torch.isfinite(pred.eps).all() and torch.isfinite(pred.variance).all()
