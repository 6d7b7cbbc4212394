"""Tests for the DeepFloyd IF backend and its prompt embeddings, offline.

Real IF and T5-XXL weights are gated and tens of GB, so these tests load tiny
random components of the same classes and layout (``conftest.py``) through the
loaders users call. Hub ids are tried in subprocesses with an empty ``HF_HOME``
and a hub that refuses or never answers, to show that missing weights end in
``WeightsUnavailable`` within seconds, never in a hang.
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fundiff import writeup
from fundiff.backends import Backend
from fundiff.backends.deepfloyd import (
    IF_STAGE1,
    DeepFloydBackend,
    WeightsUnavailable,
    load_deepfloyd,
)
from fundiff.backends.prompts import (
    MAX_TOKENS,
    WRITEUP_PROMPTS,
    PromptEmbedsError,
    embed_prompts,
    embed_prompts_main,
    load_prompt_embeds,
    load_t5,
    save_prompt_embeds,
)
from tests.backends.conftest import D_MODEL, STAGE1_SIZE, STAGE2_SIZE

DOG = "a photo of a dog"
IF_PAGE = "https://huggingface.co/DeepFloyd/IF-I-XL-v1.0"


@pytest.fixture(scope="module")
def t5(t5_dir: Path) -> tuple[object, torch.nn.Module]:
    return load_t5(t5_dir, device="cpu")


@pytest.fixture(scope="module")
def backend(stage1_dir: Path, stage2_dir: Path, embeds_file: Path) -> DeepFloydBackend:
    b = load_deepfloyd(stage1_dir, stage2_dir, embeds_file, device="cpu")
    b.stage1.set_progress_bar_config(disable=True)
    b.stage2.set_progress_bar_config(disable=True)
    return b


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


# --------------------------------------------------------------------------- fundiff embed-prompts


def run_cli(argv: list[object], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = embed_prompts_main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_cli_writes_the_prompts_it_is_given(t5_dir, tmp_path, capsys) -> None:
    """Does embed-prompts embed --prompt and --prompts-file prompts (plus "") and exit 0?"""
    prompts_file = tmp_path / "prompts.txt"
    prompts_file.write_text("a rocket ship\n\n  a pencil  \n")
    out = tmp_path / "e.pth"
    status, stdout, err = run_cli(
        ["--prompt", DOG, "--prompts-file", prompts_file, "--text-encoder", t5_dir,
         "--device", "cpu", "--out", out],
        capsys,
    )  # fmt: skip
    assert status == 0 and "error" not in err
    assert str(out) in stdout
    assert set(load_prompt_embeds(out)) == {DOG, "a rocket ship", "a pencil", ""}


def test_cli_defaults_to_the_writeup_prompts(t5_dir, tmp_path, capsys) -> None:
    """With no prompts given, does embed-prompts embed exactly the write-up's prompts, in order, and ""?"""
    out = tmp_path / "e.pth"
    status, _, _ = run_cli(["--text-encoder", t5_dir, "--device", "cpu", "--out", out], capsys)
    assert status == 0
    assert list(load_prompt_embeds(out)) == [*writeup.PROMPTS, ""]


def test_cli_adds_to_an_existing_file_unless_told_to_replace(t5_dir, tmp_path, capsys) -> None:
    """Does a second run keep the prompts already in --out, and --replace drop them?"""
    out = tmp_path / "e.pth"
    common = ["--text-encoder", t5_dir, "--device", "cpu", "--out", out]
    assert run_cli(["--prompt", DOG, *common], capsys)[0] == 0
    assert run_cli(["--prompt", "a pencil", *common], capsys)[0] == 0
    assert set(load_prompt_embeds(out)) == {DOG, "a pencil", ""}
    assert run_cli(["--prompt", "a pencil", "--replace", *common], capsys)[0] == 0
    assert set(load_prompt_embeds(out)) == {"a pencil", ""}


def test_cli_help_exits_0(capsys) -> None:
    """Does --help print usage and exit 0?"""
    status, out, _ = run_cli(["--help"], capsys)
    assert status == 0 and "--prompts-file" in out


@pytest.mark.parametrize(
    "case", ["missing prompts file", "out folder missing", "out is a folder", "no such encoder",
             "no --out", "corrupt existing out"],
)  # fmt: skip
def test_cli_bad_input_exits_2_with_one_line(case: str, t5_dir, tmp_path, capsys) -> None:
    """Does each kind of bad input end in status 2 and one stderr line, no traceback?"""
    out = tmp_path / "e.pth"
    argv: list[object] = ["--text-encoder", t5_dir, "--device", "cpu", "--out", out]
    if case == "missing prompts file":
        argv += ["--prompts-file", tmp_path / "missing.txt"]
    elif case == "out folder missing":
        argv[-1] = tmp_path / "no" / "such" / "e.pth"
    elif case == "out is a folder":
        argv[-1] = tmp_path
    elif case == "no such encoder":
        argv[1] = tmp_path / "no-encoder"
    elif case == "no --out":
        argv = argv[:-2]
    else:
        out.write_bytes(b"junk")
    status, _, err = run_cli(argv, capsys)
    assert status == 2
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


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
    """Is an unknown prompt one line naming it, known prompts, and embed-prompts' real flags to add it?"""
    with pytest.raises(ValueError) as info:
        backend.encode(prompt)
    message = str(info.value)
    assert len(message.splitlines()) == 1
    assert repr(prompt).replace("\\n", "") in message.replace("\\n", "")
    assert f"fundiff embed-prompts --out {embeds_file} --prompt " in message
    assert repr(WRITEUP_PROMPTS[0]) in message
    # the command as given parses with embed-prompts' own flags
    command = message.split("`")[1].replace("\\n", "\n")
    words = shlex.split(command)
    assert words[:2] == ["fundiff", "embed-prompts"]
    assert words[words.index("--prompt") + 1] == prompt


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


def test_a_missing_local_folder_is_named(tmp_path, embeds_file) -> None:
    """Is a stage I folder that does not exist a WeightsUnavailable naming it?"""
    with pytest.raises(WeightsUnavailable, match="no-such-stage1"):
        load_deepfloyd(tmp_path / "no-such-stage1", None, embeds_file, device="cpu")


def test_a_folder_that_is_no_pipeline_is_named(tmp_path, embeds_file) -> None:
    """Is an empty folder a WeightsUnavailable naming it and asking for a save_pretrained copy?"""
    empty = tmp_path / "empty-stage1"
    empty.mkdir()
    with pytest.raises(WeightsUnavailable, match=r"empty-stage1.*save_pretrained"):
        load_deepfloyd(empty, None, embeds_file, device="cpu")


# --------------------------------------------------------------------------- hub ids, no network

LOAD_FROM_HUB = """
import json, sys, time, torch
from diffusers import IFPipeline  # imported before the clock starts
import fundiff.backends.deepfloyd as df
df.HUB_TIMEOUT_S = float(sys.argv[1])
start = time.perf_counter()
try:
    df.load_deepfloyd(df.IF_STAGE1, None, prompt_embeds={"": torch.zeros(1, 77, 4096)}, device="cpu")
    result = {"error": None}
except df.WeightsUnavailable as err:
    result = {"error": "WeightsUnavailable", "message": str(err)}
result["seconds"] = time.perf_counter() - start
print(json.dumps(result))
"""


def load_from_hub(hf_home: Path, hub_timeout_s: float = 10.0, **env: str) -> dict:
    """load_deepfloyd(IF_STAGE1) in a fresh interpreter with an empty HF_HOME and no token.

    A fresh interpreter because huggingface_hub reads its settings at import.
    The call is killed after 120 s, so a hang fails the test instead of stalling it.
    """
    hf_home.mkdir(exist_ok=True)
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HF_", "HUGGINGFACE_", "TRANSFORMERS_"))
    }
    environ.update(HF_HOME=str(hf_home), **env)
    done = subprocess.run(
        [sys.executable, "-c", LOAD_FROM_HUB, str(hub_timeout_s)],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"load_deepfloyd({IF_STAGE1!r}) with {env}: {result}")  # shown with pytest -s
    return result


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # a fresh interpreter imports torch and diffusers
def test_hub_id_with_hf_hub_offline_fails_at_once_with_advice(tmp_path) -> None:
    """With HF_HUB_OFFLINE=1 and an empty cache, is it WeightsUnavailable at once, saying how to get IF?"""
    result = load_from_hub(tmp_path / "hf", HF_HUB_OFFLINE="1")
    assert result["error"] == "WeightsUnavailable"
    assert result["seconds"] < 5
    message = result["message"]
    assert "\n" not in message
    for advice in (
        "HF_HUB_OFFLINE",
        IF_PAGE,
        "hf auth login",
        "huggingface-cli login",
        "local folder",
    ):
        assert advice in message


@pytest.mark.slow  # a fresh interpreter imports torch and diffusers
def test_hub_id_with_no_hub_to_reach_fails_fast(tmp_path) -> None:
    """With an empty cache and a hub that refuses connections, is it WeightsUnavailable in seconds?"""
    result = load_from_hub(tmp_path / "hf", HF_ENDPOINT=f"http://127.0.0.1:{closed_port()}")
    assert result["error"] == "WeightsUnavailable"
    assert result["seconds"] < 30
    for advice in ("check the network", IF_PAGE, "hf auth login", "local folder"):
        assert advice in result["message"]


@pytest.mark.slow  # a fresh interpreter imports torch and diffusers
def test_hub_id_with_a_hub_that_never_answers_does_not_hang(tmp_path) -> None:
    """If the hub accepts the connection but never replies, does the probe time out?"""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel completes handshakes; nobody ever reads or answers
        port = silent.getsockname()[1]
        result = load_from_hub(
            tmp_path / "hf", hub_timeout_s=1, HF_ENDPOINT=f"http://127.0.0.1:{port}"
        )
    assert result["error"] == "WeightsUnavailable"
    assert result["seconds"] < 30
    assert "timeout" in result["message"].lower()


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
