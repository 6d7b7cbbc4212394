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
import functools
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
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

WORKER = Path(__file__).with_name("worker.py")
WORKER_FILES = (WORKER, Path(__file__).with_name("toys.py"))  # all of the grader the worker sees
MEMORY_BYTES = 6 * 2**30  # data segment: a memory bomb fails inside the worker
FILE_BYTES = 64 * 2**20  # largest file the worker may write (its output log included)
CPU_SECONDS = 600
PROCESSES = 512  # a fork bomb stops here (enforced where the worker runs as an unprivileged user)
NOBODY = 65534


@dataclass
class Outcome:
    """What one call of a submitted function gave: a value, or an error, or nothing in time."""

    value: Any = None
    error: str | None = None  # exception type name, "Timeout" or "WorkerDied"
    message: str = ""
    line: int | None = None
    off_device: bool = False  # a returned tensor was not on the grading device

    @property
    def ok(self) -> bool:
        """Whether the call returned a value."""
        return self.error is None


def bwrap_works() -> bool:
    """Whether bubblewrap can start a confined process here."""
    if shutil.which("bwrap") is None:
        return False
    done = subprocess.run(["bwrap", "--ro-bind", "/", "/", "--unshare-net", "--dev", "/dev", "true"],
                          capture_output=True)  # fmt: skip
    return done.returncode == 0


def _drops_to_nobody(confine: bool) -> bool:
    """A root grader runs confined workers as user nobody, so process and file limits bind them."""
    return confine and os.geteuid() == 0 and shutil.which("setpriv") is not None


def _limits(nproc: bool) -> None:
    os.setsid()
    if nproc:
        resource.setrlimit(resource.RLIMIT_NPROC, (PROCESSES, PROCESSES))
    resource.setrlimit(resource.RLIMIT_DATA, (MEMORY_BYTES, MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_BYTES, FILE_BYTES))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _descendants(pid: int, depth: int = 2) -> list[int]:
    """Child processes of ``pid``, and theirs, ``depth`` levels down (from /proc)."""
    found: list[int] = []
    frontier = [pid]
    for _ in range(depth):
        nxt = []
        for parent in frontier:
            for task in Path(f"/proc/{parent}/task").glob("*/children"):
                with contextlib.suppress(OSError, ValueError):
                    nxt += [int(c) for c in task.read_text().split()]
        found += nxt
        frontier = nxt
    return found


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie has finished)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


class Sandbox:
    """One submission's worker. Use as a context manager; ``call`` runs one function.

    Args:
        code: the submission's graded code (``autograder.submission.graded_code``).
        student_site: a folder holding the student build of fundiff (no reference code).
        hide: folders the worker must not see (the repository, the submissions).
        timeout: seconds each call may take.
        confine: use bubblewrap (None: where it works).
        device: where the submission's inputs are put and its code runs ("cpu", "cuda").
        threads: CPU threads the worker may use.
        line_offset: lines put before the student's code (error lines are counted in the student's code).
    """

    def __init__(self, code: str, student_site: Path, *, hide: tuple[Path, ...] = (), timeout: float = 20.0,
                 confine: bool | None = None, device: str = "cpu", threads: int = 1, line_offset: int = 0) -> None:  # fmt: skip
        self.code, self.site, self.hide, self.timeout = code, student_site, hide, timeout
        self.device, self.threads, self.line_offset = device, threads, line_offset
        self.confine = bwrap_works() if confine is None else confine
        self.scratch = Path(tempfile.mkdtemp(prefix="fundiff-grade-"))
        self.load_error: Outcome | None = None
        self._ids = itertools.count()
        self._proc: subprocess.Popen[bytes] | None = None
        self._answers: Any = None
        self._broken: dict[str, Outcome] = {}
        self._starts = 0
        self._loading = False

    def __enter__(self) -> Sandbox:
        (self.scratch / "submission.py").write_text(self.code)
        if _drops_to_nobody(self.confine):
            os.chown(self.scratch, NOBODY, NOBODY)
        self._start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._loaded()
        self._stop()
        shutil.rmtree(self.scratch, ignore_errors=True)

    def _command(self, fd: int) -> list[str]:
        python = [
            sys.executable,
            "-I",
            str(WORKER),
            str(self.scratch),
            str(self.site),
            str(fd),
            self.device,
        ]
        if not self.confine:
            return python
        prefix = Path(sys.prefix).resolve()
        devices = (
            ["--dev-bind", "/dev", "/dev"] if self.device != "cpu" else ["--dev", "/dev"]
        )  # GPU nodes
        cmd = ["bwrap", "--ro-bind", "/", "/", *devices, "--proc", "/proc", "--tmpfs", "/tmp",
               "--unshare-net", "--unshare-pid", "--die-with-parent", "--new-session"]  # fmt: skip
        nobody = _drops_to_nobody(self.confine)
        if nobody:  # the grader's home (root's files, its caches) hidden; what the worker needs is bound below
            cmd += ["--tmpfs", str(Path.home().resolve())]
        for folder in self.hide:
            cmd += ["--tmpfs", str(Path(folder).resolve())]
        for keep in (
            prefix,
            Path(sys.base_prefix).resolve(),
            *(f.resolve() for f in WORKER_FILES),
            Path(self.site).resolve(),
            self.scratch.resolve(),
        ):
            for folder in reversed(
                keep.parents[:-1]
            ):  # under a tmpfs, mount points need traversable parents
                cmd += ["--perms", "0755", "--dir", str(folder)]
            cmd += [
                "--bind" if keep == self.scratch.resolve() else "--ro-bind",
                str(keep),
                str(keep),
            ]
        if nobody:
            cmd += ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]
        return cmd + python

    def _start(self) -> None:
        read_fd, write_fd = os.pipe()
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(self.scratch),
            "OMP_NUM_THREADS": str(self.threads),
            "LANG": "C.UTF-8",
        }
        self._proc = subprocess.Popen(
            self._command(write_fd), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(write_fd,), env=env, cwd=self.scratch,
            preexec_fn=functools.partial(_limits, _drops_to_nobody(self.confine)),
        )  # fmt: skip
        os.close(write_fd)
        self._answers = os.fdopen(read_fd, "r")
        # its first answer (the submission loaded) is read before the first request
        self._loading = True

    def _loaded(self) -> None:
        """Wait for a started worker to load the submission; the first load's failure is ``load_error``."""
        if not self._loading:
            return
        self._loading = False
        first = self._read("load", timeout=max(self.timeout, 120.0))
        if not first.ok and self._starts == 0:
            self.load_error = first
        self._starts += 1

    def _ensure_started(self) -> Outcome | None:
        """Start a worker if none runs (the last one was killed); an outcome to report if none will start."""
        for attempt in range(3):
            self._loaded()
            if self._proc is not None:
                return None
            time.sleep(attempt)  # processes the last one left may take a moment to die
            self._start()
        self._loaded()
        if self._proc is not None:
            return None
        return Outcome(error="WorkerDied", message="the submission's process could not be restarted after an "
                       "earlier call ended it (did it leave processes running?)")  # fmt: skip

    def _stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            inner = _descendants(
                self._proc.pid
            )  # bwrap's init of the worker's PID namespace, the worker
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait()
            for pid in inner:  # a namespace's init exits only once every process in it is gone
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 30
            while any(_alive(pid) for pid in inner) and time.monotonic() < deadline:
                time.sleep(0.05)
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
                line=answer["line"] - self.line_offset
                if isinstance(answer.get("line"), int)
                else None,
            )
        if "result" not in answer:
            return Outcome()
        import torch  # imported once the worker starts, so that both start at once

        try:
            value = torch.load(self.scratch / Path(answer["result"]).name, weights_only=True)
        except Exception as err:  # noqa: BLE001 (whatever the file holds, it is the submission's fault)
            return Outcome(
                error="BadResult",
                message=f"its result could not be read back ({type(err).__name__})",
            )
        return Outcome(value=value, off_device=bool(answer.get("off_device")))

    def _request(self, op: str, key: str, payload: dict[str, Any]) -> Outcome:
        if key in self._broken:  # it hung or killed its process once: not again
            return self._broken[key]
        failed = self._ensure_started()
        if failed is not None:
            return failed
        import torch

        from autograder.toys import on_wire

        rid = str(next(self._ids))
        torch.save(on_wire(payload), self.scratch / f"args_{rid}.pt")
        assert self._proc is not None and self._proc.stdin is not None
        try:
            self._proc.stdin.write(
                (json.dumps({"id": rid, "op": op, "args": f"args_{rid}.pt"}) + "\n").encode()
            )
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self._stop()
            outcome = Outcome(
                error="WorkerDied",
                message="the submission's process ended (exit, crash or memory limit)",
            )
        else:
            outcome = self._read(rid, self.timeout)
        if outcome.error in ("Timeout", "WorkerDied"):
            self._broken[key] = outcome
        return outcome

    def call(
        self, name: str, *args: Any, then: tuple[Any, ...] | None = None, **kwargs: Any
    ) -> Outcome:
        """Call the submission's ``name`` with tensors, numbers and ``Helper`` arguments.

        Args:
            name: the function defined in the submission.
            *args: its positional arguments.
            then: arguments for calling what ``name`` returns (a predictor it builds).
            **kwargs: its keyword arguments.

        Returns:
            The outcome: the value as plain data (tensors on the CPU), or the error, a
            timeout or the worker's death; after a timeout or death, later calls of
            ``name`` give the same outcome at once.
        """
        payload = {"name": name, "args": list(args), "kwargs": kwargs,
                   "then": None if then is None else {"args": list(then), "kwargs": {}}}  # fmt: skip
        return self._request("call", name, payload)

    def build(self, name: str, *args: Any, seed: int = 0) -> Outcome:
        """Construct the submission's module class ``name(*args)`` with torch seeded by ``seed``.

        Args:
            name: the ``nn.Module`` class defined in the submission.
            *args: its constructor's arguments.
            seed: seeds torch before construction.

        Returns:
            The outcome; its value is ``{"handle", "parameters", "buffers"}`` (shapes in
            creation order).
        """
        return self._request("build", name, {"name": name, "args": list(args), "seed": seed})

    def load(self, handle: str, tensors: list[torch.Tensor], key: str) -> Outcome:
        """Copy ``tensors`` into a built module's parameters then buffers, in order.

        Args:
            handle: the module's handle, from ``build``.
            tensors: one tensor per parameter, then per buffer, of their shapes.
            key: names the request: once a request under it times out or ends the worker,
                later ones give that outcome at once.

        Returns:
            The outcome; no value.
        """
        return self._request("load", key, {"handle": handle, "tensors": tensors})

    def forward(self, handle: str, *args: Any, mode: str = "eval", key: str) -> Outcome:
        """Run a built module (in ``mode``: train or eval) on ``args``, without gradients.

        Args:
            handle: the module's handle, from ``build``.
            *args: its inputs, e.g. x (B, 1, 28, 28), t (B,) and c (B, 10).
            mode: "train" or "eval".
            key: names the request: once a request under it times out or ends the worker,
                later ones give that outcome at once.

        Returns:
            The outcome; its value is the module's output, on the CPU.
        """
        return self._request("forward", key, {"handle": handle, "args": list(args), "mode": mode})
