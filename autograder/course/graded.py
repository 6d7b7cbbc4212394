"""The graded-reference table: what the grader needs of the notebooks' specs, shipped with it.

The grader runs from an installed package, where ``solutions/`` is not: what it needs
of the specs (``solutions/src/NAME.py``) is written, by ``python -m autograder.course.build``,
into ``graded.json`` beside this module, which the wheel carries as package data:

- for each assignment, its graded cells: id, rule and the ``module.name`` of each
  fundiff function or class it holds (the student build stubs their bodies);
- the imports of its own (ungraded) code cells, each with its cell's rule: a
  submission's graded code runs on those it uses (``autograder.site.preamble``).

A table, not copies of the specs: the grader reads no cell text, and a table of names
is checked at a glance in a review. ``build --check`` and ``tests/autograder/course``
fail when it differs from the specs.
"""

from __future__ import annotations

import ast
import functools
import json
from pathlib import Path
from typing import Any

from autograder.course.spec import ASSIGNMENTS, parse_cells

TABLE = Path(__file__).with_name("graded.json")  # the installed table
TABLE_IN_REPOSITORY = Path("autograder", "course", "graded.json")  # where build writes it
_ABOUT = "Written by python -m autograder.course.build from solutions/src/*.py; do not edit."


def make_table(sources: Path) -> dict[str, Any]:
    """The table of the specs in ``sources``, every rule's cells included.

    Args:
        sources: the folder of the specs, ``solutions/src``.

    Returns:
        ``{"about": ..., "assignments": {NAME: {"graded": [...], "imports": [...]}}}``:
        graded cells as ``{"cell", "rule", "refs"}``, imports as ``{"rule", "code"}``.

    Raises:
        OSError: a spec cannot be read.
    """
    assignments: dict[str, Any] = {}
    for name in ASSIGNMENTS:
        graded, imports = [], []
        for cell in parse_cells((sources / f"{name}.py").read_text()):
            if cell.kind == "graded":
                graded.append({"cell": cell.grade_id, "rule": cell.rule, "refs": cell.refs})
            elif cell.kind == "code":
                imports += [{"rule": cell.rule, "code": code} for code in _imports(cell.lines)]
        assignments[name] = {"graded": graded, "imports": imports}
    return {"about": _ABOUT, "assignments": assignments}


def dump_table(table: dict[str, Any]) -> str:
    """The table as written to ``graded.json``.

    Args:
        table: a table from ``make_table``.

    Returns:
        Its JSON text, indented, ending in a newline.
    """
    return json.dumps(table, indent=1) + "\n"


def _imports(lines: list[str]) -> list[str]:
    """The top-level imports of a code cell's lines, as source (``__future__`` left out)."""
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return []
    return [
        ast.unparse(node)
        for node in tree.body
        if isinstance(node, (ast.Import, ast.ImportFrom))
        and getattr(node, "module", None) != "__future__"
    ]


@functools.cache
def load_table() -> dict[str, Any]:
    """The installed table.

    Returns:
        The table as ``make_table`` made it.
    """
    return json.loads(TABLE.read_text())


def _rule(rule: str | None) -> str:
    from fundiff.diffusion.rules import check_rule, course_rule

    return check_rule(rule) if rule is not None else course_rule()


def graded_refs(rule: str | None = None) -> list[str]:
    """Every ``module.name`` that the course notebooks grade under ``rule``, once each, in order.

    Args:
        rule: an update rule of fundiff; None: the course's.

    Returns:
        The names, in the notebooks' order.
    """
    rule, refs = _rule(rule), []
    for assignment in load_table()["assignments"].values():
        for cell in assignment["graded"]:
            if cell["rule"] in (None, rule):
                refs += [r for r in cell["refs"] if r not in refs]
    return refs


def notebook_imports(rule: str | None = None) -> tuple[ast.stmt, ...]:
    """Every import the notebooks' own (ungraded) code cells make under ``rule``, once each, in order.

    Args:
        rule: an update rule of fundiff; None: the course's.

    Returns:
        The import statements.
    """
    return _notebook_imports(_rule(rule))


@functools.cache
def _notebook_imports(rule: str) -> tuple[ast.stmt, ...]:
    found: dict[str, ast.stmt] = {}
    for assignment in load_table()["assignments"].values():
        for entry in assignment["imports"]:
            if entry["rule"] in (None, rule):
                found.setdefault(entry["code"], ast.parse(entry["code"]).body[0])
    return tuple(found.values())
