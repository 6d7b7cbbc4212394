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

from autograder.helpers import on_wire
from autograder.sandbox import Outcome
from autograder.worker import Session


def cell_id(nodeid: str) -> str:
    """The nbgrader cell id of the graded test cell that runs the check ``nodeid``.

    Args:
        nodeid: the check's test name, with its parameters if any.

    Returns:
        ``check-`` and the name without ``test_``, other characters than letters, digits,
        ``_`` and ``-`` replaced by ``-``, at most 64 characters.
    """
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

    def call(self, name: str, *args: Any, then: tuple[Any, ...] | None = None, run_on: str | None = None,
             **kwargs: Any) -> Outcome:  # fmt: skip
        """Call the notebook's ``name``, as ``Sandbox.call`` does.

        Args:
            name: the function defined in the notebook.
            *args: its positional arguments: tensors, numbers and ``Helper`` arguments.
            then: arguments for calling what ``name`` returns (a predictor it builds).
            run_on: the device its inputs and helpers go to for this call (e.g. "meta"); None:
                the grading device.
            **kwargs: its keyword arguments.

        Returns:
            The outcome: the value as plain data (tensors on the CPU), or the error raised.
        """
        then_payload = None if then is None else {"args": list(then), "kwargs": {}}
        return self._request("call", {"name": name, "args": list(args), "kwargs": kwargs, "then": then_payload,
                                      "run_on": run_on})  # fmt: skip

    def build(self, name: str, *args: Any, seed: int = 0, run_on: str | None = None) -> Outcome:
        """Construct the notebook's module class ``name``, as ``Sandbox.build`` does.

        Args:
            name: the ``nn.Module`` class defined in the notebook.
            *args: its constructor's arguments.
            seed: seeds torch before construction.
            run_on: the device the module is moved to (e.g. "meta"); None: the grading device.

        Returns:
            The outcome; its value is ``{"handle", "parameters", "buffers"}`` (shapes in
            creation order).
        """
        return self._request(
            "build", {"name": name, "args": list(args), "seed": seed, "run_on": run_on}
        )

    def load(self, handle: str, tensors: list[Any], key: str) -> Outcome:  # noqa: ARG002 (the Sandbox's signature)
        """Copy tensors into a built module, as ``Sandbox.load`` does.

        Args:
            handle: the module's handle, from ``build``.
            tensors: one tensor per parameter, then per buffer, in order, of their shapes.
            key: unused here (``Sandbox.load`` takes it).

        Returns:
            The outcome; no value.
        """
        return self._request("load", {"handle": handle, "tensors": tensors})

    def forward(self, handle: str, *args: Any, mode: str = "eval", key: str,  # noqa: ARG002
                run_on: str | None = None) -> Outcome:  # fmt: skip
        """Run a built module, as ``Sandbox.forward`` does.

        Args:
            handle: the module's handle, from ``build``.
            *args: its inputs, e.g. x (B, 1, 28, 28), t (B,) and c (B, 10).
            mode: "train" or "eval".
            key: unused here (``Sandbox.forward`` takes it).
            run_on: the device its inputs go to (that of a module built with ``run_on``).

        Returns:
            The outcome; its value is the module's output, on the CPU (on "meta" there).
        """
        return self._request(
            "forward", {"handle": handle, "args": list(args), "mode": mode, "run_on": run_on}
        )


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
