"""Atomic file writes: a file appears whole or not at all."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path``.

    The temporary name keeps the suffix, so writers that infer a format from it
    (matplotlib, safetensors) still work. On an exception it is removed and
    ``path`` is left as it was.

    Args:
        path: the file to write.

    Yields:
        The temporary path to write to.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def remove_stale_temporaries(folder: str | os.PathLike[str]) -> list[Path]:
    """Delete temporary files that a killed writer left in ``folder``; return their paths.

    Only names of the form ``atomic_path`` makes (``.STEM.tmpPID.SUFFIX``) are removed.

    Args:
        folder: the folder to clean.

    Returns:
        The paths of the files removed.
    """
    stale = [p for p in Path(folder).glob(".*.tmp*") if p.is_file()]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically.

    Args:
        path: the file to write.
        text: its new contents.
    """
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically.

    Args:
        path: the file to write.
        obj: a JSON-serialisable object.
    """
    write_text(path, json.dumps(obj, indent=2) + "\n")
