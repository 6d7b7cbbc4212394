"""The process that runs a submission's code: one request at a time, verdicts never made here.

Started by ``autograder.sandbox`` as ``python -s -P worker.py SCRATCH STUDENT_SITE FD DEVICE
UID`` from a folder holding this file, ``helpers.py``, ``toys.py``, ``watched.py`` and
``users.py`` (nothing else of the grader). Its import path is its isolation contract, set by the
sandbox before it starts and never changed here: the environment is the sandbox's own,
built from nothing, and its ``PYTHONPATH`` names STUDENT_SITE, the student build of
fundiff (graded bodies stubbed, no reference code), then this folder (then, under
bubblewrap, any package folder the grader reaches through a ``.pth`` file, which the
worker is not shown); ``-s`` and ``-P`` keep the user's site-packages and the working
folder off the path, as ``-I`` would. Where UID is a number (a root grader under
bubblewrap) it first becomes that user for good. It then reads frames from stdin: a
JSON header line ``{"id", "op", "size"}`` and ``size`` bytes. The first frame (op
``load``) holds the submission's code, which it runs into a namespace; each later one
holds a ``torch.save`` payload of a request. Each answer is one frame on file
descriptor FD: a header ``{"id", "ok", "size", ...}`` and the result's ``torch.save``
bytes, or the error's type, message and line. The submission's own prints go to
SCRATCH/output.log. ``Session`` also serves the notebooks' own checks in-process.

Requests (``op``):

- ``call``: ``name(*args, **kwargs)``; with ``then``, the returned function is
  called again with those arguments (a predictor or velocity a function builds);
  with ``run_on``, its inputs and helpers are made on that device instead.
- ``build``: ``torch.manual_seed(seed)``, then the class ``name(*args)``; kept
  under the request's id; answers its parameter and buffer shapes, in order.
- ``load``: copy tensors into a built module's parameters and buffers, in order.
- ``forward``: a built module, in ``train`` or ``eval`` mode, on ``args``.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import sys
import threading
import traceback
from typing import Any, BinaryIO

if __package__:  # the grading process, or a notebook's own checks
    from autograder import helpers, toys, users
else:  # the worker, its own folder on its PYTHONPATH (no other part of the grader is there)
    import helpers  # type: ignore[no-redef]
    import toys  # type: ignore[no-redef]
    import users  # type: ignore[no-redef]


class Session:
    """A submission's namespace and the modules it built, answering requests on ``device``."""

    def __init__(
        self, namespace: dict[str, Any], device: str = "cpu", grading_assets: str | None = None
    ) -> None:
        self.namespace, self.device = namespace, device
        self.grading_assets = grading_assets
        self.helpers = {device: toys.factories(device, grading_assets)}
        self.modules: dict[str, Any] = {}
        self.off_device = False
        self.target = device  # where the current request's inputs go

    def _named(self, name: str) -> Any:
        fn = self.namespace.get(name)
        if not callable(fn):
            raise NameError(f"{name} is not defined in your code")
        return fn

    def _args(self, payload: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        target = self.target
        if target not in self.helpers:
            self.helpers[target] = toys.factories(target, self.grading_assets)
        args = helpers.resolve(payload.get("args", []), self.helpers[target], target)
        kwargs = helpers.resolve(payload.get("kwargs", {}), self.helpers[target], target)
        return args, kwargs

    def handle(self, rid: str, op: str, payload: dict[str, Any]) -> Any:
        """Serve one request; returns the plain value to send back (tensors on the CPU).

        Args:
            rid: the request's id; a module built by it is kept under it.
            op: "call", "build", "load" or "forward" (see the module docstring).
            payload: the request's arguments, as sent (helpers as dicts).

        Returns:
            Plain data for ``torch.save``, as ``export`` makes it: for ``build``, the handle
            and the parameter and buffer shapes; for ``load``, None.

        Raises:
            NameError: the requested name is not defined in the submission.
            TypeError: a result the grader cannot use.
            ValueError: tensors that do not fit a module, or an unknown ``op``.
        """
        import torch

        self.off_device = False
        # a request may run on another device than the session's ("meta": no data, any device bug shows)
        self.target = str(payload.get("run_on") or self.device)
        if op == "call":
            args, kwargs = self._args(payload)
            result = self._named(payload["name"])(*args, **kwargs)
            if payload.get("then") is not None:
                if not callable(result):
                    raise TypeError(
                        f"{payload['name']} should return a function, not a {type(result).__name__}"
                    )
                more, more_kw = self._args(payload["then"])
                result = result(*more, **more_kw)
            return self.export(result)
        if op == "build":
            args, kwargs = self._args(payload)
            torch.manual_seed(payload.get("seed", 0))
            module = self._named(payload["name"])(*args, **kwargs)
            if not isinstance(module, torch.nn.Module):
                raise TypeError(
                    f"{payload['name']}(...) should be a torch.nn.Module, not a {type(module).__name__}"
                )
            self.modules[rid] = module.to(self.target)
            return {"handle": rid, "parameters": [list(p.shape) for p in module.parameters()],
                    "buffers": [list(b.shape) for b in module.buffers()]}  # fmt: skip
        if op == "load":
            module = self.modules[payload["handle"]]
            ours = list(module.parameters()) + list(module.buffers())
            theirs = payload["tensors"]
            if [tuple(p.shape) for p in ours] != [tuple(t.shape) for t in theirs]:
                raise ValueError(
                    "its parameters differ in shape or order from the write-up's layers"
                )
            with torch.no_grad():
                for p, value in zip(ours, theirs, strict=True):
                    p.copy_(value.to(p.device, p.dtype))
            return None
        if op == "forward":
            module = self.modules[payload["handle"]]
            module.train(payload.get("mode", "eval") == "train")
            args, kwargs = self._args(payload)
            with torch.no_grad():
                return self.export(module(*args, **kwargs))
        raise ValueError(f"unknown request {op!r}")

    def export(self, value: Any) -> Any:
        """Plain data for ``torch.save``: tensors detached to the CPU (noting any off ``device``).

        Args:
            value: a returned value: a tensor, a dataclass, a list, tuple or dict of them, or
                a plain bool, int, float, str or None.

        Returns:
            The same structure with tensors copied to the CPU (those on "meta" stay there), dataclasses and dicts as dicts
            with str keys, tuples as lists.

        Raises:
            TypeError: a value of another type.
        """
        import torch

        if isinstance(value, torch.Tensor):
            if value.device.type != torch.device(self.target).type:
                self.off_device = True
            if value.device.type == "meta":  # no values to copy: shape and dtype come back
                return value.detach()
            return value.detach().cpu().clone()
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: self.export(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, (list, tuple)):
            return [self.export(v) for v in value]
        if isinstance(value, dict):
            return {str(k): self.export(v) for k, v in value.items()}
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        raise TypeError(f"returned a {type(value).__name__}, which the grader cannot compare")


def warm_up(device: str) -> threading.Thread | None:
    """On a GPU, create the CUDA context and load kernel libraries in a background thread.

    The convolution and matrix libraries load while this process goes on importing
    and loading. Draws no random numbers (the default generators stay as they are).

    Args:
        device: "cpu", or the CUDA device to warm up.

    Returns:
        The started thread, or None on the CPU.
    """
    if device == "cpu":
        return None

    def run() -> None:
        import torch

        with torch.no_grad():
            x = torch.zeros(2, 4, 8, 8, device=device)
            torch.nn.functional.conv2d(x, torch.zeros(4, 4, 3, 3, device=device), padding=1)
            torch.nn.functional.linear(x.flatten(1), torch.zeros(4, 256, device=device))
            torch.cuda.synchronize(device)

    thread = threading.Thread(target=run, name="cuda-warm-up", daemon=True)
    thread.start()
    return thread


def error_answer(rid: str, err: BaseException, filename: str = "submission.py") -> dict[str, Any]:
    """The answer for an exception: its type, message and the submission's line it came from.

    Args:
        rid: the request's id.
        err: the exception raised.
        filename: the file name the submission was compiled under.

    Returns:
        The answer: id, ok (False), error, message (at most 500 characters) and line
        (None where no frame of the submission is in the traceback).
    """
    where = traceback.extract_tb(err.__traceback__)
    line = next((f.lineno for f in reversed(where) if f.filename == filename), None)
    return {
        "id": rid,
        "ok": False,
        "error": type(err).__name__,
        "message": str(err)[:500],
        "line": line,
    }


def _frame(stream: BinaryIO) -> tuple[dict[str, Any], bytes] | None:
    """The next request frame from ``stream``, or None once it is closed."""
    line = stream.readline()
    if not line:
        return None
    header = json.loads(line)
    return header, stream.read(int(header.get("size", 0)))


def _answer(out: BinaryIO, header: dict[str, Any], payload: bytes = b"") -> None:
    out.write(json.dumps({**header, "size": len(payload)}).encode() + b"\n" + payload)
    out.flush()


def main() -> None:
    """Become the worker's user, run the submission, then serve requests until stdin closes (see above)."""
    scratch, site, fd, device, uid = sys.argv[1:6]
    if uid != "-":
        users.drop_privileges(int(uid))
    answers = os.fdopen(int(fd), "wb")
    requests = sys.stdin.buffer
    log = open(os.path.join(scratch, "output.log"), "w", buffering=1)  # noqa: SIM115 (open for the process's life)
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    sys.stdout = sys.stderr = log
    sys.stdin = open(os.devnull)  # noqa: SIM115 (the submission reads nothing of the requests)
    os.chdir(scratch)
    first = _frame(
        requests
    )  # the submission's code, read at once so that the grader never waits to send it
    if first is None:
        return
    import torch

    warm_up(device)

    namespace: dict[str, object] = {"__name__": "submission"}
    try:
        exec(compile(first[1].decode(errors="replace"), "submission.py", "exec"), namespace)
        _answer(answers, {"id": "load", "ok": True})
    except BaseException as err:  # noqa: BLE001 (anything the submission raises is reported)
        _answer(answers, error_answer("load", err))
    session = Session(namespace, device, os.path.join(site, "grading"))
    while (frame := _frame(requests)) is not None:
        request, data = frame
        rid = request["id"]
        try:
            payload = torch.load(io.BytesIO(data), weights_only=True)
            result = session.handle(rid, request["op"], payload)
            buffer = io.BytesIO()
            torch.save(result, buffer)
            _answer(
                answers,
                {"id": rid, "ok": True, "off_device": session.off_device},
                buffer.getvalue(),
            )
        except BaseException as err:  # noqa: BLE001
            _answer(answers, error_answer(rid, err))


if __name__ == "__main__":
    main()
