"""What a worker under bubblewrap sees: an allowlist of paths, nothing else of the machine.

The worker needs the system's libraries, the Python runtime, the packages the
student build of fundiff imports (torch and what it needs, matplotlib, tqdm,
safetensors, and theirs), the student build and its scratch folder. Every
Python package folder (site-packages, dist-packages) is shown with only those
packages in it: fundiff and the autograder themselves, other courses' copies,
and any other package installed beside them stay out of sight, and so does
every folder of the machine that is not listed here (homes, checkouts, /srv,
/opt, /var, mounted data).
"""

from __future__ import annotations

import functools
import importlib.metadata as metadata
import os
import site
import sys
import sysconfig
from pathlib import Path

SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "nsswitch.conf", "passwd", "group", "localtime",
       "alternatives", "fonts", "mime.types")  # fmt: skip
# what the student build imports; their requirements are followed (fundiff's own install is never shown)
ROOTS = ("torch", "torchvision", "matplotlib", "tqdm", "safetensors", "numpy", "pillow")
HIDDEN_DISTRIBUTIONS = {"fundiff"}


def _name(text: str) -> str:
    return text.strip().lower().replace("_", "-").replace(".", "-")


@functools.cache
def needed_distributions() -> tuple[metadata.Distribution, ...]:
    """The installed distributions the worker may import: ``ROOTS`` and what they require, extras followed.

    Returns:
        The distributions, each once.
    """
    from packaging.requirements import Requirement

    installed = {}
    for dist in metadata.distributions():
        installed.setdefault(_name(dist.metadata["Name"] or ""), dist)
    seen: dict[str, metadata.Distribution] = {}
    todo = [(name, frozenset()) for name in ROOTS]
    done: set[tuple[str, frozenset[str]]] = set()
    while todo:
        name, extras = todo.pop()
        key = _name(name)
        if (key, extras) in done or key in HIDDEN_DISTRIBUTIONS or key not in installed:
            continue
        done.add((key, extras))
        dist = seen.setdefault(key, installed[key])
        for text in dist.requires or []:
            req = Requirement(text)
            wanted = req.marker is None or any(
                req.marker.evaluate({"extra": e}) for e in (extras or {""})
            )
            if wanted:
                todo.append((req.name, frozenset(req.extras)))
    return tuple(seen.values())


def _top_level(dist: metadata.Distribution) -> set[str]:
    """The names a distribution puts directly into its site folder (packages, modules, .pth, its metadata)."""
    names = set()
    for file in dist.files or []:
        parts = Path(file).parts
        if parts and parts[0] not in ("..", "__pycache__") and not parts[0].startswith("/"):
            names.add(parts[0])
    return names


def site_folders() -> list[Path]:
    """Every Python package folder of this runtime and of the system's Pythons that exists."""
    found = [
        *site.getsitepackages(),
        sysconfig.get_paths()["purelib"],
        sysconfig.get_paths()["platlib"],
    ]
    base = (
        Path(sys.base_prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    )
    found += [str(base / "site-packages"), str(base / "dist-packages")]
    found += [str(p) for pattern in ("/usr/lib/python3*/*-packages", "/usr/local/lib/python3*/*-packages",
                                     "/usr/lib/python3/dist-packages")
              for p in Path("/").glob(pattern.lstrip("/"))]  # fmt: skip
    real = []
    for folder in found:
        path = Path(folder).resolve()
        if path.is_dir() and path not in real:
            real.append(path)
    return real


def package_entries() -> dict[Path, list[Path]]:
    """For each package folder, the entries of the worker's distributions in it.

    Worked out once per process (it reads every distribution's file list); each call
    returns a fresh copy.

    Returns:
        A dict from package folder to the paths in it to show.
    """
    return {folder: list(entries) for folder, entries in _package_entries()}


@functools.cache
def _package_entries() -> tuple[tuple[Path, tuple[Path, ...]], ...]:
    shown: dict[Path, list[Path]] = {folder: [] for folder in site_folders()}
    for dist in needed_distributions():
        where = Path(str(dist.locate_file(""))).resolve()
        if where not in shown:
            shown[where] = []
        names = _top_level(dist) | {Path(str(dist._path)).name}  # type: ignore[attr-defined]
        shown[where] += [where / n for n in sorted(names)
                         if ((where / n).exists() or (where / n).is_symlink()) and where / n not in shown[where]]  # fmt: skip
    return tuple((folder, tuple(entries)) for folder, entries in shown.items())


def linked_folders() -> list[Path]:
    """The package folders of the worker's distributions that are none of the runtime's site folders.

    Such a folder is on the grader's path through a ``.pth`` file of a site folder, which
    the worker is not shown (only the allowlisted packages' own entries are), so the
    sandbox names it on the worker's ``PYTHONPATH`` instead.

    Returns:
        The folders, sorted.
    """
    own = set(site_folders())
    return sorted(folder for folder in package_entries() if folder not in own)


def _mount_points(path: Path) -> list[str]:
    return [arg for parent in reversed(path.parents[:-1]) for arg in ("--dir", str(parent))]


def bwrap_arguments(student_site: Path, scratch: Path, worker_dir: Path, *, gpu: bool,
                    as_root: bool) -> list[str]:  # fmt: skip
    """bubblewrap's options for a worker that sees only the allowlist, its scratch folder writable.

    Args:
        student_site: the read-only copy of the student build.
        scratch: the worker's own folder (its home and working folder).
        worker_dir: the folder holding the worker's own code.
        gpu: show the GPU's device nodes.
        as_root: bubblewrap runs as root (it then needs no user namespace; the worker changes
            its uid itself).

    Returns:
        The options, to follow ``bwrap``.
    """
    args = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
            "--die-with-parent", "--new-session", "--proc", "/proc", "--tmpfs", "/tmp"]  # fmt: skip
    if not as_root:
        args += ["--unshare-user"]
    args += ["--dev-bind", "/dev", "/dev"] if gpu else ["--dev", "/dev"]
    for path in SYSTEM:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for name in ETC:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    runtime = {
        Path(sys.base_prefix).resolve(),
        Path(sys.prefix).resolve(),
        Path(sys.executable).resolve().parent,
    }
    for path in sorted(runtime):
        if not any(str(path).startswith(s + "/") or str(path) == s for s in SYSTEM):
            args += [*_mount_points(path), "--ro-bind", str(path), str(path)]
    for folder, entries in package_entries().items():
        # the folder emptied, then the allowlisted packages shown again, read-only
        args += [*_mount_points(folder), "--tmpfs", str(folder)]
        for entry in entries:
            args += ["--ro-bind", str(entry), str(entry)]
        args += ["--remount-ro", str(folder)]
    for path, flag in ((worker_dir, "--ro-bind"), (student_site, "--ro-bind"), (scratch, "--bind")):
        real = path.resolve()
        args += [*_mount_points(real), flag, str(real), str(real)]
    return args
