"""Build the course from its specs: nbgrader source notebooks, student release, graded table.

Each assignment is written once, as a percent-format spec ``solutions/src/NAME.py``
(its cells: ``autograder.course.spec``). In a graded cell's notebook code, every
function body (every method body, for a class) of fundiff's reference goes between
``### BEGIN SOLUTION`` and ``### END SOLUTION``; signatures and docstrings stay. A
``tests`` cell is a grade cell of 0 points, so ``nbgrader validate`` reports it.

After each graded cell (and its quick checks) come its graded test cells: one
per autograder check of that cell (``autograder/checks``), worth the check's
points, whose hidden body runs the check (``autograder.notebook.check``), so
``nbgrader autograde`` and ``fundiff-grade`` give the same points.

``python -m autograder.course.build``, from the repository's root (or with ``--root``),
writes ``solutions/NAME/NAME.ipynb``, through nbgrader's own ``generate_assignment``
``course/NAME/NAME.ipynb``, and the graded-reference table the grader ships
(``autograder/course/graded.json``, ``autograder.course.graded``). ``--check`` rebuilds
into a scratch folder and exits 1 if anything committed differs.
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
from pathlib import Path
from typing import TYPE_CHECKING

from autograder.course.graded import TABLE_IN_REPOSITORY, dump_table, make_table
from autograder.course.spec import ASSIGNMENTS, Cell, parse_spec

if TYPE_CHECKING:
    import nbformat

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
SOURCES = Path("solutions", "src")  # the specs, under the repository's root


def _strip_comment(lines: list[str]) -> str:
    return "\n".join(
        line[2:] if line.startswith("# ") else line.lstrip("#") for line in lines
    ).strip()


def reference_source(ref: str) -> str:
    """The source of ``module.name`` with each function body between the solution markers.

    Args:
        ref: a graded name, ``module.name``, of a function or class of fundiff.

    Returns:
        Its source, dedented, each function body between ``### BEGIN SOLUTION`` and
        ``### END SOLUTION``.
    """
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
    """The graded test cells of one graded cell: one per autograder check, its body hidden.

    Args:
        assignment: the assignment's name, e.g. ``"part_b"``.
        graded_id: the nbgrader id of the graded cell.
        checks: the assignment's checks (``autograder.runner.list_checks``), each a dict
            with its "cell", "name", "nodeid" and "points".

    Returns:
        One nbgrader test cell per check of ``graded_id``, in the checks' order.
    """
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
    """The nbgrader source notebook of a spec's cells.

    Args:
        cells: the spec's cells (``autograder.course.spec.parse_spec``).
        assignment: the assignment's name, e.g. ``"part_b"``.

    Returns:
        The notebook, with nbgrader metadata on its graded, test and answer cells.
    """
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


def build(root: Path, out: Path | None = None) -> list[Path]:
    """Build the course from the specs of the repository ``root`` into ``out``.

    Args:
        root: the repository, holding ``solutions/src``.
        out: where ``solutions/``, ``course/`` and the table go; None: ``root``.

    Returns:
        The files written, relative to ``out``.

    Raises:
        subprocess.CalledProcessError: nbgrader's ``generate_assignment`` failed.
    """
    import nbformat

    out = root if out is None else out
    written = []
    with tempfile.TemporaryDirectory() as scratch:
        course_dir = Path(scratch)
        for name in ASSIGNMENTS:
            nb = build_notebook(parse_spec((root / SOURCES / f"{name}.py").read_text()), name)
            target = out / "solutions" / name / f"{name}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, target)
            written.append(target.relative_to(out))
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
            target = out / "course" / name / f"{name}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(release, target)
            written.append(target.relative_to(out))
    table = out / TABLE_IN_REPOSITORY
    table.parent.mkdir(parents=True, exist_ok=True)
    table.write_text(dump_table(make_table(root / SOURCES)))
    written.append(TABLE_IN_REPOSITORY)
    return written


def main(argv: list[str] | None = None) -> int:
    """``python -m autograder.course.build [--check] [--root ROOT]``.

    Args:
        argv: the command-line arguments; None: ``sys.argv[1:]``.

    Returns:
        The exit status: 0 once built (or up to date), 1 where ``--check`` finds a stale
        file, 2 for a root without specs.
    """
    p = argparse.ArgumentParser(prog="python -m autograder.course.build",
                                description=(__doc__ or "").splitlines()[0])  # fmt: skip
    p.add_argument("--check", action="store_true",
                   help="exit 1 if solutions/, course/ or the graded table is stale")  # fmt: skip
    p.add_argument("--root", type=Path, default=Path("."),
                   help="the repository, holding solutions/src (default: the current folder)")  # fmt: skip
    args = p.parse_args(argv)
    root = args.root.resolve()
    if not (root / SOURCES).is_dir():
        print(f"build: error: {root / SOURCES} is not a folder: run from the repository's root "
              "or give --root", file=sys.stderr)  # fmt: skip
        return 2
    if not args.check:
        written = build(root)
        print("wrote " + ", ".join(map(str, written)))
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        fresh = build(root, Path(scratch))
        stale = [
            str(rel)
            for rel in fresh
            if not (root / rel).is_file() or not filecmp.cmp(Path(scratch) / rel, root / rel, shallow=False)
        ]  # fmt: skip
    if stale:
        print(f"stale: {', '.join(stale)}; run python -m autograder.course.build and commit",
              file=sys.stderr)  # fmt: skip
        return 1
    print("solutions/, course/ and the graded table are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
