"""Do the Part A tasks run on the shipped MNIST backend, and does that backend do what the write-up shows?

Everything here uses the real shipped weights (``build_backend("mnist")``) on the
CPU; the behavioural checks read the results with the shipped classifier.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fundiff import images, writeup
from fundiff.diffusion import rules
from fundiff.diffusion.cfg import guided
from fundiff.diffusion.denoise import sample
from fundiff.diffusion.edit import inpaint
from fundiff.diffusion.illusions import anagram
from fundiff.diffusion.views import get_view
from fundiff.parta.options import DEFAULTS, TaskError, TaskOptions
from fundiff.parta.sections import ITERATIVE_TASKS, TASKS
from fundiff.parta.tasks import run_task
from fundiff.schedules import strided_timesteps
from tests.conftest import labels
from tests.imagefiles import read_image

PART_A = writeup.PART_A
SHORT = strided_timesteps(990, 330, 0)  # 990, 660, 330, 0: a quick schedule for layout checks

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DEEPFLOYD_ONLY = {"part0"}  # IF's own pipeline; the MNIST backend has none
FIGURES: dict[str, list[str]] = {
    "forward": ["1.1_forward.png"],
    "blur": ["1.2_blur.png"],
    "one-step": ["1.3_one_step.png"],
    "iterative": ["1.4_iterative_steps.png", "1.4_iterative_compare.png"],
    "sample": ["1.5_sample.png"],
    "cfg": ["1.6_cfg.png"],
    "sdedit": ["1.7_sdedit.png"],
    "inpaint": ["1.7.2_inpaint.png"],
    "img2img": ["1.7.3_img2img.png"],
    "anagram": ["1.8_anagram.png"],
    "hybrid": ["1.9_hybrid_frequency.png"],
}
"""The figures each task writes on MNIST with default options, in order."""


pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --------------------------------------------------------------------------- every task


def test_every_mnist_task_has_its_figures_listed() -> None:
    """Is every task but IF's own Part 0 listed here with the figures it writes?"""
    assert set(FIGURES) == set(TASKS) - DEEPFLOYD_ONLY


@pytest.mark.parametrize("task", FIGURES)
def test_task_writes_its_named_pngs(mnist, tmp_path: Path, task: str) -> None:
    """Does each task, with default options, write exactly its listed PNG figures and nothing else?"""
    written = run_task(task, mnist, tmp_path, TaskOptions())
    assert [p.name for p in written] == FIGURES[task]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(FIGURES[task])
    for path in written:
        assert path.parent == tmp_path
        assert path.read_bytes()[:8] == PNG_SIGNATURE
        assert read_image(path).numel() > 0


@pytest.mark.slow
def test_same_seed_gives_the_same_figure_and_another_seed_another(mnist, tmp_path: Path) -> None:
    """Are two runs of ``sample`` with one seed byte-identical PNGs, another seed different, and seed 0 the default?"""

    def figure(name: str, seed: int | None) -> bytes:
        return run_task("sample", mnist, tmp_path / name, TaskOptions(seed=seed))[0].read_bytes()

    first = figure("first", 0)
    assert figure("again", 0) == first
    assert figure("default", None) == first
    assert figure("other", 1) != first


# --------------------------------------------------------------------------- behaviour of the shipped model


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_default_anagram_reads_six_upright_and_nine_upside_down(
    mnist, classifier, seed: int
) -> None:
    """Does the default MNIST anagram (6 upright, 9 under rotate180) read as 6, and as 9 when turned?"""
    prompts, view_names = DEFAULTS["mnist"]["anagram"], DEFAULTS["mnist"]["views"]
    assert (prompts, view_names) == (("6", "9"), ("identity", "rotate180"))
    views = [get_view(v) for v in view_names]
    pred = anagram(mnist, [mnist.encode(p) for p in prompts], views, mnist.encode(""))
    gen = torch.Generator().manual_seed(seed)
    image = sample(pred, (1, *mnist.image_shape), strided_timesteps(), mnist.alphas_cumprod,
                   mnist.variance_type, gen)  # fmt: skip
    seen = torch.cat([v.apply(image) for v in views])
    assert labels(classifier, seen) == [6, 9]


def test_cfg_samples_of_three_are_threes(mnist, classifier) -> None:
    """Are five guided (scale 7) samples of the prompt "3" all classified as 3?"""
    assert DEFAULTS["mnist"]["cfg_prompt"] == "3"
    pred = guided(mnist, mnist.encode("3"), mnist.encode(""), 7.0)
    gen = torch.Generator().manual_seed(0)
    x = sample(pred, (5, *mnist.image_shape), strided_timesteps(), mnist.alphas_cumprod,
               mnist.variance_type, gen)  # fmt: skip
    assert labels(classifier, x) == [3] * 5


@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), digit=st.integers(0, 9))
def test_inpainting_keeps_the_unmasked_pixels(mnist, seed: int, digit: int) -> None:
    """Is every pixel outside a random mask exactly the source digit's after inpainting?"""
    gen = torch.Generator().manual_seed(seed)
    original = images.shipped_digits()[digit : digit + 1]
    mask = (torch.rand(28, 28, generator=gen) < 0.5).float()
    pred = guided(mnist, mnist.encode(str(digit)), mnist.encode(""), 7.0)
    result = inpaint(pred, original, mask, strided_timesteps(), mnist.alphas_cumprod,
                     mnist.variance_type, gen)  # fmt: skip
    keep = mask == 0
    assert torch.equal(result[0, 0][keep], original[0, 0][keep])
    assert not torch.equal(result[0, 0][~keep], original[0, 0][~keep]), "the masked pixels are new"


# --------------------------------------------------------------------------- what a task refuses


@pytest.mark.parametrize(
    ("task", "opts", "words"),
    [
        pytest.param("dance", TaskOptions(), ["dance", "forward"], id="unknown task"),
        pytest.param("hybrid", TaskOptions(prompts=["0", "1", "2"]), ["two prompts", "3"], id="hybrid of 3 prompts"),
        pytest.param("hybrid", TaskOptions(factorization="colour"), ["colour", "one channel"], id="colour on mnist"),
        pytest.param("hybrid", TaskOptions(factorization="fourier"), ["fourier"], id="unknown factorization"),
        pytest.param("anagram", TaskOptions(prompts=["6", "9", "1"]), ["3 prompts", "2 views"], id="3 prompts, default views"),
        pytest.param("anagram", TaskOptions(prompts=["6", "9"], views=["identity"]), ["2 prompts", "1 view"], id="2 prompts, 1 view"),
        pytest.param("part0", TaskOptions(), ["deepfloyd"], id="part0 on mnist"),
    ],
)  # fmt: skip
def test_task_error_says_what_was_wrong(
    mnist, tmp_path: Path, task: str, opts: TaskOptions, words: list[str]
) -> None:
    """Is an impossible request a TaskError naming the offending value, with nothing written?"""
    with pytest.raises(TaskError) as info:
        run_task(task, mnist, tmp_path / "out", opts)
    for word in words:
        assert word in str(info.value)
    assert not list(tmp_path.rglob("*.png"))


# --------------------------------------------------------------------------- the write-up's layouts


def test_iterative_figures_are_the_writeups(mnist, tmp_path: Path, drawn: list[dict]) -> None:
    """Does 1.4 show the loop at the write-up's timesteps, then original, iterative, one-step, blur?"""
    run_task("iterative", mnist, tmp_path, TaskOptions())
    steps, compare = drawn
    assert steps["col_labels"] == [f"t={t}" for t in PART_A.shown_timesteps]
    assert steps["shape"][:2] == (1, len(PART_A.shown_timesteps))
    assert writeup.i_start_label(PART_A.i_start) in steps["title"]
    assert compare["col_labels"] == list(PART_A.compare_columns)


@pytest.mark.parametrize("task", ["sdedit", "img2img"])
def test_edit_rows_start_with_the_original_then_each_i_start(
    mnist, tmp_path: Path, drawn: list[dict], task: str
) -> None:
    """Is an SDEdit row the original, then one column per i_start labelled as the write-up does?"""
    run_task(task, mnist, tmp_path, TaskOptions())
    (figure,) = drawn
    assert figure["col_labels"] == [
        "original",
        *(writeup.i_start_label(i) for i in PART_A.i_starts),
    ]
    assert figure["shape"][:2] == (1, 1 + len(PART_A.i_starts))


def test_anagram_draws_the_writeups_examples_from_seeds_of_the_task(
    mnist, tmp_path: Path, drawn: list[dict]
) -> None:
    """One row per example, each from its own seed drawn from the task's generator (so --seed changes them)?"""
    for seed in (0, 1):
        run_task("anagram", mnist, tmp_path / str(seed), TaskOptions(seed=seed, timesteps=SHORT))
    first, second = drawn
    assert first["shape"][0] == PART_A.anagram_examples == len(set(first["row_labels"]))
    assert first["col_labels"][0].startswith("identity: ")
    assert first["row_labels"] != second["row_labels"]


@pytest.mark.parametrize("rule", rules.RULES)
@pytest.mark.parametrize("task", sorted(ITERATIVE_TASKS))
def test_figures_of_the_loop_name_the_rule_that_drew_them(
    mnist, tmp_path: Path, drawn: list[dict], task: str, rule: str
) -> None:
    """Does every figure of a task drawn by the strided loop name the rule in force in its title?"""
    opts = TaskOptions(timesteps=SHORT, i_start=1, i_starts=(1, 2), num=1)
    with rules.using(rule):
        run_task(task, mnist, tmp_path, opts)
    assert drawn and all(f"rule: {rule}" in figure["title"] for figure in drawn)


def test_figures_not_drawn_by_the_loop_name_no_rule(
    mnist, tmp_path: Path, drawn: list[dict]
) -> None:
    """Do 1.1-1.3, which never run the loop, leave the rule out?"""
    for task in ("forward", "blur", "one-step"):
        run_task(task, mnist, tmp_path, TaskOptions())
    assert len(drawn) == 3 and not any("rule" in figure["title"] for figure in drawn)
