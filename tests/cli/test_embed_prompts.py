"""Tests for ``fundiff embed-prompts`` (``fundiff.cli.embed_prompts``), with a tiny random T5."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from fundiff import writeup
from fundiff.backends.prompts import WRITEUP_PROMPTS, MissingPromptEmbedding, load_prompt_embeds
from fundiff.cli.embed_prompts import build_parser, main, missing_prompt_line
from tests.conftest import run_cli as run_fundiff

DOG = "a photo of a dog"


def run_cli(argv: list[object], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
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


def test_embed_prompts_help_is_answered_before_argparse(capsys: pytest.CaptureFixture[str]) -> None:
    """Does ``fundiff embed-prompts --help`` exit 0 with its own usage (dispatched before fundiff's parser)?"""
    status, out, _ = run_fundiff(["embed-prompts", "--help"], capsys)
    assert status == 0
    assert "embed-prompts" in out and "--out" in out


# --------------------------------------------------------------------------- a prompt without an embedding


@pytest.mark.parametrize("prompt", ["a photo of a horse", "a horse's\nsaddle"])
def test_a_missing_prompt_is_one_line_with_the_command_that_adds_it(
    tmp_path: Path, prompt: str
) -> None:
    """Is a prompt without an embedding one line naming it and known prompts, with embed-prompts'
    real flags to add it (the command as given parses with embed-prompts' own parser)?"""
    embeds_file = tmp_path / "prompt embeds.pth"
    message = missing_prompt_line(MissingPromptEmbedding(prompt, WRITEUP_PROMPTS, embeds_file))
    assert len(message.splitlines()) == 1
    assert repr(prompt).replace("\\n", "") in message.replace("\\n", "")
    assert f"fundiff embed-prompts --out {shlex.quote(str(embeds_file))} --prompt " in message
    assert repr(WRITEUP_PROMPTS[0]) in message
    command = message.split("`")[1].replace("\\n", "\n")
    words = shlex.split(command)
    assert words[:2] == ["fundiff", "embed-prompts"]
    assert words[words.index("--prompt") + 1] == prompt
    args = build_parser().parse_args(words[2:])
    assert args.prompt == [prompt] and args.out == embeds_file
