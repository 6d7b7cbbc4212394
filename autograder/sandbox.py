"""Running a submission's functions in a confined worker process (``autograder/worker.py``).

Longer than 300 lines because ``Sandbox`` is one life cycle (start, load, call, time,
restart, stop) whose steps share the worker's state; what stands apart is elsewhere:
the worker's processes in ``autograder.processes``, its confinement in
``autograder.confinement`` and ``autograder.allowlist``, its users in ``autograder.users``.

The worker is started under the grader's confinement (``autograder.confinement``):
as a uid of its own where the grader is root, under bubblewrap with an allowlist
of paths where that works. Everywhere it also runs with resource limits (data
segment, file size, CPU time, processes) in a session of its own, with a clean
environment built here, whose ``PYTHONPATH`` is the worker's whole import path ahead
of the interpreter's own: the student build, then the worker's code
(``autograder.worker``), then any package folder the grader reaches through a ``.pth``
file that bubblewrap does not show; neither grader nor worker edits ``sys.path``.

Nothing passes through the file system: the submission's code and each request
go to the worker's stdin, and each answer comes back on a pipe, as framed
``torch.save`` bytes read with ``weights_only=True``, so nothing the submission
sends can run code here, and no link it plants can make the grader write
anywhere. The worker's own folder (``scratch``) is its home and working folder.

Time is counted in CPU seconds of the worker's processes, so a loaded machine
does not cost a correct submission its points; a worker that waits without
computing (a sleep, a blocking read) is stopped after ``IDLE_SECONDS``. A worker
that dies, hangs or exits while loading the submission is not started again:
every later call gets that outcome at once. One that dies in a call is
restarted, at most ``RESTARTS`` times. A whole submission has a wall-clock
budget (``max_seconds``); past it, calls fail at once. When the sandbox closes,
every process of the worker is ended (by uid where it has its own, by PID
namespace and session otherwise) before anything is reported.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
import resource
import select
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autograder import users
from autograder.confinement import Confinement
from autograder.processes import CpuMeter, alive, descendants

if TYPE_CHECKING:
    import torch

PACKAGE = Path(__file__).resolve().parent
WORKER_FILES = (
    "worker.py",
    "helpers.py",
    "toys.py",
    "watched.py",
    "users.py",
)  # all of the grader the worker sees
MEMORY_BYTES = 6 * 2**30  # data segment: a memory bomb fails inside the worker
FILE_BYTES = 64 * 2**20  # largest file the worker may write (its output log included)
CPU_SECONDS = 1800  # the worker process's whole life
PROCESSES = 256  # a fork bomb stops here (counted per uid: exact where the worker has its own)
IDLE_SECONDS = 20.0  # a call that computes nothing for this long is stopped
LOAD_CPU_SECONDS = (
    15.0  # starting Python, torch and the student build; the submission's own code adds ``timeout``
)
RESTARTS = 8
HEADER_BYTES = 64 * 1024
ANSWER_BYTES = 256 * 2**20  # the checks' largest answer (a UNet's output) is a few MB
DIED = "the submission's process ended (exit, crash or memory limit)"


@dataclass
class Outcome:
    """What one call of a submitted function gave: a value, or an error, or nothing in time."""

    value: Any = None
    error: str | None = None  # exception type name, "Timeout", "WorkerDied" or "GradingTimeLimit"
    message: str = ""
    line: int | None = None
    off_device: bool = False  # a returned tensor was not on the grading device

    @property
    def ok(self) -> bool:
        """Whether the call returned a value."""
        return self.error is None


def _limits(uid: int | None, drop: bool, processes: int) -> None:
    """In the worker's process before it starts: a session of its own, limits, and (without bubblewrap) its uid."""
    os.setsid()
    resource.setrlimit(resource.RLIMIT_DATA, (MEMORY_BYTES, MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_BYTES, FILE_BYTES))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(
        resource.RLIMIT_NPROC, (processes, processes)
    )  # counted per uid (root's are not)
    if drop and uid is not None:
        users.drop_privileges(uid)


class _Channel:
    """Framed answers from the worker: a JSON header line, then ``size`` bytes."""

    def __init__(self, fd: int) -> None:
        self.fd, self.buffer = fd, b""

    def _fill(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return False
        chunk = os.read(self.fd, 1 << 20)
        if not chunk:
            raise EOFError
        self.buffer += chunk
        return True

    def frame(self, timeout: float) -> tuple[dict[str, Any], bytes] | None:
        """A whole frame if one arrives within ``timeout`` seconds, else None.

        Raises:
            EOFError: the worker closed its end.
            ValueError: a malformed frame.
        """
        end = time.monotonic() + timeout
        while True:
            if b"\n" in self.buffer:
                line, rest = self.buffer.split(b"\n", 1)
                header = json.loads(line)
                if not isinstance(header, dict):
                    raise ValueError("not a header")
                size = int(header.get("size", 0))
                if not 0 <= size <= ANSWER_BYTES:
                    raise ValueError("an answer too large")
                if len(rest) >= size:
                    self.buffer = rest[size:]
                    return header, rest[:size]
            elif len(self.buffer) > HEADER_BYTES:
                raise ValueError("a header too long")
            left = end - time.monotonic()
            if left <= 0 or not self._fill(left):
                return None


class Sandbox:
    """One submission's worker. Use as a context manager; ``call`` runs one function.

    Args:
        code: the submission's graded code (``autograder.submission.graded_code``), with the
            notebooks' imports before it.
        student_site: the student build of fundiff (no reference code); a verified read-only
            copy is made for the worker.
        confinement: how the worker is confined (``autograder.confinement.choose``).
        timeout: CPU seconds each call may take.
        device: where the submission's inputs are put and its code runs ("cpu", "cuda").
        threads: CPU threads the worker may use.
        line_offset: lines put before the student's code (error lines are counted in the student's code).
        max_seconds: wall-clock seconds for the whole submission.
    """

    def __init__(self, code: str, student_site: Path, *, confinement: Confinement, timeout: float = 30.0,
                 device: str = "cpu", threads: int = 1, line_offset: int = 0,
                 max_seconds: float = 600.0) -> None:  # fmt: skip
        self.code, self.site, self.confinement, self.timeout = (
            code,
            student_site,
            confinement,
            timeout,
        )
        self.device, self.threads, self.line_offset = device, threads, line_offset
        self.deadline = time.monotonic() + max_seconds
        self.max_seconds = max_seconds
        self.load_error: Outcome | None = None
        self.uid: int | None = None
        self._user: contextlib.ExitStack | None = None
        self._ids = itertools.count()
        self._proc: subprocess.Popen[bytes] | None = None
        self._channel: _Channel | None = None
        self._broken: dict[str, Outcome] = {}
        self._fatal: Outcome | None = None
        self._starts = 0
        self._loading = False

    # ---- life cycle

    def __enter__(self) -> Sandbox:
        from autograder.site import read_only_copy

        self._user = contextlib.ExitStack()
        try:
            if self.confinement.own_user:
                self.uid = self._user.enter_context(users.worker_user())
            self.home = Path(tempfile.mkdtemp(prefix="fundiff-grade-"))
            self.home.chmod(0o711)  # the worker may pass through, not list
            self.worker_dir = self.home / "worker"
            self.worker_dir.mkdir(mode=0o755)
            for name in WORKER_FILES:
                shutil.copy(PACKAGE / name, self.worker_dir / name)
                (self.worker_dir / name).chmod(0o444)
            self.worker_dir.chmod(0o555)
            self.copy = read_only_copy(self.site, self.home / "site")
            self.scratch = self.home / "scratch"
            self.scratch.mkdir(mode=0o700)
            if self.uid is not None:
                os.chown(self.scratch, self.uid, self.uid)
            self._start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._loading:
                self._loaded()
        finally:
            try:
                self._stop()
                if self.uid is not None:
                    users.sweep(self.uid)
                    users.remove_ipc(self.uid)
            finally:
                if getattr(self, "home", None) is not None:
                    # links inside are removed, never followed
                    shutil.rmtree(self.home, ignore_errors=True)
                if self._user is not None:
                    self._user.close()  # the uid is given back

    def _command(self, fd: int) -> list[str]:
        # not -I: its -E would drop PYTHONPATH, the worker's import path (``_start``'s environment)
        python = [sys.executable, "-s", "-P", str(self.worker_dir / "worker.py"), str(self.scratch), str(self.copy),
                  str(fd), self.device, "-" if self.uid is None or not self.confinement.bwrap else str(self.uid)]  # fmt: skip
        if not self.confinement.bwrap:
            return python
        from autograder.allowlist import bwrap_arguments

        options = bwrap_arguments(self.copy, self.scratch, self.worker_dir, gpu=self.device != "cpu",
                                  as_root=os.geteuid() == 0)  # fmt: skip
        return [self.confinement.bwrap, *options, "--chdir", str(self.scratch), *python]

    def _import_path(self) -> list[Path]:
        """The worker's import path ahead of the interpreter's own (its ``PYTHONPATH``): the student
        build, then the worker's code, then, under bubblewrap, the package folders that reach the
        grader through a ``.pth`` file the worker is not shown (``allowlist.linked_folders``)."""
        path = [self.copy, self.worker_dir]
        if self.confinement.bwrap:
            from autograder.allowlist import linked_folders

            path += linked_folders()
        return path

    def _start(self) -> None:
        read_fd, write_fd = os.pipe()
        env = {"PATH": "/usr/bin:/bin", "HOME": str(self.scratch), "TMPDIR": str(self.scratch),
               "OMP_NUM_THREADS": str(self.threads), "OMP_WAIT_POLICY": "PASSIVE", "LANG": "C.UTF-8", "MPLBACKEND": "Agg",
               "MPLCONFIGDIR": str(self.scratch), "USER": "student",
               "PYTHONPATH": os.pathsep.join(map(str, self._import_path()))}  # fmt: skip
        # under bubblewrap the worker drops to its uid itself
        drop = self.uid is not None and not self.confinement.bwrap
        # its own uid runs nothing else; sharing the grader's, it may add this many to what runs already
        processes = PROCESSES + (
            0 if self.uid is not None else len(users.processes_of(os.getuid()))
        )
        self._proc = subprocess.Popen(
            self._command(write_fd), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(write_fd,), env=env, cwd=self.scratch,
            preexec_fn=lambda: _limits(self.uid, drop, processes),
        )  # fmt: skip
        os.close(write_fd)
        self._channel = _Channel(read_fd)
        self._starts += 1
        # the code goes first (the worker reads it before it imports torch); if the worker died at
        # once, its load answer says so. That answer is read before the first request, so that this
        # process imports torch and the checks while the worker starts.
        with contextlib.suppress(OSError):
            self._send("load", "load", self.code.encode())
        self._loading = True

    def _loaded(self) -> None:
        """Wait for a started worker to load the submission; a death or hang there is final."""
        self._loading = False
        first = self._answer("load", LOAD_CPU_SECONDS + self.timeout)
        if first.error in ("Timeout", "WorkerDied", "GradingTimeLimit"):
            what = {"Timeout": "did not finish loading in time (an endless loop or a wait at the top level?)",
                    "WorkerDied": "ended its process while loading (exit, crash or memory limit)",
                    "GradingTimeLimit": first.message}[first.error]  # fmt: skip
            self._fatal = Outcome(
                error=first.error, message=f"your code {what}; nothing of it could be checked"
            )
            if self.load_error is None:
                self.load_error = self._fatal
        elif not first.ok and self.load_error is None:
            self.load_error = first

    def _ensure_started(self) -> Outcome | None:
        """Start a worker if none runs; the outcome to report where none may."""
        if self._loading:
            self._loaded()
        if self._fatal is None and self._proc is None:
            if self._starts > RESTARTS:
                self._fatal = Outcome(error="WorkerDied", message=f"your code ended its process {RESTARTS} times; "
                                      "no more calls were made")  # fmt: skip
            else:
                self._start()
                self._loaded()
        return self._fatal

    def _pids(self) -> list[int]:
        if self._proc is None:
            return []
        pids = [self._proc.pid, *descendants(self._proc.pid)]
        if self.uid is not None:
            pids += [p for p in users.processes_of(self.uid) if p not in pids]
        return pids

    def _stop(self) -> None:
        if self._proc is not None:
            inner = descendants(self._proc.pid)
            users.signal_group(self._proc.pid)
            self._proc.kill()
            self._proc.wait()
            if self.uid is not None:
                users.end_processes(self.uid)
            for pid in inner:  # a PID namespace's init exits only once every process in it is gone
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, 9)
            deadline = time.monotonic() + 30
            while any(alive(p) for p in inner) and time.monotonic() < deadline:
                time.sleep(0.02)
            with contextlib.suppress(OSError):
                self._proc.stdin.close()  # type: ignore[union-attr]
        if self._channel is not None:
            with contextlib.suppress(OSError):
                os.close(self._channel.fd)
        self._proc = self._channel = None

    # ---- the wire

    def _send(self, rid: str, op: str, payload: bytes) -> None:
        """Write one frame to the worker's stdin, waiting at most ``IDLE_SECONDS`` for it to take each part.

        Raises:
            OSError: the worker is gone, or took nothing for that long (stopped, or not reading).
        """
        assert self._proc is not None and self._proc.stdin is not None
        fd = self._proc.stdin.fileno()
        os.set_blocking(fd, False)
        data = memoryview(
            json.dumps({"id": rid, "op": op, "size": len(payload)}).encode() + b"\n" + payload
        )
        while data:
            _, ready, _ = select.select(
                [], [fd], [], min(IDLE_SECONDS, max(0.0, self.deadline - time.monotonic()))
            )
            if not ready:
                raise TimeoutError("the worker took no request")
            data = data[os.write(fd, data) :]

    def _answer(self, rid: str, cpu_limit: float) -> Outcome:
        """Wait for the answer to ``rid``, within ``cpu_limit`` CPU seconds, the idle limit and the budget."""
        if self._channel is None:
            return Outcome(
                error="WorkerDied",
                message=DIED,
            )
        meter = CpuMeter()
        last_cpu, idle_since = 0.0, time.monotonic()
        while True:
            try:
                got = self._channel.frame(min(0.2, max(0.0, self.deadline - time.monotonic())))
            except EOFError:
                self._stop()
                return Outcome(
                    error="WorkerDied",
                    message=DIED,
                )
            except ValueError:
                self._stop()
                return Outcome(error="WorkerDied", message="the submission's process sent garbage")
            if got is not None:
                return self._outcome(rid, *got)
            now, (cpu, busy) = time.monotonic(), meter.measure(self._pids())
            if now >= self.deadline:
                self._stop()
                return Outcome(error="GradingTimeLimit", message=f"the grading of this submission reached its "
                               f"limit of {self.max_seconds:.0f} s")  # fmt: skip
            if cpu > cpu_limit:
                self._stop()
                return Outcome(
                    error="Timeout", message=f"used more than {cpu_limit:.0f} s of CPU time"
                )
            if (
                cpu - last_cpu > 0.01 or busy
            ):  # computing, or waiting for the machine, not for itself
                last_cpu, idle_since = cpu, now
            elif now - idle_since > IDLE_SECONDS:
                self._stop()
                return Outcome(
                    error="Timeout", message=f"waited {IDLE_SECONDS:.0f} s without computing"
                )

    def _outcome(self, rid: str, answer: dict[str, Any], payload: bytes) -> Outcome:
        if answer.get("id") != rid:
            self._stop()
            return Outcome(
                error="WorkerDied", message="the submission's process answered out of turn"
            )
        if not answer.get("ok"):
            line = answer.get("line")
            return Outcome(error=str(answer.get("error"))[:100], message=str(answer.get("message", ""))[:500],
                           line=line - self.line_offset if isinstance(line, int) else None)  # fmt: skip
        if not payload:
            return Outcome()
        import torch  # imported once the worker starts, so that both start at once

        try:
            value = torch.load(io.BytesIO(payload), weights_only=True)
        except Exception as err:  # noqa: BLE001 (whatever the bytes hold, it is the submission's fault)
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

        from autograder.helpers import on_wire

        rid = str(next(self._ids))
        data = io.BytesIO()
        torch.save(on_wire(payload), data)
        try:
            self._send(rid, op, data.getvalue())
        except TimeoutError:
            self._stop()
            outcome = Outcome(
                error="Timeout", message=f"it took no request for {IDLE_SECONDS:.0f} s"
            )
        except OSError:
            self._stop()
            outcome = Outcome(error="WorkerDied", message=DIED)
        else:
            outcome = self._answer(rid, self.timeout)
        if outcome.error in ("Timeout", "WorkerDied", "GradingTimeLimit"):
            self._broken[key] = outcome
        return outcome

    # ---- what the checks call

    def call(self, name: str, *args: Any, then: tuple[Any, ...] | None = None, run_on: str | None = None,
             **kwargs: Any) -> Outcome:  # fmt: skip
        """Call the submission's ``name`` with tensors, numbers and ``Helper`` arguments.

        Args:
            name: the function defined in the submission.
            *args: its positional arguments.
            then: arguments for calling what ``name`` returns (a predictor it builds).
            run_on: the device its inputs and helpers go to for this call (e.g. "meta": no
                values, but a tensor made on another device shows); None: the grading device.
            **kwargs: its keyword arguments.

        Returns:
            The outcome: the value as plain data (tensors on the CPU), or the error, a
            timeout or the worker's death; after a timeout or death, later calls of
            ``name`` give the same outcome at once.
        """
        payload = {"name": name, "args": list(args), "kwargs": kwargs, "run_on": run_on,
                   "then": None if then is None else {"args": list(then), "kwargs": {}}}  # fmt: skip
        return self._request("call", f"{name}@{run_on}" if run_on else name, payload)

    def build(self, name: str, *args: Any, seed: int = 0, run_on: str | None = None) -> Outcome:
        """Construct the submission's module class ``name(*args)`` with torch seeded by ``seed``.

        Args:
            name: the ``nn.Module`` class defined in the submission.
            *args: its constructor's arguments.
            seed: seeds torch before construction.
            run_on: the device the module is moved to (e.g. "meta"); None: the grading device.

        Returns:
            The outcome; its value is ``{"handle", "parameters", "buffers"}`` (shapes in
            creation order).
        """
        payload = {"name": name, "args": list(args), "seed": seed, "run_on": run_on}
        return self._request("build", f"{name}@{run_on}" if run_on else name, payload)

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

    def forward(
        self, handle: str, *args: Any, mode: str = "eval", key: str, run_on: str | None = None
    ) -> Outcome:
        """Run a built module (in ``mode``: train or eval) on ``args``, without gradients.

        Args:
            handle: the module's handle, from ``build``.
            *args: its inputs, e.g. x (B, 1, 28, 28), t (B,) and c (B, 10).
            mode: "train" or "eval".
            key: names the request: once a request under it times out or ends the worker,
                later ones give that outcome at once.
            run_on: the device its inputs go to (that of a module built with ``run_on``).

        Returns:
            The outcome; its value is the module's output, on the CPU (on "meta" there).
        """
        payload = {"handle": handle, "args": list(args), "mode": mode, "run_on": run_on}
        return self._request("forward", f"{key}@{run_on}" if run_on else key, payload)
