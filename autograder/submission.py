"""Reading a submission: the graded code of a released notebook, or a whole .py module."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

MAX_BYTES = 50 * 2**20  # a notebook with its outputs stays well below this


class SubmissionError(ValueError):
    """The submission cannot be read; the message says why and what to hand in."""


def read_once(path: Path) -> str:
    """The text of ``path``, read once; a link, or anything but a regular file, is refused.

    Args:
        path: the submission.

    Returns:
        Its text (undecodable bytes replaced).

    Raises:
        SubmissionError: no such file, a link, not a regular file, or too large.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise SubmissionError(
            f"{path.name}: no such file; hand in the .ipynb from course/ or a .py module"
        ) from None
    except OSError:
        raise SubmissionError(
            f"{path.name}: a link or an unreadable file; hand in the file itself"
        ) from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise SubmissionError(
                f"{path.name}: not a regular file; hand in the notebook or module itself"
            )
        data = f.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise SubmissionError(
            f"{path.name}: larger than {MAX_BYTES >> 20} MB; clear the notebook's outputs"
        )
    return data.decode(errors="replace")


def graded_code(path: Path) -> str:
    """The code to grade: every nbgrader solution cell of a notebook, in order, or a .py file as is.

    Only the cells that students fill in are taken from a notebook: its other
    cells (training, figures) are not run by the grader.

    Args:
        path: a notebook (.ipynb) or a Python module (.py).

    Returns:
        The code, a notebook's cells separated by blank lines.

    Raises:
        SubmissionError: a missing or unreadable file, a link, another kind of file, or a
            notebook without graded cells.
    """
    if path.suffix not in (".py", ".ipynb"):
        raise SubmissionError(f"{path.name}: not a notebook (.ipynb) or a Python module (.py)")
    text = read_once(path)
    if path.suffix == ".py":
        return text
    try:
        nb = json.loads(text)
        cells = nb["cells"]
    except (ValueError, KeyError, TypeError):
        raise SubmissionError(
            f"{path.name}: not a readable notebook; re-download it from JupyterLab"
        ) from None
    parts = []
    for cell in cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.get("cell_type") == "code" and meta.get("solution") and not meta.get("grade"):
            source = cell.get("source", "")
            parts.append("".join(source) if isinstance(source, list) else str(source))
    if not parts:
        raise SubmissionError(
            f"{path.name}: holds no graded cells; hand in the notebook released in course/"
        )
    return "\n\n".join(parts)
