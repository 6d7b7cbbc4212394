"""The submission's view of fundiff: the student build, made once per fundiff version and cached."""

from __future__ import annotations

import ast
import functools
import hashlib
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"


@functools.cache
def student_site(cache: Path | None = None) -> Path:
    """A folder holding the student build of fundiff (graded bodies stubbed), built on first use."""
    sys.path.insert(0, str(SOLUTIONS))
    from build_student_wheel import build_tree

    digest = hashlib.sha256()
    for path in sorted((ROOT / "fundiff").rglob("*.py")) + sorted((SOLUTIONS / "src").glob("*.py")):
        digest.update(path.read_bytes())
    cache = cache or Path.home() / ".cache" / "fundiff" / "autograder"
    site = cache / f"student-{digest.hexdigest()[:16]}"
    if not (site / "fundiff" / "__init__.py").is_file():
        partial = site.with_name(site.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        build_tree(partial)
        shutil.rmtree(site, ignore_errors=True)
        partial.rename(site)
    return site


@functools.cache
def preamble() -> str:
    """The imports the notebooks' own cells make before the graded cells, for a submission to run on."""
    lines = ["from __future__ import annotations"]
    sys.path.insert(0, str(SOLUTIONS))
    from build_course import ASSIGNMENTS, parse_spec

    for name in ASSIGNMENTS:
        for cell in parse_spec((SOLUTIONS / "src" / f"{name}.py").read_text()):
            if cell.kind != "code":
                continue
            try:
                tree = ast.parse("\n".join(cell.lines))
            except SyntaxError:
                continue
            for node in tree.body:
                if (
                    isinstance(node, (ast.Import, ast.ImportFrom))
                    and getattr(node, "module", None) != "__future__"
                ):
                    text = ast.unparse(node)
                    if text not in lines:
                        lines.append(text)
    return "\n".join(lines) + "\n"
