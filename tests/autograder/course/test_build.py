"""Are the course notebooks built from fundiff's reference code by nbgrader, up to date, and do
the solutions run clean while the student release fails only in its stubs?"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from autograder.course.build import BEGIN, END
from autograder.course.spec import ASSIGNMENTS, parse_spec
from tests.conftest import nbgrader

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.slow


@pytest.fixture
def notebook_env(mnist_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scratch working folder; the kernel sees FAST mode and the MNIST folder."""
    monkeypatch.setenv("FUNDIFF_FAST", "1")
    monkeypatch.setenv("FUNDIFF_DATA", str(mnist_dir))
    monkeypatch.setenv("FUNDIFF_BACKEND", "mnist")
    return tmp_path


def _execute(path: Path, cwd: Path, *, allow_errors: bool) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=allow_errors,
                   resources={"metadata": {"path": str(cwd)}}).execute()  # fmt: skip
    return nb


def _errors(nb: nbformat.NotebookNode) -> list[tuple[int, str]]:
    return [(i, o["ename"]) for i, c in enumerate(nb.cells) for o in c.get("outputs", []) if o.get("output_type") == "error"]  # fmt: skip


def _graded_refs(name: str) -> list[str]:
    return [
        r
        for c in parse_spec((ROOT / "solutions" / "src" / f"{name}.py").read_text())
        for r in c.refs
    ]


def test_committed_notebooks_match_a_rebuild() -> None:
    """Does rebuilding solutions/ and course/ (nbgrader generate_assignment) change nothing?"""
    done = subprocess.run([sys.executable, "-m", "autograder.course.build", "--check"],
                          capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_solutions_run_without_error_in_fast_mode(
    name: str, solved_notebook: Callable[[str], Path]
) -> None:
    """Does every cell of the instructor's notebook run, tests included?"""
    assert _errors(nbformat.read(solved_notebook(name), as_version=4)) == []


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_release_fails_only_where_a_stub_is_called(name: str, notebook_env: Path) -> None:
    """In the student notebook as released, is every failing cell a NotImplementedError?"""
    nb = _execute(ROOT / "course" / name / f"{name}.ipynb", notebook_env, allow_errors=True)
    errors = _errors(nb)
    assert errors, "the release should fail where its stubs are called"
    assert {e for _, e in errors} == {"NotImplementedError"}, errors


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_release_holds_no_reference_code(name: str) -> None:
    """Is every graded function of the release a stub, with no solution left in any cell?"""
    release = nbformat.read(ROOT / "course" / name / f"{name}.ipynb", as_version=4)
    graded = {r.rpartition(".")[2] for r in _graded_refs(name)}
    seen: set[str] = set()
    for cell in release.cells:
        assert BEGIN not in cell.source and END not in cell.source
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in graded:
                seen.add(node.name)
            if isinstance(node, ast.FunctionDef) and _is_solution_cell(cell):
                body = [
                    s
                    for s in node.body
                    if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
                ]
                assert len(body) == 1 and isinstance(body[0], ast.Raise), (
                    f"{node.name} keeps code in the release"
                )
    assert seen == graded


def _is_solution_cell(cell: nbformat.NotebookNode) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return bool(meta.get("solution")) and not meta.get("grade")


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_solution_cells_are_fundiff_reference_code(name: str) -> None:
    """With the solution markers removed, is each graded cell's code fundiff's own source (same AST)?"""
    import importlib
    import inspect
    import textwrap

    source = nbformat.read(ROOT / "solutions" / name / f"{name}.ipynb", as_version=4)
    cells = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
             if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"}  # fmt: skip
    defs = {}
    for text in cells.values():
        plain = "\n".join(line for line in text.splitlines() if line.strip() not in (BEGIN, END))
        defs.update(
            {
                n.name: ast.dump(n)
                for n in ast.parse(plain).body
                if isinstance(n, (ast.FunctionDef, ast.ClassDef))
            }
        )
    for ref in _graded_refs(name):
        module, _, attr = ref.rpartition(".")
        reference = ast.parse(
            textwrap.dedent(inspect.getsource(getattr(importlib.import_module(module), attr)))
        ).body[0]
        assert defs[attr] == ast.dump(reference), ref


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_nbgrader_validate_passes_the_solutions_and_fails_the_release(
    name: str, notebook_env: Path, validated: Callable[[str], tuple[Path, str]]
) -> None:
    """Does nbgrader's own validate accept the solutions, and report the release's stubs as failing?"""
    solutions = validated(name)[1]  # the run whose executed notebook the other claims read
    assert "Success! Your notebook passes all the tests." in solutions, solutions[-2000:]
    (
        notebook_env / "course"
    ).mkdir()  # validate runs a notebook where it lies: a copy, not the repo's
    copy = Path(shutil.copy(ROOT / "course" / name / f"{name}.ipynb", notebook_env / "course"))
    done = nbgrader(["validate", str(copy)], notebook_env / "course")
    release = done.stdout + done.stderr
    assert "VALIDATION FAILED" in release and "NotImplementedError" in release, release[-2000:]
    for top in ("solutions", "course"):  # and nothing was written beside the repo's notebooks
        assert [p.name for p in (ROOT / top / name).iterdir()] == [f"{name}.ipynb"]


def test_a_root_without_specs_gets_one_line_and_exit_2(tmp_path: Path) -> None:
    """Run where there is no solutions/src, does the build say so in one line and exit 2?"""
    done = subprocess.run([sys.executable, "-m", "autograder.course.build", "--check"],
                          capture_output=True, text=True, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and "solutions/src" in done.stderr, done.stderr
