"""Do atomic writes leave either the old file or the new one, never a half?"""

from __future__ import annotations

from pathlib import Path

import pytest

from fundiff.atomic import atomic_path, remove_stale_temporaries, write_json, write_text


def test_success_replaces_the_file(tmp_path: Path) -> None:
    """Does a completed write replace the target and leave no temporary?"""
    target = tmp_path / "a.json"
    write_text(target, "old")
    write_json(target, {"x": 1})
    assert target.read_text().strip() == '{\n  "x": 1\n}'
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_failure_keeps_the_old_file(tmp_path: Path) -> None:
    """If the writer raises, is the target untouched and the temporary removed?"""
    target = tmp_path / "a.txt"
    write_text(target, "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_temporary_keeps_the_suffix(tmp_path: Path) -> None:
    """Does the temporary keep the target's suffix, so format-sniffing writers still work?"""
    with atomic_path(tmp_path / "fig.png") as tmp:
        assert tmp.suffix == ".png" and tmp.parent == tmp_path
        tmp.write_bytes(b"x")


def test_stale_temporaries_of_a_killed_writer_are_removed(tmp_path: Path) -> None:
    """Are leftovers named like atomic_path's temporaries removed, and other files kept?"""
    (tmp_path / ".checkpoint.tmp1234.safetensors").write_bytes(b"partial")
    (tmp_path / "checkpoint.safetensors").write_bytes(b"whole")
    (tmp_path / "notes.txt").write_text("mine")
    removed = remove_stale_temporaries(tmp_path)
    assert [p.name for p in removed] == [".checkpoint.tmp1234.safetensors"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.safetensors", "notes.txt"]
