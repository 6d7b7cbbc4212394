"""Does what a student installs hold no reference implementation of a graded function, and does
the whole course still run on it once the notebooks' functions are written?"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from autograder.course.graded import graded_refs
from autograder.course.student import build_wheel

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def student_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The student wheel, built and installed (pip --target) into a folder of its own."""
    scratch = tmp_path_factory.mktemp("student")
    wheel = build_wheel(scratch / "dist", ROOT)
    site = scratch / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                   check=True)  # fmt: skip
    return site


def _bodies(node: ast.AST) -> list[str]:
    """ast.dump of each function body under ``node`` (docstrings dropped)."""
    out = []
    for fn in ast.walk(node):
        if isinstance(fn, ast.FunctionDef):
            body = [
                s
                for s in fn.body
                if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
            ]
            out.append(ast.dump(ast.Module(body=body, type_ignores=[])))
    return out


def _reference(ref: str) -> ast.AST:
    module, _, name = ref.rpartition(".")
    return ast.parse(
        textwrap.dedent(inspect.getsource(getattr(importlib.import_module(module), name)))
    ).body[0]


def test_graded_functions_are_stubs_in_the_student_build(student_site: Path) -> None:
    """Is each graded function (each method, for a class) a lone raise NotImplementedError?"""
    for ref in graded_refs():
        module, _, name = ref.rpartition(".")
        tree = ast.parse((student_site / (module.replace(".", "/") + ".py")).read_text())
        (node,) = [
            n
            for n in tree.body
            if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == name
        ]
        for fn in [n for n in ast.walk(node) if isinstance(n, ast.FunctionDef)]:
            body = [
                s
                for s in fn.body
                if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
            ]
            assert len(body) == 1 and isinstance(body[0], ast.Raise), f"{ref}.{fn.name}"


def test_no_file_of_the_student_build_holds_a_reference_body(student_site: Path) -> None:
    """Does no function anywhere in the installed package repeat a graded function's body?"""
    reference = {body: ref for ref in graded_refs() for body in _bodies(_reference(ref))}
    for path in (student_site / "fundiff").rglob("*.py"):
        for body in _bodies(ast.parse(path.read_text())):
            assert body not in reference, f"{path} repeats the body of {reference[body]}"


@pytest.mark.parametrize("name", ["part_a", "part_b"])
def test_the_solved_course_runs_on_the_student_build(
    name: str, student_site: Path, mnist_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the notebook's functions written (the solutions), does every cell run on the student build?"""
    monkeypatch.setenv("PYTHONPATH", str(student_site))
    monkeypatch.setenv("FUNDIFF_FAST", "1")
    monkeypatch.setenv("FUNDIFF_DATA", str(mnist_dir))
    where = subprocess.run([sys.executable, "-c", "import fundiff; print(fundiff.__file__)"], capture_output=True,
                           text=True, check=True, env=os.environ.copy(), cwd=tmp_path).stdout  # fmt: skip
    assert where.startswith(str(student_site)), where
    nb = nbformat.read(ROOT / "solutions" / name / f"{name}.ipynb", as_version=4)
    for cell in (
        nb.cells
    ):  # hidden tests are the grader's (they need the reference): gone, as in the release
        cell.source = re.sub(
            r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS\n?", "", cell.source, flags=re.S
        )
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()  # fmt: skip
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == []


@pytest.mark.parametrize("where", ["no_root", "file_out"])
def test_bad_input_gets_one_line_and_exit_2(where: str, tmp_path: Path) -> None:
    """Without pyproject.toml and README.md, or with a file for the wheel's folder, does the
    student build say so in one line and exit 2?"""
    (tmp_path / "taken").write_text("")
    args = ["dist"] if where == "no_root" else [str(tmp_path / "taken"), "--root", str(ROOT)]
    done = subprocess.run([sys.executable, "-m", "autograder.course.student", *args],
                          capture_output=True, text=True, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert not (tmp_path / "dist").exists()
