"""How a submission is confined here, chosen once per grader, and refused where none is available.

Three confinements, strongest first:

- **bubblewrap as root**: the worker sees only an allowlist of paths
  (``autograder.allowlist``), has no network, its own PID namespace, and runs as a
  uid of its own (``autograder.users``);
- **bubblewrap** (a grader that is not root): the same allowlist and namespaces, as
  the grader's uid mapped in a user namespace;
- **own user** (root where bubblewrap cannot run, as in Gradescope's Docker image):
  the worker runs as a uid of its own. The grader's installation and caches are
  made unreadable to other users, and before grading a probe run as that uid
  checks that no reference source the grader knows of, and no results folder, is
  open to it.

Where none works the grader refuses; ``unconfined`` (``--unconfined``) grades
without confinement, and the results say so.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from autograder.users import drop_privileges

PACKAGE = Path(__file__).resolve().parent
REPOSITORY_ENTRIES = (
    "solutions",
    "tests",
    ".git",
    "docs",
    "build",
    "dist",
    "fundiff",
    "autograder",
)
INSTALL_HINT = ("install bubblewrap (apt-get install bubblewrap) where user namespaces are allowed, or run the "
                "grader as root (each submission then runs as a user of its own); --unconfined grades without "
                "confinement")  # fmt: skip


class ConfinementError(RuntimeError):
    """No confinement can be used; the message is one line saying what to do."""


@dataclass(frozen=True)
class Confinement:
    """How workers run: under ``bwrap`` (its path) or not, and as their own uid (root graders) or not."""

    bwrap: str | None
    own_user: bool
    why: str = ""  # why a weaker one was chosen

    @property
    def confined(self) -> bool:
        """Whether the worker is confined at all."""
        return self.bwrap is not None or self.own_user

    def describe(self) -> str:
        """One line for results.json and the summary."""
        if not self.confined:
            return "UNCONFINED (--unconfined): the submission ran with the grader's rights"
        parts = []
        if self.bwrap:
            parts.append("bubblewrap (allowlisted paths, no network, own PID namespace)")
        if self.own_user:
            parts.append("its own user")
        return "confined: " + " as ".join(parts) + (f"; {self.why}" if self.why else "")


def bwrap_problem(bwrap: str, as_root: bool) -> str | None:
    """Why ``bwrap`` cannot start a confined process with the namespaces the worker uses, or None.

    Args:
        bwrap: the program's path.
        as_root: it runs as root (no user namespace).

    Returns:
        bubblewrap's own first line of complaint, or None where it works.
    """
    args = [bwrap, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--die-with-parent",
            "--new-session", "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev"]  # fmt: skip
    if not as_root:
        args.append("--unshare-user")
    try:
        done = subprocess.run([*args, "true"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as err:
        return str(err)
    if done.returncode == 0:
        return None
    return (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[0]


def choose(unconfined: bool = False) -> Confinement:
    """The strongest confinement that works here.

    bubblewrap is the ``bwrap`` found on PATH, or the program ``$FUNDIFF_GRADE_BWRAP``
    names ("none": do without it).

    Args:
        unconfined: grade without confinement (never chosen otherwise).

    Returns:
        The confinement.

    Raises:
        ConfinementError: none works (one line: what to install or enable).
    """
    if unconfined:
        return Confinement(None, False)
    root = os.geteuid() == 0
    wanted = os.environ.get("FUNDIFF_GRADE_BWRAP", "")
    bwrap = None if wanted == "none" else shutil.which(wanted or "bwrap")
    problem = ("not used (FUNDIFF_GRADE_BWRAP=none)" if wanted == "none" else
               "bubblewrap is not installed" if bwrap is None else bwrap_problem(bwrap, root))  # fmt: skip
    if problem is None:
        return Confinement(str(Path(bwrap).resolve()), root)  # type: ignore[arg-type]
    if root:
        return Confinement(None, True, why=f"no bubblewrap ({problem})")
    raise ConfinementError(
        f"no confinement for submissions here: bubblewrap cannot run ({problem}); {INSTALL_HINT}"
    )


def installation() -> list[Path]:
    """Every copy of the grader's own code this Python can see: fundiff's and the autograder's packages as
    imported, and as installed in each of its package folders (a non-editable install is a full copy)."""
    import fundiff
    from autograder.allowlist import site_folders

    found = [Path(fundiff.__file__).resolve().parent, PACKAGE]
    for folder in [*site_folders(), *(Path(p) for p in sys.path if p)]:
        for name in ("fundiff", "autograder"):
            path = (folder / name).resolve()
            if path.is_dir() and path not in found:
                found.append(path)
    return found


def _sources() -> list[Path]:
    """Where the grader's code came from: the checkout it runs from, and the folder pip installed it from."""
    import importlib.metadata

    roots = [PACKAGE.parent]
    with contextlib.suppress(importlib.metadata.PackageNotFoundError, TypeError, ValueError):
        url = json.loads(
            importlib.metadata.distribution("fundiff").read_text("direct_url.json") or "{}"
        )
        if str(url.get("url", "")).startswith("file://"):
            roots.append(Path(url["url"].removeprefix("file://")).resolve())
    return roots


def repository() -> list[Path]:
    """The reference-bearing entries of the repositories the grader runs from or was installed from."""
    found: list[Path] = []
    for root in _sources():
        if (root / "solutions").is_dir() or (root / ".git").exists():
            found += [
                root / name
                for name in REPOSITORY_ENTRIES
                if (root / name).exists() and root / name not in found
            ]
    return found


def protect(paths: list[Path]) -> None:
    """Take every permission of group and others off ``paths`` (the grader's own code and caches).

    Args:
        paths: folders or files owned by the grader.
    """
    for path in paths:
        if path.exists() and path.stat().st_uid == os.geteuid():
            path.chmod(path.stat().st_mode & 0o700)


PROBE = """
import json, os, sys
open_ = []
for path, want in json.loads(sys.argv[1]):
    try:
        if want == "write":
            ok = os.access(path, os.W_OK)
        elif os.path.isdir(path):
            os.listdir(path); ok = True
        else:
            open(path, "rb").read(1); ok = True
    except OSError:
        ok = False
    if ok:
        open_.append(path)
print(json.dumps(open_))
"""


def open_to(uid: int, paths: list[tuple[Path, str]], python: str = sys.executable) -> list[str]:
    """Which of ``paths`` the user ``uid`` can read (or write, for "write"), asked as that user.

    Args:
        uid: the worker's uid.
        paths: (path, "read" or "write") pairs.
        python: the interpreter the worker runs.

    Returns:
        The paths open to it.

    Raises:
        ConfinementError: the user cannot run ``python`` at all.
    """
    spec = json.dumps([(str(p), want) for p, want in paths])
    try:
        done = subprocess.run([python, "-I", "-S", "-c", PROBE, spec], preexec_fn=lambda: drop_privileges(uid),
                              capture_output=True, text=True, timeout=60, cwd="/")  # fmt: skip
    except (OSError, subprocess.SubprocessError) as err:
        done = None
        reason = str(err)
    else:
        reason = (done.stderr.strip().splitlines() or [""])[-1]
    if done is None or done.returncode != 0:
        blocked = next((str(p) for p in Path(python).resolve().parents
                        if p.exists() and not p.stat().st_mode & 0o001), str(Path(python).resolve()))  # fmt: skip
        raise ConfinementError(f"the worker's user cannot run {python} ({reason or 'permission denied'}): "
                               f"let other users pass through {blocked} (chmod o+x), or install Python "
                               "where other users can run it")  # fmt: skip
    return json.loads(done.stdout)


def check_open(uid: int, results: list[Path]) -> None:
    """Refuse if the user ``uid`` can read a reference source or the caches, or read or write a results folder.

    Args:
        uid: the worker's uid.
        results: the folders results are written to.

    Raises:
        ConfinementError: one line naming the first such path and what to do.
    """
    secret = [(p, "read") for p in [*installation(), *repository(), cache_root()]]
    folders = [(p, want) for p in results for want in ("read", "write")]
    for path in open_to(uid, secret + folders):
        raise ConfinementError(f"the worker's user can reach {path}: protect it (chmod -R o-rwx {path}) "
                               "or grade where bubblewrap works")  # fmt: skip


def cache_root() -> Path:
    """The grader's cache of student builds."""
    return Path.home() / ".cache" / "fundiff" / "autograder"
