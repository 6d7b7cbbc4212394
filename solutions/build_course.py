"""Build the course notebooks: nbgrader source notebooks in solutions/, student release in course/.

Each assignment is written once, as a percent-format script ``solutions/src/NAME.py``:

- ``# %% [markdown]``: a markdown cell (each line's leading ``# `` removed);
- ``# %%``: a code cell, as written;
- ``# %% [graded] ID points=N ref=module.name,module.name``: a graded code cell
  holding fundiff's reference code of each named function or class, copied from
  its source when the notebook is built (so it exists once, in fundiff). Every
  function body (every method body, for a class) goes between
  ``### BEGIN SOLUTION`` and ``### END SOLUTION``; signatures and docstrings stay;
- ``# %% [tests] ID``: a locked cell of quick checks students can run (a grade cell of 0 points,
  so ``nbgrader validate`` reports it);
- ``# %% [answer] ID points=N``: a written-response markdown cell; its text is the model answer.

Any cell header may end in ``rule=NAME``: the cell is kept only when NAME is the course's
update rule (``fundiff.diffusion.rules.course_rule()``: ``COURSE_RULE``, or ``FUNDIFF_RULE``),
so the notebook teaches, and the grader grades, the one step the course chose.

After each graded cell (and its quick checks) come its graded test cells: one
per autograder check of that cell (``autograder/checks``), worth the check's
points, whose hidden body runs the check (``autograder.notebook.check``), so
``nbgrader autograde`` and ``fundiff-grade`` give the same points.

``python solutions/build_course.py`` writes ``solutions/NAME/NAME.ipynb`` and,
through nbgrader's own ``generate_assignment``, ``course/NAME/NAME.ipynb``.
``--check`` rebuilds into a scratch folder and exits 1 if anything committed differs.
"""

from __future__ import annotations

import argparse
import ast
import filecmp
import importlib
import inspect
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the autograder, whose checks become the graded test cells
SOURCES = ROOT / "solutions" / "src"
ASSIGNMENTS = ("part_a", "part_b")
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
_HEADER = re.compile(r"^# %%(?: \[(\w+)\])?(.*)$")


@dataclass
class Cell:
    """One cell of a spec: its kind, nbgrader id and points, and its text."""

    kind: str  # "markdown", "code", "graded", "tests" or "answer"
    grade_id: str = ""
    rule: str | None = None  # the update rule the cell belongs to; None: every rule
    points: int = 0
    refs: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


def parse_spec(text: str, rule: str | None = None) -> list[Cell]:
    """The cells of a percent-format spec that belong to ``rule`` (None: the course's rule)."""
    from fundiff.diffusion.rules import check_rule, course_rule

    rule = check_rule(rule) if rule is not None else course_rule()
    cells: list[Cell] = []
    for line in text.splitlines():
        m = _HEADER.match(line)
        if m:
            kind, rest = m.group(1) or "code", m.group(2).split()
            cell = Cell(kind)
            if kind in ("graded", "tests", "answer"):
                cell.grade_id, rest = rest[0], rest[1:]
            opts = dict(word.split("=", 1) for word in rest if "=" in word)
            cell.points = int(opts.get("points", 0))
            cell.refs = [r for r in opts.get("ref", "").split(",") if r]
            cell.rule = check_rule(opts["rule"], "the rule of a cell") if "rule" in opts else None
            cells.append(cell)
        elif cells and cells[-1].kind == "graded" and line.startswith("# ref="):
            cells[-1].refs += [r for r in line.removeprefix("# ref=").split(",") if r]
        elif cells:
            cells[-1].lines.append(line)
    return [c for c in cells if c.rule in (None, rule)]


def _strip_comment(lines: list[str]) -> str:
    return "\n".join(
        line[2:] if line.startswith("# ") else line.lstrip("#") for line in lines
    ).strip()


def reference_source(ref: str) -> str:
    """The source of ``module.name`` with each function body between the solution markers."""
    module, _, name = ref.rpartition(".")
    obj = getattr(importlib.import_module(module), name)
    source = textwrap.dedent(inspect.getsource(obj))
    node = ast.parse(source).body[0]
    lines = source.splitlines()
    out: list[str] = []
    _mark(node, lines, out, 0)
    return "\n".join(out)


def _mark(node: ast.stmt, lines: list[str], out: list[str], start: int) -> int:
    """Append ``lines[start:node.end]`` to ``out`` with function bodies marked; returns the next line."""
    if isinstance(node, ast.ClassDef):
        for child in node.body:
            start = _mark(child, lines, out, start)
    elif isinstance(node, ast.FunctionDef):
        body = node.body
        if isinstance(body[0], ast.Expr) and isinstance(
            getattr(body[0], "value", None), ast.Constant
        ):
            body = body[1:]  # the docstring stays visible
        first = body[0].lineno - 1
        out.extend(lines[start:first])
        indent = re.match(r"\s*", lines[first]).group(0)
        out.append(indent + BEGIN)
        out.extend(lines[first : node.end_lineno])
        out.append(indent + END)
        return node.end_lineno
    out.extend(lines[start : node.end_lineno])
    return node.end_lineno


def check_cells(assignment: str, graded_id: str, checks: list[dict]) -> list[nbformat.NotebookNode]:
    """The graded test cells of one graded cell: one per autograder check, its body hidden."""
    import nbformat  # here, not above: the autograder reads specs (parse_spec) where nbformat is absent

    from autograder.notebook import cell_id

    cells = []
    for check in (c for c in checks if c["cell"] == graded_id):
        source = (f"# Graded, {check['points']:g} point{'s' if check['points'] != 1 else ''}: {check['name']}.\n"
                  "# The check runs when your notebook is graded; the cells above let you test your code first.\n"
                  f"### BEGIN HIDDEN TESTS\nfrom autograder.notebook import check\n\n"
                  f"check({assignment!r}, {check['nodeid']!r})\n### END HIDDEN TESTS")  # fmt: skip
        cell = nbformat.v4.new_code_cell(source)
        cell.id = cell_id(check["nodeid"])
        cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "grade_id": cell.id,
                                     "points": check["points"], "schema_version": 3, "task": False}  # fmt: skip
        cells.append(cell)
    return cells


def build_notebook(cells: list[Cell], assignment: str) -> nbformat.NotebookNode:
    """The nbgrader source notebook of a spec's cells."""
    import nbformat

    from autograder.runner import list_checks

    checks = list_checks(assignment)
    nb = nbformat.v4.new_notebook()
    from fundiff.diffusion.rules import course_rule

    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "fundiff": {"rule": course_rule()},
    }
    for i, c in enumerate(cells):
        if c.kind == "markdown":
            cell = nbformat.v4.new_markdown_cell(_strip_comment(c.lines))
        elif c.kind == "answer":
            cell = nbformat.v4.new_markdown_cell(_strip_comment(c.lines))
            cell.metadata["nbgrader"] = _meta(c, grade=True, solution=True)
        elif c.kind == "graded":
            extra = "\n".join(c.lines).strip()
            parts = [reference_source(r) for r in c.refs] + ([extra] if extra else [])
            cell = nbformat.v4.new_code_cell("\n\n\n".join(parts))
            cell.metadata["nbgrader"] = _meta(c, grade=False, solution=True)
        elif c.kind == "tests":
            cell = nbformat.v4.new_code_cell("\n".join(c.lines).strip())
            # graded at 0 points: nbgrader validate reports it failing, the score comes from the checks below
            cell.metadata["nbgrader"] = _meta(c, grade=True, solution=False, locked=True)
        else:
            cell = nbformat.v4.new_code_cell("\n".join(c.lines).strip())
        cell.id = c.grade_id or f"cell-{i:03d}"
        nb.cells.append(cell)
        if c.kind == "graded" and (i + 1 == len(cells) or cells[i + 1].kind != "tests"):
            nb.cells.extend(check_cells(assignment, c.grade_id, checks))
        elif c.kind == "tests" and i and cells[i - 1].kind == "graded":
            nb.cells.extend(check_cells(assignment, cells[i - 1].grade_id, checks))
    orphans = {ch["cell"] for ch in checks} - {c.grade_id for c in cells if c.kind == "graded"}
    if orphans:
        raise ValueError(
            f"autograder checks of {assignment} grade cells the notebook lacks: {sorted(orphans)}"
        )
    nbformat.validate(nb)
    return nb


def _meta(c: Cell, *, grade: bool, solution: bool, locked: bool = False) -> dict[str, object]:
    meta: dict[str, object] = {
        "grade": grade, "solution": solution, "locked": locked, "grade_id": c.grade_id,
        "schema_version": 3, "task": False,
    }  # fmt: skip
    if grade:
        meta["points"] = c.points
    return meta


def build(root: Path) -> None:
    """Write solutions/ and course/ under ``root`` (the repository, or a scratch copy)."""
    import nbformat

    with tempfile.TemporaryDirectory() as scratch:
        course_dir = Path(scratch)
        for name in ASSIGNMENTS:
            nb = build_notebook(parse_spec((SOURCES / f"{name}.py").read_text()), name)
            target = root / "solutions" / name / f"{name}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, target)
            source = course_dir / "source" / name
            source.mkdir(parents=True)
            shutil.copy(target, source / target.name)
        for name in ASSIGNMENTS:
            subprocess.run(
            [sys.executable, "-m", "nbgrader", "generate_assignment", name, "--force",
             f"--CourseDirectory.root={course_dir}", f"--CourseDirectory.db_url=sqlite:///{course_dir}/gradebook.db",
             "--log-level=ERROR"],
            check=True, cwd=course_dir,
            # nbgrader runs alembic from PATH: the one beside this Python
            env={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"},
        )  # fmt: skip
        for name in ASSIGNMENTS:
            release = course_dir / "release" / name / f"{name}.ipynb"
            target = root / "course" / name / f"{name}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(release, target)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="exit 1 if solutions/ or course/ is stale")
    args = p.parse_args()
    if not args.check:
        build(ROOT)
        print(
            "wrote "
            + ", ".join(f"solutions/{n}/{n}.ipynb and course/{n}/{n}.ipynb" for n in ASSIGNMENTS)
        )
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        build(Path(scratch))
        stale = [
            f"{top}/{n}/{n}.ipynb"
            for top in ("solutions", "course")
            for n in ASSIGNMENTS
            if not (ROOT / top / n / f"{n}.ipynb").is_file()
            or not filecmp.cmp(Path(scratch) / top / n / f"{n}.ipynb", ROOT / top / n / f"{n}.ipynb", shallow=False)
        ]  # fmt: skip
    if stale:
        print(
            f"stale: {', '.join(stale)}; run python solutions/build_course.py and commit",
            file=sys.stderr,
        )
        return 1
    print("solutions/ and course/ are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
