"""Pages made from the package when the site is built: the demo gallery and the rendered notebooks.

- ``_generated/gallery.md``: ``fundiff demo`` is run into ``_generated/demo`` and each of
  its figures is shown with its caption and the command that regenerates it.
- ``_generated/notebooks/part_*.ipynb``: each course notebook as students get it
  (graded functions stubbed), with the outputs of the solution notebook run in
  FAST mode: students see what their notebook should show, not the solutions.

Running them takes minutes; a build reuses what an earlier build generated from
the same sources (keyed by a hash of fundiff, the notebooks and this file).
Set ``FUNDIFF_DOCS_FRESH=1`` to regenerate. MNIST is found as the notebooks find
it (``FUNDIFF_DATA``, made absolute against the folder the build was started in, or
torchvision's download folder).

Where they were run already from these sources (the test suite runs both), name
them instead of running them again: ``FUNDIFF_DOCS_DEMO=DIR`` (a folder ``fundiff
demo`` wrote) and ``FUNDIFF_DOCS_SOLVED=DIR`` (``part_a.ipynb`` and
``part_b.ipynb``, the solution notebooks executed with ``FUNDIFF_FAST=1``).
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


def gallery(out: Path, ran: Path | None = None) -> str:
    """Run the demo into ``out/demo`` (or copy the folder an earlier run wrote, ``ran``) and return the
    gallery page's markdown."""
    from fundiff.demo.build import run_demo

    if ran is None:
        run_demo(out / "demo", progress=False)
    else:
        shutil.copytree(ran, out / "demo")
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


def rendered(name: str, scratch: Path, solved: Path | None = None) -> object:
    """The released notebook ``name`` carrying the outputs of its solution notebook, run in FAST mode
    (or read from ``solved``, that notebook run already)."""
    import nbformat

    release = nbformat.read(ROOT / "course" / name / f"{name}.ipynb", as_version=4)
    solution = nbformat.read(solved, as_version=4) if solved else solve(name, scratch)
    strip_widgets(solution)
    stubs = {cell.id: cell.source for cell in release.cells}
    for cell in solution.cells:
        if cell.id in stubs:
            cell.source = stubs[cell.id]  # graded cells as released; hidden checks gone
        if cell.get("cell_type") == "code" and cell.metadata.get("nbgrader", {}).get("grade"):
            cell.outputs = []  # the checks' output names the hidden checks
    return solution


def solve(name: str, scratch: Path) -> object:
    """The solution notebook ``name``, run in FAST mode on the MNIST backend in ``scratch``."""
    import nbformat
    from nbclient import NotebookClient

    solution = nbformat.read(ROOT / "solutions" / name / f"{name}.ipynb", as_version=4)
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
    return solution


def strip_widgets(nb: object) -> None:
    """Drop ipywidgets views (tqdm's bars) and their state, keeping each output's text: a widget
    would make the page fetch its JavaScript from a CDN."""
    nb.metadata.pop("widgets", None)  # type: ignore[attr-defined]
    for cell in nb.cells:  # type: ignore[attr-defined]
        for output in cell.get("outputs", []):
            output.get("data", {}).pop("application/vnd.jupyter.widget-view+json", None)


def performance() -> str:
    """The benchmark tables, read from the JSON results ``benchmarks/`` keeps (nothing re-measured)."""
    bench = ROOT / "benchmarks"
    train = json.loads((bench / "results_fast_path_training_h100.json").read_text())
    sample = json.loads((bench / "results_fast_path_sampling_h100.json").read_text())
    grade = json.loads((bench / "results_grade_h100.json").read_text())
    grade_cpu = json.loads((bench / "results_grade_cpu.json").read_text())

    def where(r: dict) -> str:
        return f"{r['card']}, torch {r['torch']}, {r['date']}"

    plain = train["training"]["plain"]
    lines = ["# Performance", "",
             "Every figure below is read from a JSON file that a script in `benchmarks/` printed "
             "(see `benchmarks/README.md`); a ratio counts only as measured in one run on one card.", "",
             "## Training flow-class: the plain recipe and `--fast`", "",
             f"`{train['invocation']}` on {where(train)}. Quality: `fundiff evaluate` (1,000 samples "
             f"per digit, 50 Euler steps); *same quality* means {train['training']['quality_rule']}", "",
             "| run | seconds | speed-up | accuracy (g=5) | FD (g=5) | accuracy (g=1) | FD (g=1) | same quality |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]  # fmt: skip
    for row in [plain, *train["training"]["fast"]]:
        q5, q1 = row["quality"]["5.0"], row["quality"]["1.0"]
        lines.append(f"| `{row['command']}` | {row['seconds']:.1f} | {row.get('speedup', 1.0):.2f} | "
                     f"{q5['classifier_accuracy']:.2%} | {q5['frechet_distance']:.1f} | "
                     f"{q1['classifier_accuracy']:.2%} | {q1['frechet_distance']:.1f} | "
                     f"{row.get('same_quality', '(baseline)')} |")  # fmt: skip
    steps = train["steps"]
    lines += ["", "Cost of one `--fast` step by batch size (the second of two epochs, divided by its "
              f"steps), same run. Through the two largest batches: {steps['fixed_ms_per_step']:.1f} ms "
              f"fixed per step and {steps['us_per_image']:.1f} µs per image, so ten epochs of the "
              f"recipe's images take at least {steps['ten_epoch_floor_seconds']:.1f} s of arithmetic.",
              "", "| batch | seconds per epoch | ms per step |", "| ---: | ---: | ---: |"]  # fmt: skip
    lines += [
        f"| {r['batch']} | {r['epoch_seconds']:.2f} | {r['ms_per_step']:.2f} |"
        for r in steps["rows"]
    ]
    s = sample["sampling"]
    lines += ["", "## Guided sampling: the plain loop and the fast sampler", "",
              f"`python benchmarks/fast_path.py --parts sampling` on {where(sample)}: {s['digits']:,} digits "
              f"at guidance {s['guidance']:g} from the shipped flow-class model, one seed. The plain loop: "
              f"{s['plain']['steps']} Euler steps, two float32 passes each, {s['plain']['seconds']:.1f} s. "
              f"Its own 150-step samples differ from its 300-step ones by "
              f"{s['plain_150_vs_300']['mean_abs_pixel']:.4f} on average. Tolerance: "
              f"{s['tolerance']['mean_abs_pixel']:g} mean absolute pixel difference, "
              f"{s['tolerance']['classifier_agreement']:.0%} of digits read alike.", "",
              "| solver | steps | dtype | seconds | speed-up | mean pixel difference | same digit | within tolerance |",
              "| --- | ---: | --- | ---: | ---: | ---: | ---: | --- |"]  # fmt: skip
    for r in s["fast"]:
        d = r["distance_to_plain_300"]
        lines.append(f"| {r['solver']} | {r['steps']} | {r['dtype'].removeprefix('torch.')} | {r['seconds']:.2f} | "
                     f"{r['speedup']:.2f} | {d['mean_abs_pixel']:.4f} | {d['classifier_agreement']:.2%} | "
                     f"{r['within_tolerance']} |")  # fmt: skip
    lines += ["", "## Grading one submission", "",
              "`python benchmarks/grade.py`: `fundiff-grade` on each solution notebook, end to end, "
              "median of three runs; a setting is a device and the CPU cores the grader is pinned to.", "",
              "| machine | setting | Part A (s) | Part B (s) |", "| --- | --- | ---: | ---: |"]  # fmt: skip
    for result, card in ((grade_cpu, grade_cpu["card"]), (grade, grade["card"])):
        for setting, parts in result["runs"].items():
            lines.append(f"| {card}, torch {result['torch']} | {setting} | "
                         f"{parts['part_a']['median_seconds']} | {parts['part_b']['median_seconds']} |")  # fmt: skip
    lines += side_by_side(bench)
    lines += contention(bench)
    return "\n".join(lines) + "\n"


def side_by_side(bench: Path) -> list[str]:
    """A folder graded with ``--jobs 2``: the grading processes sharing torch's threads, and before they did."""
    after, before = (
        json.loads((bench / f"results_grade_jobs2_cpu{k}.json").read_text())
        for k in ("", "_before")
    )

    def row(result: dict, how: str) -> str:
        f = result["folder"]
        return (f"| {how} | {result['commit']} | {f['submissions']} | {f['seconds']:.1f} | "
                f"{f['seconds_per_submission']:.2f} | {'yes' if f['all_full_marks'] else '**no**'} |")  # fmt: skip

    return ["", f"A folder graded side by side (`python benchmarks/grade.py --jobs 2 --copies 4`, "
            f"{after['card']}, {after['cpu_cores']} cores, torch {after['torch']}, {after['date']}): copies of "
            "both solution notebooks, one `fundiff-grade --jobs 2` run (the earlier commit's \"with changes\": "
            "this benchmark script, run on its code).", "",
            "| grading processes | commit | submissions | seconds | per submission | all full marks |",
            "| --- | --- | ---: | ---: | ---: | --- |",
            row(before, "torch's whole count each, waiting threads spin"),
            row(after, "a share of the count each, waiting threads asleep")]  # fmt: skip


def contention(bench: Path) -> list[str]:
    """The section on shared cores: the thread settings compared, then the commands under the policy."""
    threads = json.loads((bench / "results_threads_cpu.json").read_text())
    commands = json.loads((bench / "results_cpu_contention_cpu.json").read_text())

    def table(result: dict) -> list[str]:
        rows = ["| command | threads | idle (s) | beside busy (s) | ratio | within goal |",
                "| --- | --- | ---: | ---: | ---: | --- |"]  # fmt: skip
        rows += [f"| {r['command']} | {r['setting']} | {r['idle_seconds']:.1f} | {r['busy_seconds']:.1f} | "
                 f"{r['ratio']:.2f} | {'yes' if r['meets_goal'] else '**no**'} |" for r in result["rows"]]  # fmt: skip
        return rows

    def where(r: dict) -> str:
        return (f"{r['cores_usable']} cores of {r['card']}, torch {r['torch']}, {r['date']}, beside "
                f"{r['busy_processes']} busy processes")  # fmt: skip

    return ["", "## Shared cores: threads, and the commands beside busy processes", "",
            "`benchmarks/cpu_contention.py` runs each command as a newcomer does, in a fresh process, "
            "once on an idle machine and once beside as many spinning processes as there are cores "
            f"(a browser and JupyterLab beside a notebook, submissions graded side by side). Goal: "
            f"beside them, no command slower than {commands['goal_ratio']:g}x its idle time.", "",
            f"Thread settings compared (`{threads['invocation']}`, {where(threads)}): a count is "
            "`--threads N` with OpenMP's default wait policy (waiting threads spin); `-passive` adds "
            "`OMP_WAIT_POLICY=PASSIVE` (they sleep); `-interop1` one inter-op thread. "
            "fundiff's policy (`fundiff.threads`, the `auto` of `--threads` and `FUNDIFF_THREADS`) "
            "was chosen from these rows.", "", *table(threads), "",
            f"The commands under that policy (`{commands['invocation']}`, {where(commands)}):", "",
            *table(commands)]  # fmt: skip


def generate(app: Sphinx) -> None:
    """Write ``_generated/`` under the documentation's source folder, unless it is current."""
    import nbformat

    from fundiff.data import pin_data_env

    pin_data_env()  # the notebooks run in other folders: a relative $FUNDIFF_DATA means this one
    out = Path(app.srcdir) / "_generated"
    out.mkdir(exist_ok=True)
    page, text = out / "performance.md", performance()  # cheap: made on every build
    if not page.is_file() or page.read_text() != text:  # rewritten only when changed, so an
        page.write_text(text)  # unchanged build re-reads nothing
    stamp = out / "STAMP"
    key = _digest()
    if stamp.is_file() and stamp.read_text() == key and not os.environ.get("FUNDIFF_DOCS_FRESH"):
        return
    for stale in ("notebooks", "demo"):
        shutil.rmtree(out / stale, ignore_errors=True)
    (out / "notebooks").mkdir(parents=True)
    demo, solved = (os.environ.get(f"FUNDIFF_DOCS_{k}") for k in ("DEMO", "SOLVED"))
    (out / "gallery.md").write_text(gallery(out, Path(demo) if demo else None))
    for name in ASSIGNMENTS:
        notebook = rendered(
            name, out / "scratch" / name, Path(solved) / f"{name}.ipynb" if solved else None
        )
        nbformat.write(notebook, out / "notebooks" / f"{name}.ipynb")
    shutil.rmtree(out / "scratch", ignore_errors=True)
    stamp.write_text(key)


def setup(app: Sphinx) -> dict[str, object]:
    app.connect("builder-inited", generate)
    return {"parallel_read_safe": True, "version": "1"}
