"""Running a submission's functions in a confined worker process.

The worker (``autograder/worker.py``) runs under bubblewrap where it works: no
network, the repository (reference code, hidden checks, other submissions) and
/tmp hidden, the file system read-only but for its scratch folder. Everywhere it
also runs with resource limits (data segment, file size, CPU time) and a clean
environment, and every call has a wall-clock timeout; a worker that hangs, dies
or exits is replaced for the next call. Values come back as ``torch.save``
files read with ``weights_only=True``, so nothing the submission sends can run
code here.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

WORKER = Path(__file__).with_name("worker.py")
MEMORY_BYTES = 6 * 2**30  # data segment: a memory bomb fails inside the worker
FILE_BYTES = 64 * 2**20  # largest file the worker may write (its output log included)
CPU_SECONDS = 600


@dataclass(frozen=True)
class Helper:
    """A function argument built inside the worker from parameters (see ``worker._helpers``)."""

    name: str
    args: tuple[Any, ...] = ()


@dataclass
class Outcome:
    """What one call of a submitted function gave: a value, or an error, or nothing in time."""

    value: Any = None
    error: str | None = None  # exception type name, "Timeout" or "WorkerDied"
    message: str = ""
    line: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def bwrap_works() -> bool:
    """Whether bubblewrap can start a confined process here."""
    if shutil.which("bwrap") is None:
        return False
    done = subprocess.run(["bwrap", "--ro-bind", "/", "/", "--unshare-net", "--dev", "/dev", "true"],
                          capture_output=True)  # fmt: skip
    return done.returncode == 0


def _limits() -> None:
    os.setsid()
    resource.setrlimit(resource.RLIMIT_DATA, (MEMORY_BYTES, MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_BYTES, FILE_BYTES))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


class Sandbox:
    """One submission's worker. Use as a context manager; ``call`` runs one function.

    Args:
        code: the submission's graded code (``autograder.submission.graded_code``).
        student_site: a folder holding the student build of fundiff (no reference code).
        hide: folders the worker must not see (the repository, the submissions).
        timeout: seconds each call may take.
        confine: use bubblewrap (None: where it works).
    """

    def __init__(self, code: str, student_site: Path, *, hide: tuple[Path, ...] = (), timeout: float = 20.0,
                 confine: bool | None = None) -> None:  # fmt: skip
        self.code, self.site, self.hide, self.timeout = code, student_site, hide, timeout
        self.confine = bwrap_works() if confine is None else confine
        self.scratch = Path(tempfile.mkdtemp(prefix="fundiff-grade-"))
        self.load_error: Outcome | None = None
        self._ids = itertools.count()
        self._proc: subprocess.Popen[bytes] | None = None
        self._answers: Any = None
        self._broken: dict[str, Outcome] = {}

    def __enter__(self) -> Sandbox:
        (self.scratch / "submission.py").write_text(self.code)
        self._start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop()
        shutil.rmtree(self.scratch, ignore_errors=True)

    def _command(self, fd: int) -> list[str]:
        python = [sys.executable, "-I", str(WORKER), str(self.scratch), str(self.site), str(fd)]
        if not self.confine:
            return python
        prefix = Path(sys.prefix).resolve()
        cmd = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
               "--unshare-net", "--unshare-pid", "--die-with-parent", "--new-session"]  # fmt: skip
        for folder in self.hide:
            cmd += ["--tmpfs", str(Path(folder).resolve())]
        for keep in (
            prefix,
            Path(sys.base_prefix).resolve(),
            WORKER.parent.resolve(),
            Path(self.site).resolve(),
        ):
            cmd += ["--ro-bind", str(keep), str(keep)]
        cmd += ["--bind", str(self.scratch), str(self.scratch)]
        return cmd + python

    def _start(self) -> None:
        read_fd, write_fd = os.pipe()
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(self.scratch),
            "OMP_NUM_THREADS": "1",
            "LANG": "C.UTF-8",
        }
        self._proc = subprocess.Popen(
            self._command(write_fd), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(write_fd,), env=env, cwd=self.scratch, preexec_fn=_limits,
        )  # fmt: skip
        os.close(write_fd)
        self._answers = os.fdopen(read_fd, "r")
        first = self._read("load", timeout=max(self.timeout, 120.0))
        if not first.ok:
            self.load_error = first

    def _stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait()
        if self._answers is not None:
            self._answers.close()
        self._proc = self._answers = None

    def _read(self, rid: str, timeout: float) -> Outcome:
        assert self._answers is not None
        ready, _, _ = select.select([self._answers], [], [], timeout)
        if not ready:
            self._stop()
            return Outcome(error="Timeout", message=f"no answer within {timeout:.0f} s")
        line = self._answers.readline()
        if not line:
            self._stop()
            return Outcome(
                error="WorkerDied",
                message="the submission's process ended (exit, crash or memory limit)",
            )
        try:
            answer = json.loads(line)
        except ValueError:
            return Outcome(error="WorkerDied", message="the submission's process sent garbage")
        if answer.get("id") != rid:
            return Outcome(
                error="WorkerDied", message="the submission's process answered out of turn"
            )
        if not answer.get("ok"):
            return Outcome(
                error=str(answer.get("error")),
                message=str(answer.get("message", "")),
                line=answer.get("line"),
            )
        if "result" not in answer:
            return Outcome()
        try:
            value = torch.load(self.scratch / Path(answer["result"]).name, weights_only=True)
        except Exception as err:  # noqa: BLE001 (whatever the file holds, it is the submission's fault)
            return Outcome(
                error="BadResult",
                message=f"its result could not be read back ({type(err).__name__})",
            )
        return Outcome(value=value)

    def call(self, name: str, *args: Any, **kwargs: Any) -> Outcome:
        """Call the submission's ``name`` with tensors, numbers and ``Helper`` arguments."""
        if name in self._broken:  # it hung or killed its process once: not again
            return self._broken[name]
        if self._proc is None:
            self._start()
        rid = str(next(self._ids))
        payload = {
            "args": [_plain(a) for a in args],
            "kwargs": {k: _plain(v) for k, v in kwargs.items()},
        }
        torch.save(payload, self.scratch / f"args_{rid}.pt")
        assert self._proc is not None and self._proc.stdin is not None
        try:
            self._proc.stdin.write(
                (json.dumps({"id": rid, "name": name, "args": f"args_{rid}.pt"}) + "\n").encode()
            )
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self._stop()
            return Outcome(
                error="WorkerDied",
                message="the submission's process ended (exit, crash or memory limit)",
            )
        outcome = self._read(rid, self.timeout)
        if outcome.error in ("Timeout", "WorkerDied"):
            self._broken[name] = outcome
        return outcome


def _plain(value: Any) -> Any:
    if isinstance(value, Helper):
        return {"__helper__": value.name, "args": [_plain(a) for a in value.args]}
    return value
