"""Does the code keep the house's rules (``/work/shared/STYLE.md``, "The house we are building")?

Each rule is read from the sources' syntax trees, so that no module needs importing:

- no import cycle among the modules of ``fundiff``, nor of ``autograder`` (imports inside
  functions count: a cycle broken by a late import is still a cycle of concepts);
- no module over ``MAX_LINES`` lines unless its docstring says why, in a paragraph
  starting with ``LONG_REASON``;
- no ``sys.path`` edits in the installed packages (they run from a plain ``pip install``;
  the sandbox's worker gets its path from the environment the sandbox builds);
- the library never imports its command line (``fundiff.cli``): data flows one way.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("fundiff", "autograder")
MAX_LINES = 300
LONG_REASON = "Longer than 300 lines because"  # how a long module's docstring starts saying why
CLI = "fundiff.cli"
CLI_USERS = (
    "fundiff.cli",
    "fundiff.__main__",
)  # the modules that may import it (and those below cli)


def modules(package: str) -> dict[str, Path]:
    """Every module of ``package`` in this checkout, by dotted name (a package by its own name).

    Args:
        package: a top-level package folder of the repository.

    Returns:
        A dict from module name to its file.
    """
    found = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported(name: str, path: Path) -> Iterator[str]:
    """Each name ``name``'s module imports, absolute, wherever in the module the import is.

    ``from a import b`` yields both ``a`` and ``a.b`` (``b`` may be a module).

    Args:
        name: the module's dotted name.
        path: its file.

    Yields:
        Dotted names, as written or resolved from relative imports.
    """
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = name.split(".")
                parts = parts[: len(parts) - node.level + (1 if is_package else 0)]
                base = ".".join(parts + ([base] if base else []))
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def import_graph(package: str) -> dict[str, set[str]]:
    """Which modules of ``package`` each of its modules imports (the nearest module of each name).

    Args:
        package: a top-level package folder of the repository.

    Returns:
        A dict from module name to the names of the package's modules it imports.
    """
    found = modules(package)
    edges: dict[str, set[str]] = {m: set() for m in found}
    for module, path in found.items():
        for target in imported(module, path):
            while target and target not in found:
                target = target.rpartition(".")[0]
            if target and target != module:
                edges[module].add(target)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import one another (strongly connected), each with one cycle.

    Args:
        edges: an import graph, as ``import_graph`` makes it.

    Returns:
        For each group, its shortest cycle through its first module (the modules along it,
        the first repeated at the end) and then the group's other modules; [] when there
        is none.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in sorted(edges):
        if v not in index:
            visit(v)
    found = []
    for group in groups:
        cycle = _cycle_in(group, edges)
        found.append(cycle + sorted(group - set(cycle)))
    return found


def _cycle_in(group: set[str], edges: dict[str, set[str]]) -> list[str]:
    """A path from the group's first module back to itself, inside the group (breadth first)."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(edges[v] & group):
                if w == start:
                    return [*paths[v], start]
                if w not in paths:
                    paths[w] = [*paths[v], w]
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"{sorted(group)} is not a cycle")


def long_modules(package: str) -> list[str]:
    """The modules of ``package`` over ``MAX_LINES`` lines whose docstring gives no reason.

    Args:
        package: a top-level package folder of the repository.

    Returns:
        Their paths, relative to the repository, each with its line count.
    """
    return [
        f"{path.relative_to(ROOT)} ({len(path.read_text().splitlines())} lines)"
        for path in modules(package).values()
        if not _has_reason(path)
    ]


def _has_reason(path: Path) -> bool:
    """Whether ``path`` is short, or a paragraph of its docstring starts with ``LONG_REASON``."""
    text = path.read_text()
    if len(text.splitlines()) <= MAX_LINES:
        return True
    doc = ast.get_docstring(ast.parse(text)) or ""
    return any(" ".join(p.split()).startswith(LONG_REASON) for p in doc.split("\n\n"))


def path_edits(path: Path) -> list[str]:
    """Each place ``path`` changes ``sys.path``: a call of insert, append, extend or remove, an
    assignment (whole, sliced or augmented) or a deletion.

    Args:
        path: a Python file.

    Returns:
        ``FILE:LINE: code`` for each edit.
    """
    tree = ast.parse(path.read_text(), str(path))
    sys_names = {"sys"}
    path_names: set[str] = set()  # from sys import path [as ...]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            sys_names |= {a.asname or a.name for a in node.names if a.name == "sys"}
        elif isinstance(node, ast.ImportFrom) and node.module == "sys":
            path_names |= {a.asname or a.name for a in node.names if a.name == "path"}

    def is_sys_path(node: ast.AST) -> bool:
        if isinstance(node, ast.Subscript):
            node = node.value
        if isinstance(node, ast.Name):
            return node.id in path_names
        return (
            isinstance(node, ast.Attribute)
            and node.attr == "path"
            and isinstance(node.value, ast.Name)
            and node.value.id in sys_names
        )

    found = []
    for node in ast.walk(tree):
        targets: list[ast.AST] = []
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in ("insert", "append", "extend", "remove") and is_sys_path(
                node.func.value
            ):
                found.append(node)
            continue
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        elif isinstance(node, ast.Delete):
            targets = node.targets
        if any(is_sys_path(t) for t in targets):
            found.append(node)
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    return [f"{shown}:{n.lineno}: {ast.unparse(n)}" for n in sorted(found, key=lambda n: n.lineno)]


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycle(package: str) -> None:
    """Does no module of the package import, directly or through others, a module that imports it?"""
    found = cycles(import_graph(package))
    assert found == [], "import cycles: " + "; ".join(map(_describe, found))


def _describe(found: list[str]) -> str:
    """``a -> b -> a (with c, d)`` for a group as ``cycles`` gives it."""
    end = found.index(found[0], 1) + 1
    others = f" (with {', '.join(found[end:])})" if found[end:] else ""
    return " -> ".join(found[:end]) + others


@pytest.mark.parametrize("package", PACKAGES)
def test_no_long_module_without_a_reason(package: str) -> None:
    """Is every module of at most 300 lines (``MAX_LINES``), or says its docstring why not?"""
    found = long_modules(package)
    assert found == [], (
        f"over {MAX_LINES} lines with no reason (a docstring paragraph starting {LONG_REASON!r}): "
        "split each along a concept, or say why: " + ", ".join(found)
    )


@pytest.mark.parametrize("package", PACKAGES)
def test_no_sys_path_edit_in_installed_code(package: str) -> None:
    """Does no module of the installed packages edit ``sys.path``?"""
    found = [edit for path in modules(package).values() for edit in path_edits(path)]
    assert found == [], "sys.path edited: " + "; ".join(found)


def test_the_library_never_imports_its_command_line() -> None:
    """Does no module of fundiff outside ``fundiff.cli`` and ``fundiff.__main__`` import ``fundiff.cli``?"""
    found = []
    for module, path in modules("fundiff").items():
        if any(module == m or module.startswith(m + ".") for m in CLI_USERS):
            continue
        targets = {t for t in imported(module, path) if t == CLI or t.startswith(CLI + ".")}
        if targets:
            found.append(f"{path.relative_to(ROOT)} imports {min(targets, key=len)}")
    assert found == [], "; ".join(found)


def test_the_rules_see_what_they_look_for(tmp_path: Path) -> None:
    """Do the readers find a cycle, a path edit and a long module where one is planted?"""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": {"a", "c"}, "c": {"b"}}) == [["a", "b", "a", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    planted = tmp_path / "planted.py"
    planted.write_text(
        "import sys as s\nfrom sys import path as p\n"
        "s.path.insert(0, 'x')\np.append('y')\ns.path[:0] = ['z']\nsys = s\ndel s.path[0]\n"
        "s.path += ['w']\ns.path = []\nprint(s.path[0])\n"
    )
    assert [e.split(":")[1] for e in path_edits(planted)] == ["3", "4", "5", "7", "8", "9"]
    (tmp_path / "long.py").write_text('"""Short."""\n' + "x = 1\n" * MAX_LINES)
    assert not _has_reason(tmp_path / "long.py")
    long = "x = 1\n" * MAX_LINES
    (tmp_path / "long.py").write_text(f'"""{LONG_REASON} it is a table."""\n' + long)
    assert _has_reason(tmp_path / "long.py")
    (tmp_path / "long.py").write_text(f'"""A table.\n\n{LONG_REASON} it is one."""\n' + long)
    assert _has_reason(tmp_path / "long.py")
    (tmp_path / "long.py").write_text(f'"""A table.\n{LONG_REASON} it is one."""\n' + long)
    assert not _has_reason(tmp_path / "long.py")  # inside a paragraph, not its own
    (tmp_path / "long.py").write_text(f'"""A table."""\n# {LONG_REASON} it is one.\n' + long)
    assert not _has_reason(tmp_path / "long.py")  # a comment is not the docstring
