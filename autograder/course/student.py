"""The student build: fundiff with every graded function's body replaced by a stub.

The graded functions and classes are those the course notebooks name (the ``ref=``
names of ``solutions/src/*.py``, read from the graded-reference table,
``autograder.course.graded``). In the student build each one keeps its signature
and docstring, and its body (each method's body, for a class) becomes
``raise NotImplementedError(...)``; the students write them in the notebooks.
Everything else of fundiff stays: data, backends, plotting, the training loop. The
MNIST backend's network, whose UNet classes are graded, ships as a ``torch.export``
program instead (``fundiff.backends.mnist.EXPORTED_ASSET``). The grader runs
submissions on the same build (``autograder.site``).

    python -m autograder.course.student OUT_DIR     # from the repository's root; prints the wheel's path
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from autograder.course.graded import graded_refs

STUB = 'raise NotImplementedError("{name} is yours to write: see the course notebook")'


def stub_source(source: str, names: set[str]) -> str:
    """``source`` with the bodies of the top-level functions and classes in ``names`` stubbed.

    Args:
        source: a module's source.
        names: the top-level functions and classes to stub (for a class, each of its methods).

    Returns:
        The source with each such body replaced by ``raise NotImplementedError(...)``;
        signatures and docstrings stay.
    """
    lines = source.splitlines()
    edits: list[tuple[int, int, str]] = []  # (first line, last line, indent), 0-based inclusive
    for node in ast.parse(source).body:
        if not isinstance(node, (ast.FunctionDef, ast.ClassDef)) or node.name not in names:
            continue
        functions = (
            [node]
            if isinstance(node, ast.FunctionDef)
            else [n for n in node.body if isinstance(n, ast.FunctionDef)]
        )
        for fn in functions:
            body = fn.body
            if isinstance(body[0], ast.Expr) and isinstance(
                getattr(body[0], "value", None), ast.Constant
            ):
                body = body[1:]
            if not body:
                continue
            first = body[0].lineno - 1
            indent = re.match(r"\s*", lines[first]).group(0)
            edits.append((first, fn.end_lineno - 1, indent + STUB.format(name=node.name)))
    for first, last, stub in sorted(edits, reverse=True):
        lines[first : last + 1] = [stub]
    return "\n".join(lines) + "\n"


def fundiff_folder() -> Path:
    """The folder of the fundiff package this process imports (a checkout's, or an installed one).

    Returns:
        The folder holding ``fundiff/__init__.py``.
    """
    import fundiff

    return Path(fundiff.__file__).resolve().parent


def student_package(dest: Path) -> Path:
    """Write the student build of fundiff (graded bodies stubbed) as ``dest / "fundiff"``.

    Args:
        dest: an existing folder; ``dest / "fundiff"`` must not exist yet.

    Returns:
        ``dest / "fundiff"``.

    Raises:
        RuntimeError: fundiff's rules module holds no single ``COURSE_RULE`` line to set.
    """
    from fundiff.assets import MANIFEST, sha256
    from fundiff.backends.mnist_weights import EXPORTED_ASSET, export_network, load_mnist_backend

    package = dest / "fundiff"
    shutil.copytree(
        fundiff_folder(), package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    by_module: dict[str, set[str]] = {}
    for ref in graded_refs():
        module, _, name = ref.rpartition(".")
        by_module.setdefault(module, set()).add(name)
    for module, names in by_module.items():
        path = dest.joinpath(*module.split("."))
        path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        path.write_text(stub_source(path.read_text(), names))
    _fix_rule(package / "diffusion" / "rules.py")
    assets = package / "assets"
    export_network(load_mnist_backend().model, assets / EXPORTED_ASSET)  # from the full fundiff
    manifest = json.loads((assets / MANIFEST).read_text())
    manifest[EXPORTED_ASSET] = sha256(assets / EXPORTED_ASSET)
    (assets / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return package


def build_tree(dest: Path, root: Path) -> Path:
    """Write the student source tree (pyproject, README, fundiff/) into ``dest``.

    Args:
        dest: an existing, empty folder.
        root: the repository, whose ``pyproject.toml`` and ``README.md`` the build takes
            (its version marked ``+student``).

    Returns:
        ``dest``.
    """
    shutil.copy(root / "README.md", dest / "README.md")
    pyproject = (root / "pyproject.toml").read_text()
    pyproject = re.sub(
        r'^version = "([^"]+)"', r'version = "\1+student"', pyproject, count=1, flags=re.M
    )
    (dest / "pyproject.toml").write_text(pyproject)
    student_package(dest)
    return dest


def _fix_rule(path: Path) -> None:
    """Write the course's rule (``FUNDIFF_RULE`` included) into the student build's ``COURSE_RULE``,
    so that a student's fundiff steps as the notebook teaches without the instructor's environment."""
    from fundiff.diffusion.rules import course_rule

    source, line = path.read_text(), re.compile(r'^COURSE_RULE: Rule = "\w+"$', re.M)
    if len(line.findall(source)) != 1:
        raise RuntimeError(f"{path}: no single COURSE_RULE line to set")
    path.write_text(line.sub(f'COURSE_RULE: Rule = "{course_rule()}"', source))


def build_wheel(out: Path, root: Path) -> Path:
    """Build the student wheel into ``out``.

    Args:
        out: the folder for the wheel; created if missing.
        root: the repository, holding ``pyproject.toml`` and ``README.md``.

    Returns:
        The wheel's path.

    Raises:
        subprocess.CalledProcessError: pip could not build the wheel.
    """
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        tree = build_tree(Path(scratch), root)
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(tree)],
            check=True,
        )  # fmt: skip
    return max(out.glob("fundiff-*+student-*.whl"), key=lambda p: p.stat().st_mtime)


def main(argv: list[str] | None = None) -> int:
    """``python -m autograder.course.student OUT_DIR [--root ROOT]``: prints the wheel's path.

    Args:
        argv: the command-line arguments; None: ``sys.argv[1:]``.

    Returns:
        The exit status: 0 once built, 2 for a root without ``pyproject.toml`` and
        ``README.md`` or an output path that is a file.
    """
    p = argparse.ArgumentParser(prog="python -m autograder.course.student",
                                description=(__doc__ or "").splitlines()[0])  # fmt: skip
    p.add_argument("out", type=Path, help="folder for the wheel")
    p.add_argument("--root", type=Path, default=Path("."),
                   help="the repository, holding pyproject.toml and README.md (default: the current folder)")  # fmt: skip
    args = p.parse_args(argv)
    root = args.root.resolve()
    missing = [n for n in ("pyproject.toml", "README.md") if not (root / n).is_file()]
    if missing:
        print(f"student: error: {root} holds no {' or '.join(missing)}: run from the repository's "
              "root or give --root", file=sys.stderr)  # fmt: skip
        return 2
    if args.out.exists() and not args.out.is_dir():
        print(f"student: error: {args.out} is a file: give a folder for the wheel", file=sys.stderr)
        return 2
    print(build_wheel(args.out, root))
    return 0


if __name__ == "__main__":
    sys.exit(main())
