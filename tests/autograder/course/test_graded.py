"""Is the graded-reference table the grader ships the one the notebooks' specs give, and does
it name what the grader uses?"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from autograder.course import graded
from autograder.course.spec import ASSIGNMENTS, parse_spec
from fundiff.diffusion.rules import RULES

ROOT = Path(__file__).resolve().parents[3]
SOURCES = ROOT / "solutions" / "src"


def test_the_shipped_table_is_the_specs_table() -> None:
    """Does ``graded.json`` hold what the specs say (else: python -m autograder.course.build)?"""
    assert graded.TABLE.read_text() == graded.dump_table(graded.make_table(SOURCES)), (
        "autograder/course/graded.json is stale: run python -m autograder.course.build and commit"
    )
    assert graded.TABLE == ROOT / graded.TABLE_IN_REPOSITORY


@pytest.mark.parametrize("rule", RULES)
def test_graded_names_are_the_specs_refs_under_each_rule(rule: str) -> None:
    """For each rule, are the graded names those of the spec's graded cells, once each, in order?"""
    want: list[str] = []
    for name in ASSIGNMENTS:
        for cell in parse_spec((SOURCES / f"{name}.py").read_text(), rule):
            want += [r for r in cell.refs if r not in want]
    assert graded.graded_refs(rule) == want
    for ref in want:
        module, _, attr = ref.rpartition(".")
        assert hasattr(importlib.import_module(module), attr), ref


@pytest.mark.parametrize("rule", RULES)
def test_notebook_imports_are_the_code_cells_imports(rule: str) -> None:
    """Is every import the table gives one that a code cell of the spec makes under that rule?"""
    cells = [c for n in ASSIGNMENTS for c in parse_spec((SOURCES / f"{n}.py").read_text(), rule)]
    made = {
        ast.unparse(node)
        for c in cells
        if c.kind == "code"
        for node in ast.parse("\n".join(c.lines)).body
        if isinstance(node, (ast.Import, ast.ImportFrom))
    }
    found = [ast.unparse(node) for node in graded.notebook_imports(rule)]
    assert found and len(found) == len(set(found)) and set(found) <= made
    assert "from __future__ import annotations" not in found


def test_the_table_needs_no_checkout(tmp_path: Path) -> None:
    """Is the table read from the package's own folder, never from solutions/?"""
    assert graded.TABLE.parent == Path(graded.__file__).parent
    assert "solutions" not in graded.TABLE.relative_to(ROOT).parts
