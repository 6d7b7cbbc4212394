"""The notebooks' graded test cells: the autograder's checks, run on the notebook's own functions.

Each graded test cell of a course notebook holds, hidden from students, a call
``check("part_a", "test_forward_with_given_noise")``. Under ``nbgrader autograde``
it runs that one check, in the notebook's kernel, on the functions the notebook
defines, so a cell earns exactly the points that ``fundiff-grade`` gives the check.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from autograder.sandbox import Outcome
from autograder.toys import on_wire
from autograder.worker import Session


def cell_id(nodeid: str) -> str:
    """The nbgrader cell id of the graded test cell that runs the check ``nodeid``."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", f"check-{nodeid.removeprefix('test_')}")[:64]


class Local:
    """The ``student`` of the checks, served in this process from ``namespace`` (no sandbox)."""

    def __init__(self, namespace: dict[str, Any], device: str = "cpu") -> None:
        self.device = device
        self.session = Session(namespace, device)
        self._ids = 0

    def _request(self, op: str, payload: dict[str, Any]) -> Outcome:
        self._ids += 1
        try:
            value = self.session.handle(str(self._ids), op, on_wire(payload))
        except Exception as err:  # noqa: BLE001 (the notebook's error is the check's verdict)
            return Outcome(error=type(err).__name__, message=str(err)[:500])
        return Outcome(value=value, off_device=self.session.off_device)

    def call(
        self, name: str, *args: Any, then: tuple[Any, ...] | None = None, **kwargs: Any
    ) -> Outcome:
        """Call the notebook's ``name``, as ``Sandbox.call`` does."""
        then_payload = None if then is None else {"args": list(then), "kwargs": {}}
        return self._request(
            "call", {"name": name, "args": list(args), "kwargs": kwargs, "then": then_payload}
        )

    def build(self, name: str, *args: Any, seed: int = 0) -> Outcome:
        """Construct the notebook's module class ``name``, as ``Sandbox.build`` does."""
        return self._request("build", {"name": name, "args": list(args), "seed": seed})

    def load(self, handle: str, tensors: list[Any], key: str) -> Outcome:  # noqa: ARG002 (the Sandbox's signature)
        """Copy tensors into a built module, as ``Sandbox.load`` does."""
        return self._request("load", {"handle": handle, "tensors": tensors})

    def forward(self, handle: str, *args: Any, mode: str = "eval", key: str) -> Outcome:  # noqa: ARG002
        """Run a built module, as ``Sandbox.forward`` does."""
        return self._request("forward", {"handle": handle, "args": list(args), "mode": mode})


def check(assignment: str, nodeid: str, namespace: dict[str, Any] | None = None) -> None:
    """Run one check on the notebook's functions; raise AssertionError with its message if it fails.

    Args:
        assignment: "part_a" or "part_b".
        nodeid: the check's test name in ``autograder/checks`` (with its parameters, if any).
        namespace: where the functions are defined (default: the notebook's, ``__main__``).
    """
    from autograder.runner import run_checks

    student = Local(namespace if namespace is not None else vars(sys.modules["__main__"]))
    (result,) = run_checks(student, assignment, select=nodeid)
    if result["score"] < result["max_score"]:
        raise AssertionError(f"{result['name']}: {result['output']}")
    print(f"{result['name']}: passed ({result['max_score']:g} points)")
