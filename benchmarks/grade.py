"""Time fundiff-grade on one full submission (each course solution notebook), on CPU cores and a GPU.

Prints one JSON object: the machine (card, torch, date) and, per run setting
(a device and the CPU cores the grader is pinned to, e.g. ``cpu:2``,
``cuda:2``, ``cuda:all``) and notebook, the seconds fundiff-grade took end to
end (its own process, the student build of fundiff already cached, as on a
grading server after setup), its score and the grader's own ``execution_time``.
``speedup`` divides the first setting's median by each other's: ratios
measured in this one run on this one machine. ``--busy N`` keeps N processes
spinning on the CPU throughout (a loaded grading box); the scores show whether
correct code keeps full marks there. ``--jobs J`` adds a folder run: ``--copies``
copies of each notebook graded by one ``fundiff-grade --jobs J`` on the first
setting's cores (a grading box working through a class), its seconds per
submission and whether every copy scored full marks. The confinement the grader
used is recorded. Nothing here asserts a time.

    python benchmarks/grade.py [--runs cpu:2 cuda:2 cuda:all] [--repeat 3] [--busy N] [--jobs J --copies K]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

# this script's folder is first on the path of ``python benchmarks/grade.py``
from load import busy
from machine import machine

ROOT = Path(__file__).resolve().parent.parent

PARTS = ("part_a", "part_b")


def time_grading(notebook: Path, device: str, cores: list[int], out: Path) -> tuple[float, dict]:
    """Seconds one ``fundiff-grade`` run took on ``cores``, and its results."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "autograder.cli", str(notebook), "--out", str(out), "--device", device],
                   check=True, cwd=ROOT, capture_output=True,
                   preexec_fn=lambda: os.sched_setaffinity(0, cores))  # fmt: skip
    return time.perf_counter() - start, json.loads(out.read_text())


def time_folder(copies: int, jobs: int, device: str, cores: list[int], scratch: Path) -> dict:
    """One ``fundiff-grade --jobs JOBS`` run over ``copies`` copies of each solution notebook, on ``cores``."""
    subs, out = scratch / "folder", scratch / "folder-results"
    subs.mkdir()
    for part in PARTS:
        for i in range(copies):
            (subs / f"{part}_{i:02d}.ipynb").write_bytes(
                (ROOT / "solutions" / part / f"{part}.ipynb").read_bytes()
            )
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "autograder.cli", str(subs), "--out", str(out), "--device", device,
                    "--jobs", str(jobs)], check=True, cwd=ROOT, capture_output=True,
                   preexec_fn=lambda: os.sched_setaffinity(0, cores))  # fmt: skip
    seconds = time.perf_counter() - start
    results = [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]
    return {"setting": f"{device}:{len(cores)}", "jobs": jobs, "submissions": len(results),
            "seconds": round(seconds, 2), "seconds_per_submission": round(seconds / len(results), 2),
            "all_full_marks": all(r["tests"] and r["score"] == sum(t["max_score"] for t in r["tests"])
                                  for r in results)}  # fmt: skip


def _changed() -> bool:
    """Whether the checkout's tracked files differ from its commit."""
    done = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                          text=True, cwd=ROOT)  # fmt: skip
    return bool(done.stdout.strip())


def setting(spec: str) -> tuple[str, list[int]]:
    """``cpu:2`` -> ("cpu", the first 2 cores this process may use); ``cuda:all`` -> all of them."""
    device, _, count = spec.partition(":")
    cores = sorted(os.sched_getaffinity(0))
    if device not in ("cpu", "cuda") or not (
        count == "all" or count.isdigit() and 0 < int(count) <= len(cores)
    ):
        raise argparse.ArgumentTypeError(
            f"{spec!r}: give DEVICE:CORES, DEVICE cpu or cuda, CORES 1-{len(cores)} or all"
        )
    return device, cores if count == "all" else cores[: int(count)]


def main() -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--runs", nargs="+", type=setting,
                   default=[setting(s) for s in (("cpu:2", "cuda:2", "cuda:all") if torch.cuda.is_available() else ("cpu:2",))],
                   help="DEVICE:CORES settings, the first one the baseline (default: cpu:2 cuda:2 cuda:all)")  # fmt: skip
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument(
        "--busy", type=int, default=0, help="processes kept spinning on the CPU meanwhile"
    )
    p.add_argument(
        "--jobs", type=int, default=0, help="also grade a folder with --jobs J (0: no folder run)"
    )
    p.add_argument(
        "--copies", type=int, default=6, help="copies of each notebook in the folder run"
    )
    args = p.parse_args()
    from autograder.site import student_site

    student_site()  # built once, as setup.sh does on a grading server
    on_gpu = any(device == "cuda" for device, _ in args.runs)
    report: dict[str, object] = {
        **machine("cuda" if on_gpu else "cpu"),
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
        ).stdout.strip()
        + (" (with changes)" if _changed() else ""),  # fmt: skip
        "busy_processes": args.busy,
        "runs": {},
    }
    medians: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as scratch, busy(args.busy):
        for device, cores in args.runs:
            name = f"{device}:{len(cores)}"
            rows = report["runs"].setdefault(name, {})  # type: ignore[union-attr]
            for part in PARTS:
                notebook = ROOT / "solutions" / part / f"{part}.ipynb"
                runs = [time_grading(notebook, device, cores, Path(scratch) / f"{part}.json")
                        for _ in range(args.repeat)]  # fmt: skip
                walls = [w for w, _ in runs]
                medians.setdefault(name, {})[part] = statistics.median(walls)
                rows[part] = {
                    "seconds": [round(w, 2) for w in walls],
                    "median_seconds": round(statistics.median(walls), 2),
                    "grader_execution_time": [r["execution_time"] for _, r in runs],
                    "scores": [r["score"] for _, r in runs],
                    "max_score": sum(t["max_score"] for t in runs[-1][1]["tests"]),
                    "confinement": runs[-1][1].get("confinement", ""),
                }
        if args.jobs:
            device, cores = args.runs[0]
            report["folder"] = time_folder(args.copies, args.jobs, device, cores, Path(scratch))
    base, *others = medians
    report["speedup"] = {f"{base} / {other}": {part: round(medians[base][part] / medians[other][part], 2)
                                               for part in PARTS} for other in others}  # fmt: skip
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
