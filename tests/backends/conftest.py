"""Tiny random DeepFloyd IF and T5 folders, laid out like the hub repos, for offline tests.

They are built with diffusers' and transformers' own classes (IF-shaped configs
after diffusers' IF pipeline tests, a few thousand parameters each), written
with ``save_pretrained`` and read back through fundiff's loaders, so the tests
take the code path that real weights take.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

D_MODEL = 32  # T5 width; 4096 for T5-XXL
STAGE1_SIZE = 16  # stage I sample size; 64 for IF-I-XL
STAGE2_SIZE = 64  # stage II sample size; 256 for IF-II-L


def _unet(in_channels: int, sample_size: int, **extra: object) -> torch.nn.Module:
    """An IF-shaped UNet: text addition embedding, simple cross-attention, scale-shift norms."""
    from diffusers import UNet2DConditionModel

    torch.manual_seed(0)
    return UNet2DConditionModel(
        sample_size=sample_size,
        in_channels=in_channels,
        out_channels=6,  # 3 noise + 3 variance values
        layers_per_block=1,
        block_out_channels=(8, 16),
        norm_num_groups=4,
        down_block_types=("ResnetDownsampleBlock2D", "SimpleCrossAttnDownBlock2D"),
        mid_block_type="UNetMidBlock2DSimpleCrossAttn",
        up_block_types=("SimpleCrossAttnUpBlock2D", "ResnetUpsampleBlock2D"),
        cross_attention_dim=32,
        encoder_hid_dim=D_MODEL,
        attention_head_dim=8,
        addition_embed_type="text",
        addition_embed_type_num_heads=2,
        cross_attention_norm="group_norm",
        resnet_time_scale_shift="scale_shift",
        act_fn="gelu",
        **extra,
    )


def _if_scheduler() -> object:
    from diffusers import DDPMScheduler

    return DDPMScheduler(
        num_train_timesteps=1000,
        beta_schedule="squaredcos_cap_v2",
        variance_type="learned_range",
        thresholding=True,
        dynamic_thresholding_ratio=0.95,
        sample_max_value=1.0,
    )


@pytest.fixture(scope="session")
def stage1_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny IF stage I pipeline folder (no text encoder), as ``save_pretrained`` writes it."""
    from diffusers import IFPipeline

    folder = tmp_path_factory.mktemp("IF-I-tiny")
    IFPipeline(
        tokenizer=None,
        text_encoder=None,
        unet=_unet(3, STAGE1_SIZE),
        scheduler=_if_scheduler(),
        safety_checker=None,
        feature_extractor=None,
        watermarker=None,
        requires_safety_checker=False,
    ).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def stage2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny IF stage II pipeline folder: 6 input channels, noise level as a timestep class."""
    from diffusers import DDPMScheduler, IFSuperResolutionPipeline

    folder = tmp_path_factory.mktemp("IF-II-tiny")
    unet = _unet(
        6,  # noisy image + upsampled stage I image
        STAGE2_SIZE,
        class_embed_type="timestep",
        mid_block_scale_factor=1.414,
        time_embedding_act_fn="gelu",
        time_embedding_dim=32,
    )
    IFSuperResolutionPipeline(
        tokenizer=None,
        text_encoder=None,
        unet=unet,
        scheduler=_if_scheduler(),
        image_noising_scheduler=DDPMScheduler(
            num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2"
        ),
        safety_checker=None,
        feature_extractor=None,
        watermarker=None,
        requires_safety_checker=False,
    ).save_pretrained(folder)
    return folder


def _tiny_t5_tokenizer(scratch: Path) -> object:
    """A T5 tokenizer over a unigram vocabulary trained here with sentencepiece (no download)."""
    import io

    import sentencepiece as spm
    import transformers
    from transformers import T5Tokenizer

    from fundiff.backends.prompts import WRITEUP_PROMPTS

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter([p for p in WRITEUP_PROMPTS if p] * 4),
        model_writer=model,
        vocab_size=60,
        hard_vocab_limit=False,
        model_type="unigram",
        pad_id=0,
        eos_id=1,
        unk_id=2,
        bos_id=-1,  # T5's ids: <pad> 0, </s> 1, <unk> 2, no <s>
        minloglevel=2,
    )
    if int(transformers.__version__.split(".")[0]) < 5:  # sentencepiece-backed T5Tokenizer
        (scratch / "spiece.model").write_bytes(model.getvalue())
        return T5Tokenizer(vocab_file=str(scratch / "spiece.model"), extra_ids=0)
    sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
    vocab = [(sp.id_to_piece(i), sp.get_score(i)) for i in range(sp.get_piece_size())]
    return T5Tokenizer(vocab=vocab, extra_ids=0)


@pytest.fixture(scope="session")
def t5_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random T5 encoder in IF's layout: ``text_encoder/`` and ``tokenizer/``."""
    from transformers import T5Config, T5EncoderModel

    folder = tmp_path_factory.mktemp("IF-T5-tiny")
    tokenizer = _tiny_t5_tokenizer(tmp_path_factory.mktemp("spm"))
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=D_MODEL,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_heads=2,
        feed_forward_proj="gated-gelu",  # T5 v1.1, as IF's
        is_encoder_decoder=False,
    )
    torch.manual_seed(0)
    T5EncoderModel(config).save_pretrained(folder / "text_encoder")
    tokenizer.save_pretrained(folder / "tokenizer")
    return folder


@pytest.fixture(scope="session")
def embeds_file(tmp_path_factory: pytest.TempPathFactory, t5_dir: Path) -> Path:
    """The write-up's prompts embedded by the tiny T5, saved as the course's .pth file."""
    from fundiff.backends.prompts import (
        WRITEUP_PROMPTS,
        embed_prompts,
        load_t5,
        save_prompt_embeds,
    )

    tokenizer, encoder = load_t5(t5_dir, device="cpu")
    path = tmp_path_factory.mktemp("embeds") / "prompt_embeds_dict.pth"
    return save_prompt_embeds(embed_prompts(WRITEUP_PROMPTS, tokenizer, encoder), path)
