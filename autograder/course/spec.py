"""The percent-format specs of the course's notebooks, ``solutions/src/NAME.py``, as cells.

Each assignment is written once, as a percent-format script:

- ``# %% [markdown]``: a markdown cell (each line's leading ``#`` and the space after it removed);
- ``# %%``: a code cell, as written;
- ``# %% [graded] ID points=N ref=module.name,module.name``: a graded code cell
  holding fundiff's reference code of each named function or class, copied from
  its source when the notebook is built (so it exists once, in fundiff); more
  names may follow on ``# ref=module.name`` lines;
- ``# %% [tests] ID``: a locked cell of quick checks students can run;
- ``# %% [answer] ID points=N``: a written-response markdown cell; its text is the model answer.

Any cell header may end in ``rule=NAME``: the cell is kept only when NAME is the course's
update rule (``fundiff.diffusion.rules.course_rule()``: ``COURSE_RULE``, or ``FUNDIFF_RULE``),
so the notebook teaches, and the grader grades, the one step the course chose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

ASSIGNMENTS = ("part_a", "part_b")  # each one spec, solutions/src/NAME.py, and one notebook
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


def parse_cells(text: str) -> list[Cell]:
    """Every cell of a percent-format spec, whatever its rule.

    Args:
        text: the spec's source.

    Returns:
        Its cells, in order.

    Raises:
        RuleError: a cell names a rule that is not one of fundiff's.
    """
    from fundiff.diffusion.rules import check_rule

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
    return cells


def parse_spec(text: str, rule: str | None = None) -> list[Cell]:
    """The cells of a percent-format spec that belong to ``rule``.

    Args:
        text: the spec's source.
        rule: an update rule of fundiff; None: the course's (``course_rule()``).

    Returns:
        The cells kept for that rule, in order.

    Raises:
        RuleError: ``rule``, or a cell's rule, is not one of fundiff's.
    """
    from fundiff.diffusion.rules import check_rule, course_rule

    rule = check_rule(rule) if rule is not None else course_rule()
    return [c for c in parse_cells(text) if c.rule in (None, rule)]
