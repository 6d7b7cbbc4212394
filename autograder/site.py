"""The submission's view of fundiff: the student build, made once per fundiff version and cached.

Each change to fundiff or the notebooks makes a new build (about 35 MB). A build
is touched whenever a grader uses it, and builds that no grader has used for a
day are removed when a new one is made, so the cache holds what is in use.
Beside each build lies the SHA-256 of each of its files; every submission's
worker gets a read-only copy of the build checked against them, so nothing a
worker (or anything else) changed in the cache can reach the next submission.
"""

from __future__ import annotations

import ast
import compileall
import contextlib
import functools
import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from autograder.course import graded, student
from autograder.course.graded import notebook_imports

STALE_SECONDS = 24 * 3600  # a build unused this long is removed when another is made


@functools.cache
def student_site(cache: Path | None = None) -> Path:
    """A folder holding the student build of fundiff (graded bodies stubbed), built on first use.

    Args:
        cache: the folder of built sites; None: ``~/.cache/fundiff/autograder``.

    Returns:
        The site, ``cache / "student-HASH"``, HASH from fundiff's sources, the graded
        table and the code that builds the site.
    """
    digest = hashlib.sha256()
    sources = sorted(student.fundiff_folder().rglob("*.py"))
    for path in [*sources, graded.TABLE, Path(student.__file__), Path(__file__)]:
        digest.update(path.read_bytes())
    from fundiff.diffusion.rules import course_rule

    digest.update(course_rule().encode())  # FUNDIFF_RULE changes the build
    cache = cache or Path.home() / ".cache" / "fundiff" / "autograder"
    site = cache / f"student-{digest.hexdigest()[:16]}"
    if not ((site / "fundiff" / "__init__.py").is_file() and _manifest_path(site).is_file()):
        cache.mkdir(parents=True, exist_ok=True)
        partial = Path(
            tempfile.mkdtemp(prefix=site.name + ".", dir=cache)
        )  # graders building at once each get one
        try:
            student.student_package(partial)
            _grading_assets(partial / "grading")
            # bytecode compiled once here: the worker may not write beside the sources, and would
            # otherwise compile the whole student build each time it starts
            compileall.compile_dir(partial, quiet=1, workers=1)
            shutil.rmtree(site, ignore_errors=True)
            _manifest_path(site).write_text(json.dumps(digests(partial)))
            partial.rename(site)
        except OSError:
            if not _manifest_path(site).is_file():
                raise
        finally:
            shutil.rmtree(partial, ignore_errors=True)
        remove_stale_sites(cache, keep=site)
    with contextlib.suppress(OSError):  # a read-only cache is used as it is
        os.utime(site)  # in use: a grader of this version is starting
    return site


def _manifest_path(site: Path) -> Path:
    return site.with_name(site.name + ".sha256.json")


def digests(folder: Path) -> dict[str, str]:
    """The SHA-256 of every file under ``folder``, by relative path; links are refused.

    Args:
        folder: a student build, or a copy of one.

    Returns:
        A dict from relative path to hex digest.

    Raises:
        RuntimeError: the folder holds a link or something else than files and folders.
    """
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            raise RuntimeError(
                f"the student build {folder} holds {path.relative_to(folder)}, not a plain file"
            )
        if path.is_file():
            found[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def read_only_copy(site: Path, dest: Path) -> Path:
    """Copy the student build ``site`` to ``dest``, read-only for everyone, checked file by file.

    Args:
        site: a build made by ``student_site``.
        dest: a folder that does not exist yet.

    Returns:
        ``dest``.

    Raises:
        RuntimeError: the copy differs from the digests recorded when the build was made
            (a file changed, added or removed).
    """
    shutil.copytree(site, dest, symlinks=True)
    want = json.loads(_manifest_path(site).read_text()) if _manifest_path(site).is_file() else None
    have = digests(dest)
    if want is None or have != want:
        changed = sorted(set(have.items()) ^ set((want or {}).items()))
        shutil.rmtree(dest, ignore_errors=True)
        raise RuntimeError(f"the student build {site} is not as it was built ({changed[:1] or 'no digests'}); "
                           "remove it, and the grader builds it again")  # fmt: skip
    for path in [dest, *dest.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    return dest


def remove_stale_sites(cache: Path, keep: Path, stale_seconds: float = STALE_SECONDS) -> list[Path]:
    """Remove the student builds (and left-over partial ones) in ``cache`` unused for ``stale_seconds``.

    Args:
        cache: the folder of built sites.
        keep: the site that stays whatever its age (the one just built).
        stale_seconds: how long since a build was last used (its folder's modification
            time, which ``student_site`` touches) before it is removed.

    Returns:
        The folders removed.
    """
    now, removed = time.time(), []
    for other in cache.glob("student-*"):
        if other.name.endswith(".sha256.json"):
            continue
        try:
            old = other != keep and other.is_dir() and now - other.stat().st_mtime > stale_seconds
        except OSError:  # removed meanwhile by another grader
            continue
        if old:
            shutil.rmtree(other, ignore_errors=True)
            _manifest_path(other).unlink(missing_ok=True)
            removed.append(other)
    return removed


def _grading_assets(folder: Path) -> None:
    """Models the checks hand to submissions, as ``torch.export`` programs the worker can run without
    fundiff's reference code: the shipped class-conditioned flow UNet."""
    from fundiff.assets import asset_path
    from fundiff.backends.mnist_weights import export_network
    from fundiff.training.weights import load_exported_model

    folder.mkdir(parents=True)
    model = load_exported_model(asset_path("mnist_flow_class.safetensors"), "cpu")[1]
    export_network(model.float(), folder / "mnist_flow_class.pt2")


def preamble(code: str) -> str:
    """The notebooks' imports that ``code`` (a submission's graded code) uses, for it to run on.

    Only the imports of names the code mentions are kept: each costs the worker
    time to start (matplotlib, widgets), and most graded code needs few of them.

    Args:
        code: the submission's graded code.

    Returns:
        Python source: ``from __future__ import annotations`` and each import, guarded
        against ImportError.
    """
    try:
        used = {n.id for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Name)}
    except SyntaxError:
        used = set()
    lines = ["from __future__ import annotations"]
    for node in notebook_imports():
        bound = {(a.asname or a.name).split(".")[0] for a in node.names}  # type: ignore[attr-defined]
        if bound & used:
            # each guarded: a display-only import (IPython) may be absent where grading runs
            lines.append(f"try:\n    {ast.unparse(node)}\nexcept ImportError:\n    pass")
    return "\n".join(lines) + "\n"
