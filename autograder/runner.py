"""Grading one submission: its sandbox, the checks of its assignment run by pytest, the scores."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from autograder.sandbox import Sandbox
from autograder.site import ROOT, preamble, student_site
from autograder.submission import graded_code

CHECKS = Path(__file__).with_name("checks")
ASSIGNMENTS = {"part_a": "test_part_a.py", "part_b": "test_part_b.py"}
_CURRENT: list[Sandbox] = []


def current_sandbox() -> Sandbox:
    """The sandbox of the submission being graded (the checks' ``student`` fixture)."""
    return _CURRENT[-1]


def detect_assignment(code: str) -> str:
    """part_a or part_b, from the graded names the code defines."""
    return "part_b" if "def flow_matching_loss" in code or "class Conv(" in code else "part_a"


class _Collector:
    """A pytest plugin that records each check's outcome, points and first failure line."""

    def __init__(self) -> None:
        self.tests: list[dict[str, Any]] = []

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]):
        outcome = yield
        report = outcome.get_result()
        if report.when != "call" and not (report.when == "setup" and report.failed):
            return
        marker = item.get_closest_marker("points")
        points = float(marker.args[0]) if marker else 1.0
        message = ""
        if report.failed and call.excinfo is not None:
            text = str(call.excinfo.value).strip()
            message = text.splitlines()[0][:300] if text else call.excinfo.typename
        name = item.name.removeprefix("test_").replace("_", " ")
        self.tests.append({"name": name, "score": points if report.passed else 0.0, "max_score": points,
                           "output": "passed" if report.passed else message, "visibility": "visible"})  # fmt: skip


def grade(
    submission: Path, *, assignment: str | None = None, timeout: float = 20.0
) -> dict[str, Any]:
    """Grade ``submission``; returns Gradescope's results.json as a dict (never raises for bad code)."""
    start = time.perf_counter()
    code = graded_code(submission)
    assignment = assignment or detect_assignment(code)
    collector = _Collector()
    with Sandbox(preamble() + "\n" + code, student_site(), hide=(ROOT, submission.resolve().parent),
                 timeout=timeout) as sandbox:  # fmt: skip
        _CURRENT.append(sandbox)
        try:
            pytest.main([str(CHECKS / ASSIGNMENTS[assignment]), "-p", "no:cacheprovider", "-p", "no:randomly",
                         "--rootdir", str(CHECKS), "-o", "addopts=", "-p", "no:terminal"],
                        plugins=[collector])  # fmt: skip
        finally:
            _CURRENT.pop()
        load_error = sandbox.load_error
    result: dict[str, Any] = {
        "score": sum(t["score"] for t in collector.tests),
        "execution_time": round(time.perf_counter() - start, 2),
        "tests": collector.tests,
        "output": f"assignment {assignment}",
    }
    if load_error is not None:
        result["output"] += (
            f"; your code stopped while loading: {load_error.error}: {load_error.message}"
        )
    return result
