"""Does fundiff-grade give full marks to right code and take points exactly where code is wrong? One
fundiff-grade run grades the corpus under the course's update rule (the write-up's), a second the
cases of the DDPM rule on a notebook built with it (hostile code: ``test_hostile.py``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.autograder.corpus import CORRECT, STEP, WRONG, Case

ROOT = Path(__file__).resolve().parents[2]
CASES = {**WRONG, **CORRECT}
pytestmark = pytest.mark.slow


def solution_code(part: str) -> str:
    from autograder.submission import graded_code

    return graded_code(ROOT / "solutions" / part / f"{part}.ipynb")


def solution_code_under(rule: str, part: str, folder: Path) -> str:
    """The graded code of ``part``'s solution notebook as built for a course of ``rule``."""
    from autograder.submission import graded_code

    target = folder / f"{part}_{rule}.ipynb"
    build = ("import nbformat; from autograder.course import build as b, spec; "
             f"nbformat.write(b.build_notebook(spec.parse_spec((b.SOURCES / '{part}.py').read_text()), '{part}'), "
             f"{str(target)!r})")  # fmt: skip
    subprocess.run([sys.executable, "-c", build], check=True, cwd=ROOT, env={**os.environ, "FUNDIFF_RULE": rule},
                   timeout=600)  # fmt: skip
    return graded_code(target)


def _grade(subs: Path, out: Path, rule: str) -> dict[str, dict]:
    """Every submission in ``subs`` graded by one ``fundiff-grade --jobs 2`` run for a course of ``rule``."""
    done = subprocess.run([sys.executable, "-m", "autograder.cli", str(subs), "--out", str(out), "--timeout", "10",
                           "--jobs", "2"], capture_output=True, text=True, cwd=ROOT, timeout=1800,
                          env={**os.environ, "FUNDIFF_RULE": rule})  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return {p.stem: json.loads(p.read_text()) for p in out.glob("*.json")}


def apply(case: Case, base: str) -> str:
    """The case's submission: its edits made to ``base`` (each must apply exactly once)."""
    for old, new in case.edits:
        assert base.count(old) == 1, f"edit does not apply exactly once: {old[:60]!r}"
        base = base.replace(old, new)
    return case.prefix + base + case.suffix


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Every case and both notebooks of each kind, graded under the course's rule (and the DDPM
    rule's cases with the DDPM solution, under that rule)."""
    subs, ddpm_subs = tmp_path_factory.mktemp("subs"), tmp_path_factory.mktemp("subs_ddpm")
    base = {part: solution_code(part) for part in ("part_a", "part_b")}
    ddpm_base = solution_code_under("ddpm", "part_a", tmp_path_factory.mktemp("ddpm_build"))
    (ddpm_subs / "solutions_part_a.py").write_text(ddpm_base)
    sources = {}
    for name, case in CASES.items():
        source = apply(case, ddpm_base if case.rule == "ddpm" else base[case.part])
        (ddpm_subs if case.rule == "ddpm" else subs).joinpath(f"{name}.py").write_text(source)
        sources[name] = source
    for top in ("solutions", "course"):
        for part in ("part_a", "part_b"):
            (subs / f"{top}_{part}.ipynb").write_bytes(
                (ROOT / top / part / f"{part}.ipynb").read_bytes()
            )
    results = _grade(subs, tmp_path_factory.mktemp("results"), "writeup")
    ddpm = _grade(ddpm_subs, tmp_path_factory.mktemp("results_ddpm"), "ddpm")
    results |= {name: r for name, r in ddpm.items() if name != "solutions_part_a"}
    results["ddpm_solutions_part_a"] = ddpm["solutions_part_a"]
    results["sources"] = sources
    return results


def _failed(result: dict) -> set[str]:
    return {t["nodeid"] for t in result["tests"] if t["score"] < t["max_score"]}


@pytest.mark.parametrize("rule", ["writeup", "ddpm"])
def test_the_corpus_is_as_large_and_as_spread_as_promised(rule, monkeypatch) -> None:
    """Under each rule, some wrong submission fails a check of every graded cell and every check of the step."""
    from autograder.runner import list_checks

    monkeypatch.setenv("FUNDIFF_RULE", rule)
    assert len(WRONG) >= 40 and len(CORRECT) >= 20
    for part in ("part_a", "part_b"):
        cases = [c for c in WRONG.values() if c.part == part and (c.rule or "writeup") == rule]
        if not cases:
            continue
        checks = list_checks(part)
        by_cell = {c["nodeid"]: c["cell"] for c in checks}
        hit = {by_cell[n] for case in cases for n in case.fails}
        if rule == "writeup":
            assert hit == {c["cell"] for c in checks}, (
                f"{part}: no wrong submission fails a check of {sorted(set(by_cell.values()) - hit)}"
            )
        step_hit = {n for case in cases for n in case.fails} & STEP[rule]
        assert part == "part_b" or step_hit == STEP[rule]


@pytest.mark.parametrize("key", ["solutions_part_a", "solutions_part_b", "ddpm_solutions_part_a"])
def test_the_solutions_score_full_marks(graded, key) -> None:
    """Each solution at full marks; Part A's under either rule, each graded by that rule's checks."""
    result = graded[key]
    assert result["tests"] and _failed(result) == set()
    assert result["score"] == sum(t["max_score"] for t in result["tests"])
    names = {t["nodeid"] for t in result["tests"]}
    if key.endswith("part_a"):
        ours, other = ("ddpm", "writeup") if key.startswith("ddpm") else ("writeup", "ddpm")
        assert STEP[ours] <= names and not STEP[other] & names


@pytest.mark.parametrize(("name", "rule"), [("a_writeup_course_ddpm_step", "ddpm"),
                                            ("a_ddpm_course_writeup_step", "writeup")])  # fmt: skip
def test_a_step_by_the_other_rule_costs_the_steps_points_with_a_hint_naming_that_rule(
    graded, name, rule
) -> None:
    """The other rule's step loses exactly the step's checks, and each says which rule it wrote."""
    result = graded[name]
    failed = [t for t in result["tests"] if t["score"] < t["max_score"]]
    assert {t["nodeid"] for t in failed} == set(CASES[name].fails)
    lost = sum(t["max_score"] - t["score"] for t in failed)
    assert (
        lost == sum(t["max_score"] for t in result["tests"] if t["nodeid"] in CASES[name].fails) > 0
    )
    assert any(f'("{rule}"' in t["output"] for t in failed), [t["output"] for t in failed]


@pytest.mark.parametrize("part", ["part_a", "part_b"])
def test_the_untouched_release_scores_zero_with_a_message_per_check(graded, part) -> None:
    result = graded[f"course_{part}"]
    assert result["tests"] and result["score"] == 0
    assert all("not implemented yet" in t["output"] for t in result["tests"])


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_submission_loses_points_exactly_where_it_is_wrong(graded, name) -> None:
    """Right code scores full marks; wrong code fails its checks only, each with a message."""
    result = graded[name]
    every = {t["nodeid"] for t in result["tests"]}
    expected = every if CASES[name].fails == {"*"} else set(CASES[name].fails)
    assert expected <= every
    assert _failed(result) == expected
    assert all(t["output"] for t in result["tests"])
