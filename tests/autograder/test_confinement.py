"""Does the grader choose a real confinement or refuse, and do its parts (users, allowlist, copies,
redaction) hold on their own?"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autograder import confinement, users
from autograder.redact import clean

ROOT = Path(__file__).resolve().parents[2]
root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs a root grader")


def test_where_no_confinement_works_the_grader_refuses_in_one_line(
    monkeypatch, capsys, tmp_path
) -> None:
    """Does a grader that is not root and has no bubblewrap refuse, saying what to install, with exit 2?"""
    from autograder.cli import main

    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setenv("FUNDIFF_GRADE_BWRAP", "none")
    submission = tmp_path / "s.py"
    submission.write_text("x = 1\n")
    assert main([str(submission), "--out", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bubblewrap" in err[0] and "--unconfined" in err[0]
    assert not (tmp_path / "r.json").exists()


def test_unconfined_is_chosen_only_when_asked_and_says_so() -> None:
    """Is --unconfined never a fallback, and does its description say the rights it ran with?"""
    chosen = confinement.choose(unconfined=True)
    assert not chosen.confined and "UNCONFINED" in chosen.describe()
    if os.geteuid() == 0:
        assert confinement.choose().confined


@root_only
def test_a_root_grader_without_bubblewrap_refuses_while_the_reference_is_readable(
    monkeypatch, tmp_path
) -> None:
    """Does the probe, run as a worker's user, name a readable part of the repository?"""
    from tests.autograder.settings import setting

    with setting("own_user") as env:
        for path in confinement.repository():  # what the instructor has not yet done
            path.chmod(path.stat().st_mode | 0o005)
        done = subprocess.run([sys.executable, "-m", "autograder.cli", "--check-confinement", "--out",
                               str(tmp_path / "r.json")], env=env, capture_output=True, text=True, cwd="/")  # fmt: skip
    assert done.returncode == 2
    line = done.stderr.strip()
    assert "\n" not in line and "can reach" in line and str(ROOT) in line and "chmod" in line


@root_only
def test_a_worker_user_is_its_own_and_everything_of_it_ends(tmp_path) -> None:
    """Do two graders get different uids, and are a detached process and a left file of one removed?"""
    with users.worker_user() as first, users.worker_user() as second:
        assert first != second and first in users.UID_RANGE and second in users.UID_RANGE
        proc = subprocess.Popen(
            ["sleep", "300"], preexec_fn=lambda: (os.setsid(), users.drop_privileges(first))
        )
        folder = tmp_path / "shared"
        folder.mkdir()
        folder.chmod(0o1777)
        planted = folder / "left.txt"
        planted.write_text("x")
        os.chown(planted, first, first)
        assert users.processes_of(first) == [proc.pid]
        assert users.end_processes(first)
        proc.wait(timeout=10)
        assert users.processes_of(first) == []
        assert users.sweep(first, (str(folder),)) == [str(planted)] and not planted.exists()


LEAVE_IPC = """
import ctypes, sys
from autograder import users
users.drop_privileges(int(sys.argv[1]))
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
segment = libc.shmget(0, 1 << 20, 0o1600)  # IPC_PRIVATE, IPC_CREAT | 0600
address = libc.shmat(segment, None, 0)
ctypes.memset(address, 1, 1 << 20)  # its pages are now the machine's until it is removed
libc.shmdt(ctypes.c_void_p(address))
print(segment, libc.semget(0, 2, 0o1600), libc.msgget(0, 0o1600))
"""


@root_only
@pytest.mark.skipif(
    not Path("/proc/sysvipc/shm").is_file(), reason="this kernel lists no System V IPC"
)
def test_what_a_worker_user_leaves_in_system_v_ipc_is_removed() -> None:
    """Are the shared memory segment, semaphore set and message queue a worker's uid left removed, and
    only they?"""
    with users.worker_user() as uid, users.worker_user() as other:
        done = subprocess.run([sys.executable, "-c", LEAVE_IPC, str(uid)], capture_output=True, text=True,
                              check=True, cwd=ROOT)  # fmt: skip
        shm, sem, msg = map(int, done.stdout.split())
        assert min(shm, sem, msg) >= 0, done.stdout
        kept = subprocess.run([sys.executable, "-c", LEAVE_IPC, str(other)], capture_output=True, text=True,
                              check=True, cwd=ROOT)  # fmt: skip
        assert users.ipc_of([uid]) == {"shm": [shm], "sem": [sem], "msg": [msg]}
        assert sorted(users.remove_ipc(uid)) == sorted([f"shm {shm}", f"sem {sem}", f"msg {msg}"])
        assert users.ipc_of([uid]) == {"shm": [], "sem": [], "msg": []}
        left = dict(
            zip(("shm", "sem", "msg"), ([int(i)] for i in kept.stdout.split()), strict=True)
        )
        assert users.ipc_of([other]) == left
        users.remove_ipc(other)
    assert users.ipc_of(users.UID_RANGE) == {"shm": [], "sem": [], "msg": []}


def test_the_allowlist_shows_no_copy_of_fundiff_or_the_autograder() -> None:
    """Does the worker's view of the Python packages leave out fundiff, the autograder and unneeded packages?"""
    from autograder.allowlist import needed_distributions, package_entries

    names = {d.metadata["Name"].lower() for d in needed_distributions()}
    assert {"torch", "numpy", "matplotlib"} <= names and "fundiff" not in names
    assert "nbgrader" not in names and "pytest" not in names
    shown = [p for entries in package_entries().values() for p in entries]
    assert shown and not any(p.name.split("-")[0].split(".")[0] in ("fundiff", "autograder", "__editable__")
                             for p in shown)  # fmt: skip


@pytest.mark.skipif(confinement.choose(unconfined=False).bwrap is None if os.geteuid() == 0 else True,
                    reason="needs bubblewrap and a root grader")  # fmt: skip
def test_under_bubblewrap_the_worker_sees_the_allowlist_only(tmp_path) -> None:
    """Inside the worker's bubblewrap, are the repository's reference, the grader's caches and another
    checkout absent, while torch imports? (Folders on the way to the runtime are there, empty.)"""
    from autograder.allowlist import bwrap_arguments

    other = tmp_path / "elsewhere"
    other.mkdir()
    scratch, site, worker = (tmp_path / n for n in ("scratch", "site", "worker"))
    for folder in (scratch, site, worker):
        folder.mkdir()
    hidden = [ROOT / "fundiff" / "objectives" / "flow.py", ROOT / "solutions", ROOT / ".git", Path.home() / ".cache", other,
              tmp_path / "site" / ".." / "elsewhere"]  # fmt: skip
    assert (
        hidden[0].is_file() and hidden[1].is_dir() and other.is_dir()
    )  # else absence proves nothing
    probe = ("import os, sys, json, torch\n"
             f"print(json.dumps([os.path.exists(p) for p in {[str(p) for p in hidden]!r}]))")  # fmt: skip
    bwrap = confinement.choose().bwrap
    args = bwrap_arguments(site, scratch, worker, gpu=False, as_root=True)
    done = subprocess.run(
        [bwrap, *args, sys.executable, "-I", "-c", probe],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == [False] * len(hidden)


def _site(tmp_path: Path) -> Path:
    from autograder.site import _manifest_path, digests

    site = tmp_path / "student-0123456789abcdef"
    (site / "fundiff").mkdir(parents=True)
    (site / "fundiff" / "__init__.py").write_text("")
    _manifest_path(site).write_text(json.dumps(digests(site)))
    return site


def test_the_workers_copy_of_the_student_build_is_read_only_and_checked(tmp_path) -> None:
    """Is the copy read-only, and is a build changed after it was made refused (a file changed or added)?"""
    from autograder.site import read_only_copy

    site = _site(tmp_path)
    copy = read_only_copy(site, tmp_path / "copy")
    assert not os.stat(copy / "fundiff" / "__init__.py").st_mode & 0o222
    (site / "fundiff" / "__init__.py").write_text("raise SystemExit\n")
    with pytest.raises(RuntimeError, match="not as it was built"):
        read_only_copy(site, tmp_path / "copy2")
    (site / "fundiff" / "__init__.py").write_text("")
    (site / "sitecustomize.py").write_text("print('planted')\n")
    with pytest.raises(RuntimeError, match="not as it was built"):
        read_only_copy(site, tmp_path / "copy3")
    assert not (tmp_path / "copy3").exists()


@given(secret=st.text(alphabet="abcdefXYZ0123456789-_", min_size=6, max_size=30),
       before=st.text(max_size=200), after=st.text(max_size=200))  # fmt: skip
def test_feedback_never_holds_an_environment_value_or_a_machine_path(secret, before, after) -> None:
    """Whatever text surrounds them, are the grader's environment values and absolute paths withheld, and
    is the message capped?"""
    text = clean(
        f"{before} {secret} /srv/course/solutions/part_a.py {after}", environ={"TOKEN": secret}
    )
    assert secret not in text.replace("<withheld>", "") or secret in "<withheld><path>"
    assert "/srv/course" not in text and len(text) <= 600


def test_a_results_file_replaces_a_planted_link_instead_of_following_it(tmp_path) -> None:
    """Does writing results over a link leave the link's target untouched?"""
    from autograder.cli import write_results

    target = tmp_path / "target.txt"
    target.write_text("keep")
    (tmp_path / "r.json").symlink_to(target)
    write_results(tmp_path / "r.json", {"score": 1, "tests": []})
    assert target.read_text() == "keep" and not (tmp_path / "r.json").is_symlink()
    assert json.loads((tmp_path / "r.json").read_text())["score"] == 1


def test_a_submission_is_read_once_and_a_link_is_refused(tmp_path) -> None:
    """Is a submission that is a link (to the solutions, say) refused by name?"""
    from autograder.submission import SubmissionError, graded_code

    link = tmp_path / "mine.ipynb"
    link.symlink_to(ROOT / "solutions" / "part_b" / "part_b.ipynb")
    with pytest.raises(SubmissionError, match="link"):
        graded_code(link)
    fifo = tmp_path / "fifo.py"
    os.mkfifo(fifo)
    start = time.monotonic()
    with pytest.raises(SubmissionError, match="not a regular file"):
        graded_code(fifo)
    assert time.monotonic() - start < 5
