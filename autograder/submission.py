"""Reading a submission: the graded code of a released notebook, or a whole .py module."""

from __future__ import annotations

import json
from pathlib import Path


class SubmissionError(ValueError):
    """The submission cannot be read; the message says why and what to hand in."""


def graded_code(path: Path) -> str:
    """The code to grade: every nbgrader solution cell of a notebook, in order, or a .py file as is.

    Only the cells that students fill in are taken from a notebook: its other
    cells (training, figures) are not run by the grader.

    Args:
        path: a notebook (.ipynb) or a Python module (.py).

    Returns:
        The code, a notebook's cells separated by blank lines.

    Raises:
        SubmissionError: a missing or unreadable file, another kind of file, or a notebook
            without graded cells.
    """
    if not path.is_file():
        raise SubmissionError(
            f"{path}: no such file; hand in the .ipynb from course/ or a .py module"
        )
    if path.suffix == ".py":
        return path.read_text(errors="replace")
    if path.suffix != ".ipynb":
        raise SubmissionError(f"{path}: not a notebook (.ipynb) or a Python module (.py)")
    try:
        nb = json.loads(path.read_text(errors="replace"))
        cells = nb["cells"]
    except (ValueError, KeyError, TypeError):
        raise SubmissionError(
            f"{path}: not a readable notebook; re-download it from JupyterLab"
        ) from None
    parts = []
    for cell in cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.get("cell_type") == "code" and meta.get("solution") and not meta.get("grade"):
            source = cell.get("source", "")
            parts.append("".join(source) if isinstance(source, list) else str(source))
    if not parts:
        raise SubmissionError(
            f"{path}: holds no graded cells; hand in the notebook released in course/"
        )
    return "\n\n".join(parts)
