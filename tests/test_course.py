"""Is ``fundiff.course`` the notebooks' one door into fundiff: all they import, public, no graded function?"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import fundiff.course
from autograder.course.spec import ASSIGNMENTS, parse_cells

SOURCES = Path(__file__).resolve().parent.parent / "solutions" / "src"


def _fundiff_imports(name: str) -> list[tuple[str, list[str]]]:
    """Each ``from fundiff... import`` of an assignment's code cells: (module, names)."""
    found = []
    for cell in parse_cells((SOURCES / f"{name}.py").read_text()):
        if cell.kind == "markdown":
            continue
        try:
            tree = ast.parse("\n".join(cell.lines))
        except SyntaxError:  # a cell of magics or prose
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("fundiff"):
                found.append((node.module or "", [a.name for a in node.names]))
            elif isinstance(node, ast.Import):
                found += [(a.name, []) for a in node.names if a.name.startswith("fundiff")]
    return found


def test_the_notebooks_import_fundiff_through_the_facade_alone() -> None:
    """Does every notebook cell take fundiff's names from ``fundiff.course``, each one public and listed?"""
    listed = set(fundiff.course.__all__)
    for name in ASSIGNMENTS:
        for module, names in _fundiff_imports(name):
            assert module == "fundiff.course", f"{name}: imports {module}; use fundiff.course"
            assert set(names) <= listed, f"{name}: {set(names) - listed} not in fundiff.course"


def test_the_facade_lists_only_what_the_notebooks_use() -> None:
    """Is each name of the façade imported by some notebook (so it is not a second API)?"""
    used = {n for a in ASSIGNMENTS for _, names in _fundiff_imports(a) for n in names}
    assert set(fundiff.course.__all__) == used


def test_the_facade_is_public_and_resolves() -> None:
    """Does every listed name exist, with no private name among them?"""
    for name in fundiff.course.__all__:
        assert not name.startswith("_"), name
        assert hasattr(fundiff.course, name), name


def test_no_graded_function_is_in_the_facade() -> None:
    """Is every function a graded cell is checked against kept out of the façade?"""
    graded = []
    for name in ASSIGNMENTS:
        for cell in parse_cells((SOURCES / f"{name}.py").read_text()):
            graded += [r for r in cell.refs] if cell.kind == "graded" else []
    assert graded, "no graded cell found: the spec's format changed"
    for ref in graded:
        module, attr = ref.rsplit(".", 1)
        obj = getattr(importlib.import_module(module), attr)
        assert all(getattr(fundiff.course, n) is not obj for n in fundiff.course.__all__), ref


def test_importing_the_facade_loads_neither_torchvision_nor_matplotlib() -> None:
    """A notebook's first cell and the grader's worker (whose submission imports the facade) start
    without them: each loads where it is used (``fundiff.viz``, the blurs, image loading)."""
    import os
    import subprocess
    import sys

    code = ("import sys, fundiff.course; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'torchvision', 'matplotlib'}))")  # fmt: skip
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONPATH": str(root)})  # fmt: skip
    assert done.stdout.split() == ["[]"]
