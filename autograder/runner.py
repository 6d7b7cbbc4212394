"""Grading one submission: its sandbox, the checks of its assignment run by pytest, the scores."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from autograder.confinement import Confinement
from autograder.sandbox import Sandbox
from autograder.site import preamble, student_site
from autograder.submission import graded_code

CHECKS = Path(__file__).with_name("checks")
ASSIGNMENTS = {"part_a": "test_part_a.py", "part_b": "test_part_b.py"}
_CURRENT: list[Any] = []
# pytest without the plugins other packages install (each costs start-up time; some reorder tests)
PYTEST_ARGS = ["-p", "no:cacheprovider", "--rootdir", str(CHECKS), "-o", "addopts=", "-p", "no:terminal",
               "--disable-plugin-autoload", "-p", "hypothesispytest"]  # fmt: skip


def current_student() -> Any:
    """The submission being graded (the checks' ``student`` fixture): a ``Sandbox`` or a ``notebook.Local``."""
    return _CURRENT[-1]


def detect_assignment(code: str) -> str:
    """part_a or part_b, from the graded names the code defines.

    Args:
        code: the submission's graded code.

    Returns:
        "part_b" if it defines ``flow_matching_loss`` or ``Conv``, else "part_a".
    """
    return "part_b" if "def flow_matching_loss" in code or "class Conv(" in code else "part_a"


def check_name(item: pytest.Item) -> str:
    """What the student reads: the first line of the check's docstring, parameters filled in.

    Args:
        item: the collected check.

    Returns:
        The name; without a docstring, the test's name without ``test_``.
    """
    doc = (getattr(item, "obj", None).__doc__ or "").strip()  # type: ignore[union-attr]
    if not doc:
        return item.name.removeprefix("test_").replace("_", " ")
    params = getattr(getattr(item, "callspec", None), "params", {})
    return doc.splitlines()[0].format(**params)


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
        points = float(item.get_closest_marker("points").args[0])  # type: ignore[union-attr]
        message = ""
        if report.failed and call.excinfo is not None:
            text = str(call.excinfo.value).strip()
            message = text.splitlines()[0][:400] if text else call.excinfo.typename
            if "unreliable results" in text or call.excinfo.typename.startswith(
                "Flaky"
            ):  # never show the inputs
                message = ("it gave different verdicts for the same inputs: does it draw random numbers without "
                           "the generator, or keep state between calls?")  # fmt: skip
        self.tests.append({"name": check_name(item), "score": points if report.passed else 0.0,
                           "max_score": points, "output": "passed" if report.passed else message,
                           "visibility": "visible", "tags": [item.get_closest_marker("graded").args[0]],  # type: ignore[union-attr]
                           "nodeid": item.nodeid.split("::", 1)[1]})  # fmt: skip


class _Lister:
    """A pytest plugin that records the checks it collects."""

    def __init__(self) -> None:
        self.checks: list[dict[str, Any]] = []

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        self.checks = [{"nodeid": item.nodeid.split("::", 1)[1], "name": check_name(item),
                        "cell": item.get_closest_marker("graded").args[0],  # type: ignore[union-attr]
                        "points": float(item.get_closest_marker("points").args[0])}  # type: ignore[union-attr]
                       for item in items]  # fmt: skip


def list_checks(assignment: str) -> list[dict[str, Any]]:
    """The checks of ``assignment``, in order: nodeid, name, graded cell and points of each.

    Args:
        assignment: "part_a" or "part_b".

    Returns:
        One dict per check with keys nodeid, name, cell and points.

    Raises:
        RuntimeError: no checks were collected.
    """
    lister = _Lister()
    pytest.main(
        [str(CHECKS / ASSIGNMENTS[assignment]), "--collect-only", *PYTEST_ARGS], plugins=[lister]
    )
    if not lister.checks:
        raise RuntimeError(f"no checks collected for {assignment}; the grader is broken")
    return lister.checks


def run_checks(student: Any, assignment: str, select: str | None = None) -> list[dict[str, Any]]:
    """Run ``assignment``'s checks (or the one named ``select``) on ``student``; one dict per check.

    Args:
        student: what the checks call, a ``Sandbox`` or a ``notebook.Local``.
        assignment: "part_a" or "part_b".
        select: a check's nodeid (its test name, with parameters if any); None: all checks.

    Returns:
        One Gradescope test dict per check: name, score, max_score, output, visibility,
        tags and nodeid.

    Raises:
        RuntimeError: the checks did not run.
    """
    target = str(CHECKS / ASSIGNMENTS[assignment]) + (f"::{select}" if select else "")
    collector = _Collector()
    _CURRENT.append(student)
    try:
        code = pytest.main([target, *PYTEST_ARGS], plugins=[collector])
    finally:
        _CURRENT.pop()
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) or not collector.tests:
        raise RuntimeError(
            f"the checks of {assignment} did not run (pytest exit {code!r}); the grader is broken"
        )
    return collector.tests


def grade(submission: Path, *, confinement: Confinement, assignment: str | None = None, timeout: float = 30.0,
          device: str = "cpu", threads: int = 1, max_seconds: float = 600.0) -> dict[str, Any]:  # fmt: skip
    """Grade ``submission``; returns Gradescope's results.json as a dict.

    It never raises for bad code: what the code does wrong is in the checks'
    verdicts. The submission is read once, before its worker starts; every
    process of the worker has ended when this returns.

    Args:
        submission: a notebook (.ipynb) or .py module.
        confinement: how its worker is confined (``autograder.confinement.choose``).
        assignment: "part_a" or "part_b"; None: from the names the code defines.
        timeout: CPU seconds each call of the submission may take.
        device: where the checks run, "cpu" or "cuda".
        threads: CPU threads the worker may use.
        max_seconds: wall-clock seconds the whole submission may take.

    Returns:
        The results: score, execution_time, tests and output (the confinement included).

    Raises:
        autograder.submission.SubmissionError: the submission cannot be read.
    """
    from autograder.feedback import explain_dependencies
    from autograder.redact import clean

    start = time.perf_counter()
    code = graded_code(submission)
    assignment = assignment or detect_assignment(code)
    head = preamble(code)
    with Sandbox(head + code, student_site(), confinement=confinement, line_offset=head.count("\n"),
                 timeout=timeout, device=device, threads=threads, max_seconds=max_seconds) as sandbox:  # fmt: skip
        # the worker starts first: this process imports torch and the checks meanwhile
        from autograder.worker import warm_up

        warm_up(device)
        tests = run_checks(sandbox, assignment)
        load_error = sandbox.load_error
    tests = explain_dependencies(tests, code)
    for test in tests:
        test["output"] = clean(test["output"])
    output = f"assignment {assignment}, graded on {device}"
    if load_error is not None:
        output += clean(
            f"; your code stopped while loading: {load_error.error}: {load_error.message}"
        )
    return {
        "score": sum(t["score"] for t in tests),
        "execution_time": round(time.perf_counter() - start, 2),
        "tests": tests,
        "output": output,
        "confinement": confinement.describe(),
    }
