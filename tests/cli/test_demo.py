"""Tests for ``fundiff demo`` (``fundiff.cli.demo``) that need no page drawn: the rule it runs under.

The page itself is tested in ``tests/demo``; bad --out values there too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fundiff.diffusion import rules
from tests.conftest import run_cli


def test_demo_runs_under_the_rule_given(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Does `fundiff demo --rule ddpm` build the whole page under that rule?"""
    from fundiff.demo import build

    seen: list[str] = []

    def fake_demo(out: Path, **_: object) -> Path:
        seen.append(rules.current_rule())
        return out / "index.html"

    monkeypatch.setattr(build, "run_demo", fake_demo)
    status, _, err = run_cli(["demo", "--rule", "ddpm", "--out", tmp_path, "--no-progress"], capsys)
    assert status == 0, err
    assert seen == ["ddpm"]
