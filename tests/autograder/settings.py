"""The grading settings the autograder's tests run in, as a root grader on this machine sees them.

- ``bubblewrap``: root, bubblewrap working (CI's confinement);
- ``own_user``: Gradescope's situation, simulated: root and no bubblewrap
  (``FUNDIFF_GRADE_BWRAP=none``), the repository's reference folders closed to
  other users as the instructor's guide says, the Python runtime reachable by
  them. Every permission changed for it is put back afterwards.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def _modes() -> Iterator[dict[Path, int]]:
    """Permission changes made inside, undone at the end (path: its mode before)."""
    before: dict[Path, int] = {}
    try:
        yield before
    finally:
        for path, mode in before.items():
            with contextlib.suppress(OSError):
                path.chmod(mode)


def _chmod(before: dict[Path, int], path: Path, mode: int) -> None:
    before.setdefault(path, stat.S_IMODE(path.stat().st_mode))
    path.chmod(mode)


@contextlib.contextmanager
def setting(name: str, **extra: str) -> Iterator[dict[str, str]]:
    """The grader's environment for the setting ``name`` ("bubblewrap" or "own_user"), with ``extra``
    variables; skips where this machine cannot give it."""
    from autograder import confinement

    if os.geteuid() != 0:
        pytest.skip("the confined settings need a root grader")
    env = {**os.environ, **extra}
    if name == "bubblewrap":
        if confinement.choose().bwrap is None:
            pytest.skip("bubblewrap does not run here")
        yield env
        return
    env["FUNDIFF_GRADE_BWRAP"] = "none"
    with _modes() as before:
        # what an instructor on such a server does: the runtime reachable, the reference not
        for keep in (Path(sys.executable).resolve(), Path(sys.prefix).resolve()):
            for parent in keep.parents:
                if not parent.stat().st_mode & 0o001:
                    _chmod(before, parent, stat.S_IMODE(parent.stat().st_mode) | 0o001)
        for path in [*confinement.repository(), *confinement.installation()]:
            _chmod(before, path, stat.S_IMODE(path.stat().st_mode) & 0o770)
        yield env
