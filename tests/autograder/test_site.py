"""Does the autograder's cache of student builds keep what is in use and drop what is not?"""

from __future__ import annotations

import os
import time
from pathlib import Path

from autograder.site import STALE_SECONDS, remove_stale_sites


def _build(cache: Path, name: str, age_seconds: float) -> Path:
    site = cache / name
    (site / "fundiff").mkdir(parents=True)
    (site / "fundiff" / "__init__.py").write_text("")
    then = time.time() - age_seconds
    os.utime(site, (then, then))
    return site


def test_builds_unused_for_a_day_go_and_the_others_stay(tmp_path: Path) -> None:
    """Are old builds and old partial builds removed, while recent ones and the kept one stay?"""
    day = STALE_SECONDS
    kept = _build(tmp_path, "student-aaaaaaaaaaaaaaaa", 3 * day)  # just built, whatever its age
    recent = _build(tmp_path, "student-bbbbbbbbbbbbbbbb", day / 2)  # another version, in use
    stale = _build(tmp_path, "student-cccccccccccccccc", 2 * day)
    partial = _build(tmp_path, "student-dddddddddddddddd.x1y2", 2 * day)  # a killed build
    other = tmp_path / "notes"  # not a build
    other.mkdir()
    os.utime(other, (0, 0))
    removed = remove_stale_sites(tmp_path, keep=kept)
    assert sorted(removed) == sorted([stale, partial])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([kept.name, recent.name, "notes"])
