"""Pages made from the package when the site is built: the demo gallery and the rendered notebooks.

- ``_generated/gallery.md``: ``fundiff demo`` is run into ``_generated/demo`` and each of
  its figures is shown with its caption and the command that regenerates it.
- ``_generated/notebooks/part_*.ipynb``: each course notebook as students get it
  (graded functions stubbed), with the outputs of the solution notebook run in
  FAST mode: students see what their notebook should show, not the solutions.

Running them takes minutes; a build reuses what an earlier build generated from
the same sources (keyed by a hash of fundiff, the notebooks and this file).
Set ``FUNDIFF_DOCS_FRESH=1`` to regenerate. MNIST is found as the notebooks find
it (``FUNDIFF_DATA``, or torchvision's download folder).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from sphinx.application import Sphinx

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENTS = ("part_a", "part_b")


def _digest() -> str:
    h = hashlib.sha256()
    sources = sorted((ROOT / "fundiff").rglob("*.py")) + sorted(
        (ROOT / "solutions").rglob("*.ipynb")
    )
    for path in [*sources, *sorted((ROOT / "course").rglob("*.ipynb")), Path(__file__)]:
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def gallery(out: Path) -> str:
    """Run the demo into ``out/demo`` and return the gallery page's markdown."""
    from fundiff.demo import run_demo

    run_demo(out / "demo", progress=False)
    entries = json.loads((out / "demo" / "entries.json").read_text())
    lines = ["# Demo gallery", "",
             "Every figure of `fundiff demo`, drawn when this site was built (MNIST backend, CPU). "
             "Each caption ends with the command that draws it again.", ""]  # fmt: skip
    section = None
    for entry in entries:
        if entry["section"] != section:
            section = entry["section"]
            lines += [f"## {section}", ""]
        lines += [f"![{entry['caption']}](demo/{entry['image']})", "", entry["caption"], "",
                  f"```bash\n{entry['command']}\n```", ""]  # fmt: skip
    return "\n".join(lines)


def rendered(name: str, scratch: Path) -> object:
    """The released notebook ``name`` carrying the outputs of its solution notebook, run in FAST mode."""
    import nbformat
    from nbclient import NotebookClient

    solution = nbformat.read(ROOT / "solutions" / name / f"{name}.ipynb", as_version=4)
    release = nbformat.read(ROOT / "course" / name / f"{name}.ipynb", as_version=4)
    env = {"FUNDIFF_FAST": "1", "FUNDIFF_BACKEND": "mnist"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        scratch.mkdir(parents=True, exist_ok=True)
        NotebookClient(solution, timeout=1200, kernel_name="python3",
                       resources={"metadata": {"path": str(scratch)}}).execute()  # fmt: skip
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    strip_widgets(solution)
    stubs = {cell.id: cell.source for cell in release.cells}
    for cell in solution.cells:
        if cell.id in stubs:
            cell.source = stubs[cell.id]  # graded cells as released; hidden checks gone
        if cell.get("cell_type") == "code" and cell.metadata.get("nbgrader", {}).get("grade"):
            cell.outputs = []  # the checks' output names the hidden checks
    return solution


def strip_widgets(nb: object) -> None:
    """Drop ipywidgets views (tqdm's bars) and their state, keeping each output's text: a widget
    would make the page fetch its JavaScript from a CDN."""
    nb.metadata.pop("widgets", None)  # type: ignore[attr-defined]
    for cell in nb.cells:  # type: ignore[attr-defined]
        for output in cell.get("outputs", []):
            output.get("data", {}).pop("application/vnd.jupyter.widget-view+json", None)


def generate(app: Sphinx) -> None:
    """Write ``_generated/`` under the documentation's source folder, unless it is current."""
    import nbformat

    out = Path(app.srcdir) / "_generated"
    stamp = out / "STAMP"
    key = _digest()
    if stamp.is_file() and stamp.read_text() == key and not os.environ.get("FUNDIFF_DOCS_FRESH"):
        return
    shutil.rmtree(out, ignore_errors=True)
    (out / "notebooks").mkdir(parents=True)
    (out / "gallery.md").write_text(gallery(out))
    for name in ASSIGNMENTS:
        nbformat.write(rendered(name, out / "scratch" / name), out / "notebooks" / f"{name}.ipynb")
    shutil.rmtree(out / "scratch", ignore_errors=True)
    stamp.write_text(key)


def setup(app: Sphinx) -> dict[str, object]:
    app.connect("builder-inited", generate)
    return {"parallel_read_safe": True, "version": "1"}
