"""Fidelity to the write-up: its values live in one table (``fundiff.writeup``), the table is the
write-up's text, and the library, the command line and the notebooks take their defaults from it.

The demo's captions are held to the table in ``tests/demo/test_build.py`` and ``tests/demo/test_catalogue.py``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

import fundiff.course
import fundiff.writeup
from fundiff import writeup
from fundiff.writeup import PART_A, PART_B, PROMPTS

ROOT = Path(__file__).resolve().parent.parent
TEXT = ROOT.parent / "shared" / "writeup" / "fun_with_diffusion_models.txt"


@pytest.fixture(scope="module")
def text() -> str:
    """The write-up's text (shared/writeup beside the repository)."""
    if not TEXT.is_file():
        pytest.skip(f"the write-up's text is not at {TEXT}")
    return TEXT.read_text(encoding="utf-8")


def _bullets(text: str) -> list[str]:
    return [
        line.strip().removeprefix("•").strip()
        for line in text.splitlines()
        if line.strip().startswith("•")
    ]


def test_the_prompts_are_the_writeups_verbatim_and_in_order(text: str) -> None:
    """Are the table's 17 prompts the write-up's Part 0 list, character for character, in its order?"""
    assert list(PROMPTS) == _bullets(text)
    assert len(PROMPTS) == 17 and "The last three prompts are my own." in text
    for prompt in (*PART_A.part0_prompts, PART_A.sample_prompt, PART_A.img2img_prompt, *PART_A.anagram_prompts,
                   *(p for pair in PART_A.hybrid_prompts for p in pair)):  # fmt: skip
        assert prompt in PROMPTS, f"{prompt!r} is not one of the write-up's embedded prompts"


def test_part_a_values_are_the_writeups(text: str) -> None:
    """Seed, step counts, timesteps, i_start labels, guidance and the hybrid filter, as the write-up states them."""
    assert f"random seed ({PART_A.seed})" in text
    assert "from 20, 50, and 100 steps" in text and PART_A.part0_steps == (20, 50, 100)
    assert (
        f"{PART_A.stage1_size}x{PART_A.stage1_size} to {PART_A.stage2_size}x{PART_A.stage2_size}"
        in text
    )
    for k, prompt in enumerate(PART_A.part0_prompts, 1):
        assert f"Prompt {k}: {prompt}" in text
    assert f"noise level [{', '.join(map(str, PART_A.noise_levels))}]" in text
    assert "timesteps $" + ", ".join(map(str, PART_A.shown_timesteps)) + "$" in text
    assert "Original, iterative, one-step, original with Gaussian blur" in text
    assert writeup.strided()[0] == PART_A.first_timestep and writeup.strided()[-1] == 0
    sdedit_row = "Original, " + ", ".join(
        f"$i_{{start}}={i} (t={writeup.strided()[i]})$" for i in PART_A.i_starts
    )
    assert (
        text.count(sdedit_row)
        == PART_A.sdedit_examples + PART_A.drawn_examples + PART_A.img2img_examples
    )
    assert text.count("Original, mask, inpainted") == PART_A.inpaint_examples
    assert f"\\gamma = {PART_A.cfg_scale:g}$" in text and f"'{PART_A.sample_prompt}'" in text
    assert f"kernel {PART_A.hybrid_kernel}, $\\sigma={PART_A.hybrid_sigma:g}$" in text
    low_high = [f'Prompts: "{low}" and "{high}"' for low, high in PART_A.hybrid_prompts]
    assert all(line in text for line in low_high)
    assert text.count("Prompts: 'An Oil Painting of an Old Man'") == PART_A.anagram_examples
    assert PART_A.img2img_prompt.lower() in text.lower()


def test_part_b_values_are_the_writeups(text: str) -> None:
    """Noise levels, widths, learning rates, epochs and samples per digit, as the write-up states them."""
    assert (
        "\\sigma \\in \\{" + ",\\; ".join(f"{s:g}" if s else "0.0" for s in PART_B.noising_sigmas)
        in text.replace("1.0\\}", "1\\}")
        or "\\{0.0,\\; 0.2,\\; 0.4,\\; 0.5,\\; 0.6,\\; 0.8,\\; 1.0\\}" in text
    )
    for s in PART_B.ood_sigmas:
        assert f"\\sigma = {s}" in text
    assert f"$D={PART_B.denoiser_hidden}$" in text and "learning rate of $10^{-4}$" in text
    assert PART_B.denoiser_lr == 1e-4 and PART_B.flow_lr == 1e-2 and "lr $=10^{-2}$" in text
    assert "after the first and fifth epochs" in text and PART_B.denoiser_figure_epochs == (1, 5)
    assert "after 1, 5, and 10 epochs" in text and PART_B.flow_figure_epochs == (1, 5, 10)
    assert "four samples per digit" in text and PART_B.samples_per_digit == 4
    assert "10% of the time" in text and PART_B.p_uncond == 0.1


def test_the_library_defaults_are_the_tables() -> None:
    """The loops' defaults: strided timesteps, SDEdit's i_starts, the guidance scale, the hybrid filter."""
    from fundiff.backends.prompts import WRITEUP_PROMPTS
    from fundiff.diffusion.cfg import DEFAULT_GUIDANCE
    from fundiff.diffusion.edit import SDEDIT_I_STARTS
    from fundiff.diffusion.illusions import hybrid_filter
    from fundiff.schedules import strided_timesteps

    assert strided_timesteps() == writeup.strided()
    assert PART_A.i_starts == SDEDIT_I_STARTS and PART_A.cfg_scale == DEFAULT_GUIDANCE
    assert hybrid_filter(PART_A.stage1_size) == (PART_A.hybrid_kernel, PART_A.hybrid_sigma)
    assert list(WRITEUP_PROMPTS) == [*PROMPTS, ""]


def test_the_command_lines_defaults_are_the_tables() -> None:
    """`fundiff part-a` and `fundiff train` start from the table's values."""
    from fundiff.cli import build_parser
    from fundiff.training.config import recipe

    args = build_parser().parse_args(["part-a", "iterative"])
    assert (
        args.i_start == PART_A.i_start
        and args.guidance == PART_A.cfg_scale
        and args.num == PART_A.num_samples
    )
    from fundiff.parta.options import TaskOptions

    i_starts = TaskOptions().i_starts if args.i_starts is None else args.i_starts
    assert tuple(i_starts) == PART_A.i_starts and TaskOptions().timesteps == writeup.strided()
    assert (
        recipe("denoiser").hidden == PART_B.denoiser_hidden
        and recipe("denoiser").lr == PART_B.denoiser_lr
    )
    for kind in ("denoiser", "pure-noise"):
        assert recipe(kind).epochs == PART_B.denoiser_epochs
        assert recipe(kind).sample_epochs == PART_B.denoiser_figure_epochs
    for kind in ("flow-time", "flow-class"):
        cfg = recipe(kind)
        assert (cfg.epochs, cfg.lr, cfg.sample_epochs) == (
            PART_B.flow_epochs,
            PART_B.flow_lr,
            PART_B.flow_figure_epochs,
        )
    assert (
        recipe("flow-class").guidance == PART_B.guidance
        and recipe("flow-class").p_uncond == PART_B.p_uncond
    )


def _literal_tuples(values: object) -> list[tuple]:
    """Every tuple of two or more numbers in the table (the values a cell could copy by hand)."""
    found = []
    for part in (PART_A, PART_B):
        for value in vars(part).values():
            if (
                isinstance(value, tuple)
                and len(value) >= 2
                and all(isinstance(v, (int, float)) for v in value)
            ):
                found.append(value)
    return found


@pytest.mark.parametrize("name", ["part_a", "part_b"])
def test_the_notebooks_take_the_writeups_values_from_the_table(name: str) -> None:
    """No code cell of a notebook writes out a prompt, a list of timesteps, i_starts, sigmas or epochs
    of the write-up by hand: each comes from ``fundiff.writeup``'s table (through ``fundiff.course``) or a
    fundiff default built on it."""
    nb = nbformat.read(ROOT / "solutions" / name / f"{name}.ipynb", as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    table = name.upper()  # PART_A or PART_B, fundiff.writeup's, through the notebooks' façade
    imported = [
        a.name
        for c in code
        if "### BEGIN HIDDEN TESTS" not in c
        for n in ast.walk(ast.parse(c))
        if isinstance(n, ast.ImportFrom) and n.module == "fundiff.course"
        for a in n.names
    ]
    assert table in imported, f"{name} does not import the write-up's table {table}"
    assert getattr(fundiff.course, table) is getattr(fundiff.writeup, table)
    for source in code:
        if "### BEGIN HIDDEN TESTS" in source:
            continue
        strings = [
            n.value
            for n in ast.walk(ast.parse(source))
            if isinstance(n, ast.Constant) and isinstance(n.value, str)
        ]
        for prompt in PROMPTS:
            assert not any(prompt in s for s in strings), (
                f"{name}: a cell writes out the prompt {prompt!r}"
            )
        numbers = re.sub(r"\s+", "", source)
        for value in _literal_tuples(None):
            written = ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
            assert f"({written})" not in numbers and f"[{written}]" not in numbers, (
                f"{name}: a cell writes out {value} by hand; take it from fundiff.writeup"
            )


def test_the_part_a_notebook_draws_the_writeups_figures() -> None:
    """Part 0, the 1.4 figure at the table's timesteps, the comparison row, and i_start labels."""
    nb = nbformat.read(ROOT / "solutions" / "part_a" / "part_a.ipynb", as_version=4)
    text = "\n".join(c.source for c in nb.cells)
    assert "## Part 0" in text and 'run_task("part0"' in text
    assert "PART_A.shown_timesteps" in text and "PART_A.compare_columns" in text
    assert "i_start_label(i)" in text and '["original", *(i_start_label' in text
    assert nb.metadata["fundiff"]["rule"] in ("writeup", "ddpm")


@pytest.mark.slow
def test_the_demos_part_a_captions_name_the_writeups_values_and_the_rule(demo: Path) -> None:
    """The demo's 1.4 caption names the table's timesteps, 1.7's every i_start label, and each figure
    drawn by the strided loop the update rule that drew it."""
    from fundiff.diffusion.rules import course_rule, describe
    from tests.demo.test_build import _Page

    page = _Page()
    page.feed((demo / "index.html").read_text(encoding="utf-8"))
    captions = dict(zip(page.images, page.captions, strict=True))
    by_name = {
        Path(src).name: caption for src, caption in captions.items() if src.startswith("part_a/")
    }
    assert (
        "t = " + ", ".join(map(str, PART_A.shown_timesteps)) in by_name["1.4_iterative_steps.png"]
    )
    for i in PART_A.i_starts:
        assert writeup.i_start_label(i) in by_name["1.7_sdedit.png"]
    assert by_name["1.7_sdedit.png"].index("original") < by_name["1.7_sdedit.png"].index("i_start=")
    drawn_by_the_loop = [n for n in by_name if n.split("_")[0] >= "1.4"]
    assert drawn_by_the_loop and all(
        f"Update rule: {describe(course_rule())}" in by_name[n] for n in drawn_by_the_loop
    )
