"""Does fundiff-grade give full marks to right code and take points exactly where code is wrong? One
fundiff-grade run grades the whole corpus (hostile code: ``test_hostile.py``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.autograder.corpus import CORRECT, WRONG, Case

ROOT = Path(__file__).resolve().parents[2]
CASES = {**WRONG, **CORRECT}
pytestmark = pytest.mark.slow


def solution_code(part: str) -> str:
    from autograder.submission import graded_code

    return graded_code(ROOT / "solutions" / part / f"{part}.ipynb")


def apply(case: Case, base: str) -> str:
    """The case's submission: its edits made to ``base`` (each must apply exactly once)."""
    for old, new in case.edits:
        assert base.count(old) == 1, f"edit does not apply exactly once: {old[:60]!r}"
        base = base.replace(old, new)
    return case.prefix + base + case.suffix


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Every case and both notebooks of each kind, graded by one ``fundiff-grade --jobs 2`` run."""
    subs = tmp_path_factory.mktemp("subs")
    base = {part: solution_code(part) for part in ("part_a", "part_b")}
    sources = {}
    for name, case in CASES.items():
        source = apply(case, base[case.part])
        (subs / f"{name}.py").write_text(source)
        sources[name] = source
    for top in ("solutions", "course"):
        for part in ("part_a", "part_b"):
            (subs / f"{top}_{part}.ipynb").write_bytes(
                (ROOT / top / part / f"{part}.ipynb").read_bytes()
            )
    out = tmp_path_factory.mktemp("results")
    done = subprocess.run([sys.executable, "-m", "autograder.cli", str(subs), "--out", str(out), "--timeout", "10",
                           "--jobs", "2"], capture_output=True, text=True, cwd=ROOT, timeout=1800)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    results = {p.stem: json.loads(p.read_text()) for p in out.glob("*.json")}
    results["sources"] = sources
    return results


def _failed(result: dict) -> set[str]:
    return {t["nodeid"] for t in result["tests"] if t["score"] < t["max_score"]}


def test_the_corpus_is_as_large_and_as_spread_as_promised() -> None:
    from autograder.runner import list_checks

    assert len(WRONG) >= 40 and len(CORRECT) >= 20
    for part in ("part_a", "part_b"):
        cells = {c["cell"] for c in list_checks(part)}
        by_cell = {c["nodeid"]: c["cell"] for c in list_checks(part)}
        hit = {by_cell[n] for case in WRONG.values() if case.part == part for n in case.fails}
        assert hit == cells, f"{part}: no wrong submission fails a check of {sorted(cells - hit)}"


@pytest.mark.parametrize("part", ["part_a", "part_b"])
def test_the_solutions_score_full_marks(graded, part) -> None:
    result = graded[f"solutions_{part}"]
    assert result["tests"] and _failed(result) == set()
    assert result["score"] == sum(t["max_score"] for t in result["tests"])


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
