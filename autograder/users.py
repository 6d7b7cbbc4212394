"""The worker's own user: a uid held by one submission at a time, its processes ended, its files swept.

A root grader runs each submission as a uid of its own from ``UID_RANGE``: no
account has it, no process runs as it, and a lock file (in a folder only root
can write) keeps two graders from taking the same one. Since nothing else runs
as that uid, "every process of the uid" is exactly the submission's processes,
however they detached, and "every file of the uid" in the machine's
world-writable folders is exactly what it left there; so are the System V shared
memory segments, semaphore sets and message queues of the uid, which outlive their
processes and are no files (a worker without bubblewrap shares the machine's IPC
namespace; under bubblewrap they end with its own).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import pwd
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

UID_RANGE = range(62000, 63000)  # no Debian or Ubuntu account is allocated here
LOCKS = Path("/run/fundiff-grade") if Path("/run").is_dir() else Path("/var/run/fundiff-grade")
PR_SET_NO_NEW_PRIVS = 38
_LIBC = ctypes.CDLL(None, use_errno=True)  # loaded here, not in a forked child
TRUE = (
    shutil.which("true", path="/usr/bin:/bin") or "/bin/true"
)  # what the killing child execs at last
# where any user may create files; what a worker left there is removed when it ends
SHARED_FOLDERS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock", "/dev/mqueue")
# System V IPC, as /proc/sysvipc lists it: kind -> its id column
SYSV_IPC = {"shm": "shmid", "sem": "semid", "msg": "msqid"}
IPC_RMID = 0


class NoUserError(RuntimeError):
    """No uid of ``UID_RANGE`` is free."""


def _uids_in_use() -> set[int]:
    """Real uids of the running processes (from /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                found.add(entry.stat().st_uid)
    return found


@contextlib.contextmanager
def worker_user(uids: range = UID_RANGE) -> Iterator[int]:
    """Hold a uid that no account, no running process and no other grader uses; yields it.

    Args:
        uids: where to look.

    Yields:
        The uid, locked for this grader until the context ends.

    Raises:
        NoUserError: every uid of ``uids`` is taken.
    """
    LOCKS.mkdir(mode=0o700, parents=True, exist_ok=True)
    accounts = {p.pw_uid for p in pwd.getpwall()}
    running = _uids_in_use()
    for uid in uids:
        if uid in accounts or uid in running:
            continue
        fd = os.open(LOCKS / f"{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        try:
            end_processes(uid)  # a grader killed earlier may have left some
            sweep(uid)
            remove_ipc(uid)
            yield uid
        finally:
            os.close(fd)
        return
    raise NoUserError(f"no free uid in {uids.start}-{uids.stop - 1} for the worker")


def drop_privileges(uid: int) -> None:
    """Become ``uid`` (group ``uid``, no supplementary groups) for good; no setuid program can raise it back.

    Args:
        uid: the worker's uid.
    """
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    if _LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")


def processes_of(uid: int) -> list[int]:
    """Pids of the processes whose real uid is ``uid`` (zombies excluded).

    Args:
        uid: the uid.

    Returns:
        The pids.
    """
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("State", "").strip().startswith("Z"):
            continue
        if int(fields.get("Uid", "-1").split()[0]) == uid:
            found.append(int(entry.name))
    return found


def end_processes(uid: int, wait: float = 30.0) -> bool:
    """Kill every process of ``uid`` and wait until none is left.

    A child of the grader becomes ``uid`` and sends SIGKILL to every process it may
    signal (its own uid's, wherever they are and whatever session they started),
    until /proc shows none. It needs nothing on disk that ``uid`` might not reach.

    Args:
        uid: the worker's uid (never 0).
        wait: seconds to wait at most.

    Returns:
        Whether none is left.
    """
    if uid == 0:
        raise ValueError("refusing to end the processes of root")
    deadline = time.monotonic() + wait
    while processes_of(uid):
        with contextlib.suppress(OSError):  # the child's work is done before it would exec
            subprocess.run([TRUE], preexec_fn=lambda: _kill_all_as(uid), stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)  # fmt: skip
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _kill_all_as(uid: int) -> None:
    drop_privileges(uid)
    os.kill(-1, signal.SIGKILL)  # every process of uid but this one


def sweep(uid: int, folders: tuple[str, ...] = SHARED_FOLDERS) -> list[str]:
    """Remove what ``uid`` owns in the machine's shared folders (files, links, folders), without following links.

    Args:
        uid: the worker's uid.
        folders: the folders to search, recursively.

    Returns:
        The paths removed.
    """
    removed: list[str] = []

    def walk(folder: str) -> None:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            return
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if info.st_uid == uid:
                _remove(entry.path, info)
                removed.append(entry.path)
            elif stat.S_ISDIR(info.st_mode):
                walk(entry.path)

    for folder in folders:
        walk(folder)
    return removed


def ipc_of(uids: range | list[int]) -> dict[str, list[int]]:
    """The System V IPC objects that a uid of ``uids`` owns or created, by kind.

    Args:
        uids: the uids.

    Returns:
        For "shm", "sem" and "msg", the ids of such objects (none where /proc/sysvipc is missing).
    """
    found: dict[str, list[int]] = {}
    for kind, id_column in SYSV_IPC.items():
        try:
            header, *rows = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()
        except (OSError, ValueError):
            found[kind] = []
            continue
        columns = [dict(zip(header.split(), row.split(), strict=False)) for row in rows]
        found[kind] = [int(c[id_column]) for c in columns
                       if int(c["uid"]) in uids or int(c["cuid"]) in uids]  # fmt: skip
    return found


def remove_ipc(uid: int) -> list[str]:
    """Remove the System V shared memory segments, semaphore sets and message queues ``uid`` owns or created.

    Args:
        uid: the worker's uid (never 0).

    Returns:
        What was removed, as "kind id".
    """
    if uid == 0:
        raise ValueError("refusing to remove the IPC objects of root")
    # shmctl(id, cmd, buf), semctl(id, semnum, cmd), msgctl(id, cmd, buf)
    remove = {"shm": lambda i: _LIBC.shmctl(i, IPC_RMID, None), "sem": lambda i: _LIBC.semctl(i, 0, IPC_RMID),
              "msg": lambda i: _LIBC.msgctl(i, IPC_RMID, None)}  # fmt: skip
    return [
        f"{kind} {i}" for kind, ids in ipc_of([uid]).items() for i in ids if remove[kind](i) == 0
    ]


def _remove(path: str, info: os.stat_result) -> None:
    with contextlib.suppress(OSError):
        if stat.S_ISDIR(info.st_mode):
            shutil.rmtree(path)  # never follows links (it works on file descriptors)
        else:
            os.unlink(path)


def signal_group(pid: int) -> None:
    """SIGKILL the process group ``pid`` leads, if it is still there.

    Args:
        pid: the leader's pid.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
