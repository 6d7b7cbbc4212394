"""Does the documentation site build warning-free, document every public name, and hold up in a browser:
every page visited, no broken internal link or image, no console error?"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from tests.browser import broken_images, chromium, console_errors, open_page

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("fundiff", "autograder")


def _modules() -> list[tuple[Path, ast.Module]]:
    """Every module of the documented packages (the hidden checks aside), parsed."""
    return [(path.relative_to(ROOT), ast.parse(path.read_text()))
            for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))
            if "checks" not in path.parts]  # fmt: skip


def _public(nodes: list[ast.stmt]) -> list[ast.FunctionDef | ast.ClassDef]:
    return [
        n
        for n in nodes
        if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and not n.name.startswith("_")
    ]


def _public_without_docstring() -> list[str]:
    missing = []
    for where, tree in _modules():
        if not ast.get_docstring(tree):
            missing.append(f"{where}: the module")
        for node in _public(tree.body):
            if not ast.get_docstring(node):
                missing.append(f"{where}: {node.name}")
            if isinstance(node, ast.ClassDef):
                missing += [f"{where}: {node.name}.{m.name}" for m in _public(node.body)
                            if isinstance(m, ast.FunctionDef) and not ast.get_docstring(m)]  # fmt: skip
    return missing


def test_every_public_function_and_class_has_a_docstring() -> None:
    assert _public_without_docstring() == []


def _public_functions() -> list[tuple[str, ast.FunctionDef]]:
    found = []
    for where, tree in _modules():
        for node in _public(tree.body):
            members = node.body if isinstance(node, ast.ClassDef) else [node]
            found += [
                (f"{where}: {m.name}", m)
                for m in _public(members)
                if isinstance(m, ast.FunctionDef)
            ]
    return found


def _undocumented_arguments(node: ast.FunctionDef) -> list[str]:
    """The parameters of ``node`` that its docstring's Google-style ``Args:`` section does not name."""
    params = [a.arg for a in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]]
    params += [f"*{a.arg}" for a in (node.args.vararg,) if a] + [
        f"**{a.arg}" for a in (node.args.kwarg,) if a
    ]
    params = [p for p in params if p not in ("self", "cls")]
    doc = ast.get_docstring(node) or ""
    if not params:
        return []
    if "\nArgs:\n" not in doc:
        return params
    section = doc.split("\nArgs:\n", 1)[1].split("\n\n", 1)[0]
    named = {line.strip().split(":", 1)[0].split(" (", 1)[0] for line in section.splitlines()
             if line.startswith("    ") and not line.startswith("     ")}  # fmt: skip
    return [p for p in params if p not in named]


def test_every_public_function_documents_its_arguments_google_style() -> None:
    missing = [f"{where}: {', '.join(args)}" for where, node in _public_functions()
               if (args := _undocumented_arguments(node))]  # fmt: skip
    assert missing == []


@pytest.fixture(scope="module")
def site(mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory, demo: Path,
         solved_notebook: Callable[[str], Path]) -> Path:  # fmt: skip
    """The site, built with warnings as errors, from the demo and solved notebooks the other tests made."""
    if os.environ.get("FUNDIFF_DOCS_BUILT"):  # a site built already (with -W), to check it alone
        return Path(os.environ["FUNDIFF_DOCS_BUILT"])
    out = tmp_path_factory.mktemp("site")
    solved = {solved_notebook(name).parent for name in ("part_a", "part_b")}
    env = {"FUNDIFF_DATA": str(mnist_dir), "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
           "HOME": str(Path.home()), "FUNDIFF_DOCS_DEMO": str(demo), "FUNDIFF_DOCS_SOLVED": str(solved.pop()),
           "FUNDIFF_DOCS_FRESH": "1"}  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                           str(ROOT / "docs"), str(out)], capture_output=True, text=True, env=env, timeout=1500)  # fmt: skip
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    return out


@pytest.mark.docs
def test_the_site_holds_every_part_the_docs_promise(site: Path) -> None:
    for page in ("student.html", "instructor.html", "maths.html", "api/fundiff.html", "api/autograder.html",
                 "_generated/gallery.html", "_generated/notebooks/part_a.html", "_generated/notebooks/part_b.html"):  # fmt: skip
        assert (site / page).is_file(), page
    assert (
        site / "_static" / "mathjax" / "tex-chtml.js"
    ).is_file()  # served by the site, not a CDN
    notebook = (site / "_generated" / "notebooks" / "part_b.html").read_text()
    assert (
        "NotImplementedError" in notebook and "<img" in notebook
    )  # stubs as released, figures as run
    assert "BEGIN SOLUTION" not in notebook and "check(" not in notebook
    api = (site / "api" / "autograder.html").read_text()
    assert "autograder.checks" not in api


def _internal_links(driver: object) -> list[str]:
    return driver.execute_script(  # type: ignore[attr-defined]
        "return Array.from(document.querySelectorAll('a[href]')).map(a => a.href).filter(h => h.startsWith('file:'))"
    )


@pytest.mark.docs
def test_every_page_opens_in_headless_chromium_without_broken_links_images_or_errors(
    site: Path, tmp_path: Path
) -> None:
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 20
    problems: list[str] = []
    ids: dict[Path, set[str]] = {}
    links: list[tuple[Path, str]] = []
    with chromium(tmp_path) as driver:
        for page in pages:
            open_page(driver, page.as_uri())
            problems += [
                f"{page.relative_to(site)}: broken image {src}" for src in broken_images(driver)
            ]
            problems += [f"{page.relative_to(site)}: console: {e}" for e in console_errors(driver)]
            ids[page] = set(
                driver.execute_script(
                    "return Array.from(document.querySelectorAll('[id]')).map(e => e.id)"
                )
            )
            links += [(page, href) for href in _internal_links(driver)]
    for page, href in links:
        url = urlparse(href)
        target = Path(unquote(url.path))
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            problems.append(f"{page.relative_to(site)}: link to a missing file {href}")
        elif url.fragment and target in ids and unquote(url.fragment) not in ids[target]:
            problems.append(f"{page.relative_to(site)}: link to a missing anchor {href}")
    assert problems == []
