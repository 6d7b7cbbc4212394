"""What feedback may show a student: the check's own words and values from the student's outputs.

Messages pass through ``clean`` before they reach results.json: paths of the
grading machine and the values of the grader's environment are replaced, and
each message is capped in length, whatever the submission managed to put in an
exception's text.
"""

from __future__ import annotations

import os
import re

LIMIT = 600  # characters of one message
_PATH = re.compile(r"(?<![\w.~])(?:/[\w.@+-]+){2,}/?")
_SECRET_MIN = 6  # shorter environment values ("1", "C.UTF-8") are too common to mean anything


def clean(text: str, limit: int = LIMIT, environ: dict[str, str] | None = None) -> str:
    """``text`` without paths of this machine or values of the grader's environment, at most ``limit`` characters.

    Args:
        text: a feedback message.
        limit: its longest length; longer ones end in "...".
        environ: the environment whose values are withheld; None: this process's.

    Returns:
        The message to show.
    """
    env = os.environ if environ is None else environ
    for value in sorted({v for v in env.values() if len(v) >= _SECRET_MIN}, key=len, reverse=True):
        text = text.replace(value, "<withheld>")
    text = _PATH.sub("<path>", text)
    text = "".join(ch if ch.isprintable() or ch == "\n" else "?" for ch in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."
