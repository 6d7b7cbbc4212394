"""Does ``fundiff part-a`` (``fundiff.cli.part_a``) run every MNIST task, and end every kind of bad input in one line and status 2?

Most cases call ``fundiff.cli.main`` in-process on the shipped MNIST backend; the
two DeepFloyd cases run ``python -m fundiff`` in a subprocess, to prove that a
machine without IF's weights or prompt embeddings gets a quick, one-line answer.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from fundiff.diffusion import rules
from fundiff.parta import tasks
from fundiff.parta.sections import TASKS
from tests.conftest import run_cli
from tests.imagefiles import write_image

EXIT_USAGE = 2


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def run_fundiff(argv: list[str | Path], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m fundiff ARGV`` in ``cwd``, with a fresh, empty Hugging Face cache there."""
    environ = {**os.environ, "HF_HOME": str(cwd / "hf"), "HF_HUB_OFFLINE": "1", **env}
    return subprocess.run(
        [sys.executable, "-m", "fundiff", *map(str, argv)],
        cwd=cwd, env=environ, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def assert_one_line_usage_error(status: int, out: str, err: str) -> None:
    """Status 2, nothing on stdout, exactly one line on stderr, no traceback."""
    assert status == EXIT_USAGE, err
    assert out == ""
    assert len(err.splitlines()) == 1 and err.endswith("\n"), err
    assert "Traceback" not in err


# --------------------------------------------------------------------------- every task


def test_part_a_task_writes_the_files_it_names(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Does ``fundiff part-a TASK`` exit 0 and print one "wrote PATH" line for each file it wrote?

    One task, the README's: the command prints what ``run_task`` returns, whatever the task, and
    ``tests/parta/test_tasks.py`` holds every task's files to its list.
    """
    status, out, err = run_cli(["part-a", "iterative", "--out", tmp_path, "--no-progress"], capsys)
    assert status == 0, err
    lines = out.splitlines()
    assert lines and all(line.startswith("wrote ") for line in lines)
    named = [Path(line.removeprefix("wrote ")) for line in lines]
    assert all(path.is_file() for path in named)
    assert sorted(named) == sorted(tmp_path.iterdir())


def test_part_a_help_lists_every_task(capsys: pytest.CaptureFixture[str]) -> None:
    """Does ``fundiff part-a --help`` exit 0 and name every task?"""
    status, out, _ = run_cli(["part-a", "--help"], capsys)
    assert status == 0
    for task in TASKS:
        assert task in out


# --------------------------------------------------------------------------- bad input


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """Named paths for bad input: a missing image, a text file, a 28x280 mask and a regular file."""
    text = tmp_path / "notes.png"
    text.write_text("a seven, drawn in words\n")
    wide_mask = tmp_path / "wide_mask.png"
    write_image(wide_mask, torch.full((1, 28, 280), 255, dtype=torch.uint8))
    regular = tmp_path / "figures.txt"
    regular.write_text("not a folder\n")
    return {
        "missing": tmp_path / "no_such.png",
        "text": text,
        "wide_mask": wide_mask,
        "file": regular,
    }


BAD_INPUT = [
    pytest.param(["forward", "--image", "{missing}"], "{missing}", id="missing image"),
    pytest.param(["forward", "--image", "{text}"], "{text}", id="image is text"),
    pytest.param(["inpaint", "--mask", "{wide_mask}"], "280", id="mask 28x280"),
    pytest.param(["inpaint", "--mask", "{text}"], "{text}", id="mask is text"),
    pytest.param(["iterative", "--i-start", "40"], "40", id="i-start 40"),
    pytest.param(["iterative", "--i-start", "-1"], "-1", id="i-start -1"),
    pytest.param(["sdedit", "--i-starts", "1", "3", "33"], "33", id="one bad i-starts"),
    pytest.param(["sample", "--prompt", "a dog"], "a dog", id="prompt a dog"),
    pytest.param(["sample", "--prompt", "12"], "12", id="prompt 12"),
    pytest.param(["anagram", "--prompts", "1", "6", "9", "--views", "identity", "rotate180"], "3 prompts", id="3 prompts 2 views"),
    pytest.param(["cfg", "--guidance", "nan"], "nan", id="guidance nan"),
    pytest.param(["dance"], "dance", id="unknown task"),
    pytest.param(["part0"], "deepfloyd", id="part0 on mnist"),
    pytest.param(["forward", "--out", "{file}/figures"], "{file}", id="out under a file"),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "named"), BAD_INPUT)
def test_bad_input_is_one_line_and_status_2(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    files: dict[str, Path],
    argv: list[str],
    named: str,
) -> None:
    """Is each kind of bad input one stderr line naming the offending value, status 2, and no figure?"""
    argv = [a.format(**files) for a in argv]
    figures = tmp_path / "out"
    if "--out" not in argv:
        argv += ["--out", str(figures)]
    status, out, err = run_cli(["part-a", *argv, "--no-progress"], capsys)
    assert_one_line_usage_error(status, out, err)
    assert named.format(**files) in err
    assert not figures.exists() or not any(figures.iterdir())


@pytest.mark.slow
def test_deepfloyd_without_prompt_embeddings_says_how_to_make_them(tmp_path: Path) -> None:
    """Does --backend deepfloyd without an embeddings file end at once, in one line naming embed-prompts?"""
    done = run_fundiff(["part-a", "sample", "--backend", "deepfloyd", "--no-progress"], tmp_path)
    assert_one_line_usage_error(done.returncode, done.stdout, done.stderr)
    assert "fundiff embed-prompts" in done.stderr


@pytest.mark.slow
def test_deepfloyd_without_weights_says_how_to_get_them(tmp_path: Path) -> None:
    """With embeddings but no IF weights (empty cache, offline), is it one line on the licence and login?"""
    embeds = tmp_path / "embeds.pth"
    torch.save({p: torch.zeros(1, 77, 8) for p in ("", "a high quality photo")}, embeds)
    argv = [
        "part-a",
        "sample",
        "--backend",
        "deepfloyd",
        "--prompt-embeds",
        embeds,
        "--no-progress",
    ]
    done = run_fundiff(argv, tmp_path)
    assert_one_line_usage_error(done.returncode, done.stdout, done.stderr)
    assert "licence" in done.stderr and "hf auth login" in done.stderr


# --------------------------------------------------------------------------- the update rule


@pytest.fixture
def loop_rules(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The rule in force at each call of the Part A tasks' iterative loop (which still runs)."""
    real, seen = tasks.iterative_denoise, []

    def spy(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        seen.append(rules.current_rule())
        return real(*args, **kwargs)

    monkeypatch.setattr(tasks, "iterative_denoise", spy)
    return seen


@pytest.mark.parametrize(
    ("argv", "environment", "expected"),
    [
        pytest.param(["--rule", "ddpm"], None, "ddpm", id="--rule ddpm"),
        pytest.param(["--rule", "writeup"], "ddpm", "writeup", id="--rule over FUNDIFF_RULE"),
        pytest.param([], "ddpm", "ddpm", id="FUNDIFF_RULE"),
        pytest.param([], None, rules.COURSE_RULE, id="the course's"),
    ],
)
def test_rule_reaches_the_loop(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    loop_rules: list[str],
    argv: list[str],
    environment: str | None,
    expected: str,
) -> None:
    """Does the loop step by --rule, else FUNDIFF_RULE, else the course's rule?"""
    if environment is None:
        monkeypatch.delenv(rules.ENVIRONMENT, raising=False)
    else:
        monkeypatch.setenv(rules.ENVIRONMENT, environment)
    status, _, err = run_cli(
        ["part-a", "iterative", *argv, "--out", tmp_path, "--no-progress"], capsys
    )
    assert status == 0, err
    assert loop_rules == [expected]
    assert rules.current_rule() == (environment or rules.COURSE_RULE), (
        "the rule is scoped to the run"
    )


@pytest.mark.parametrize("command", [["part-a", "sample"], ["demo"]])
def test_a_bad_fundiff_rule_is_one_line_and_status_2(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    command: list[str],
) -> None:
    """Is a FUNDIFF_RULE that names no rule one line naming it and the rules, status 2, nothing written?"""
    monkeypatch.setenv(rules.ENVIRONMENT, "ddim")
    status, out, err = run_cli([*command, "--out", tmp_path / "out", "--no-progress"], capsys)
    assert_one_line_usage_error(status, out, err)
    assert rules.ENVIRONMENT in err and "'ddim'" in err and all(r in err for r in rules.RULES)
    assert not (tmp_path / "out").exists()


def test_an_unknown_rule_option_is_one_line_and_status_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Is --rule ddim refused by the parser in one line, listing the rules?"""
    status, out, err = run_cli(["part-a", "sample", "--rule", "ddim"], capsys)
    assert status == EXIT_USAGE and out == "" and len(err.splitlines()) == 1
    assert "ddim" in err and all(r in err for r in rules.RULES)


# --------------------------------------------------------------------------- the library's refusals, in flags


def test_a_backend_without_an_image_asks_for_the_image_flag(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Does a backend with no default image (an RGB stand-in) end in one line asking for --image?"""
    from fundiff.parta import backend

    stand_in = SimpleNamespace(
        name="deepfloyd", image_shape=(3, 64, 64), device=torch.device("cpu")
    )
    monkeypatch.setattr(backend, "build_backend", lambda *_, **__: stand_in)
    status, out, err = run_cli(["part-a", "forward", "--out", tmp_path, "--no-progress"], capsys)
    assert_one_line_usage_error(status, out, err)
    assert "deepfloyd backend has no default image" in err and "--image PATH" in err
