"""Build what a student installs: fundiff with every graded function's body replaced by a stub.

The graded functions and classes are those the course notebooks name
(``# ref=`` lines of ``solutions/src/*.py``). In the student build each one keeps
its signature and docstring, and its body (each method's body, for a class)
becomes ``raise NotImplementedError(...)``; the students write them in the
notebooks. Everything else of fundiff stays: data, backends, plotting, the
training loop. The MNIST backend's network, whose UNet classes are graded, ships
as a ``torch.export`` program instead (``fundiff.backends.mnist.EXPORTED_ASSET``).

    python solutions/build_student_wheel.py OUT_DIR     # prints the wheel's path
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_course import ASSIGNMENTS, ROOT, SOURCES, parse_spec  # noqa: E402

STUB = 'raise NotImplementedError("{name} is yours to write: see the course notebook")'


def graded_refs() -> list[str]:
    """Every ``module.name`` that the course notebooks grade."""
    refs: list[str] = []
    for name in ASSIGNMENTS:
        for cell in parse_spec((SOURCES / f"{name}.py").read_text()):
            refs += [r for r in cell.refs if r not in refs]
    return refs


def stub_source(source: str, names: set[str]) -> str:
    """``source`` with the bodies of the top-level functions and classes in ``names`` stubbed."""
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


def build_tree(dest: Path) -> Path:
    """Write the student source tree (pyproject, README, fundiff/) into ``dest``; returns it."""
    from fundiff.assets import MANIFEST, sha256
    from fundiff.backends.mnist import EXPORTED_ASSET, export_network, load_mnist_backend

    shutil.copy(ROOT / "README.md", dest / "README.md")
    pyproject = (ROOT / "pyproject.toml").read_text()
    pyproject = re.sub(
        r'^version = "([^"]+)"', r'version = "\1+student"', pyproject, count=1, flags=re.M
    )
    (dest / "pyproject.toml").write_text(pyproject)
    shutil.copytree(
        ROOT / "fundiff", dest / "fundiff", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    by_module: dict[str, set[str]] = {}
    for ref in graded_refs():
        module, _, name = ref.rpartition(".")
        by_module.setdefault(module, set()).add(name)
    for module, names in by_module.items():
        path = dest / (module.replace(".", "/") + ".py")
        path.write_text(stub_source(path.read_text(), names))
    _fix_rule(dest / "fundiff" / "diffusion" / "rules.py")
    assets = dest / "fundiff" / "assets"
    export_network(load_mnist_backend().model, assets / EXPORTED_ASSET)  # from the full fundiff
    manifest = json.loads((assets / MANIFEST).read_text())
    manifest[EXPORTED_ASSET] = sha256(assets / EXPORTED_ASSET)
    (assets / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return dest


def _fix_rule(path: Path) -> None:
    """Write the course's rule (``FUNDIFF_RULE`` included) into the student build's ``COURSE_RULE``,
    so that a student's fundiff steps as the notebook teaches without the instructor's environment."""
    from fundiff.diffusion.rules import course_rule

    source, line = path.read_text(), re.compile(r'^COURSE_RULE: Rule = "\w+"$', re.M)
    if len(line.findall(source)) != 1:
        raise RuntimeError(f"{path}: no single COURSE_RULE line to set")
    path.write_text(line.sub(f'COURSE_RULE: Rule = "{course_rule()}"', source))


def build_wheel(out: Path) -> Path:
    """Build the student wheel into ``out``; returns its path."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        tree = build_tree(Path(scratch))
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(tree)],
            check=True,
        )  # fmt: skip
    return max(out.glob("fundiff-*+student-*.whl"), key=lambda p: p.stat().st_mtime)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path, help="folder for the wheel")
    print(build_wheel(p.parse_args().out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
