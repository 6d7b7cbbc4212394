"""Time fundiff-grade on one full submission (each course solution notebook), on the CPU or a GPU.

Prints one JSON object: the machine (card, torch, date) and, per notebook, the
seconds fundiff-grade took end to end (its own process, the student build of
fundiff already cached, as on a grading server after setup), its score and
the grader's own ``execution_time``. Nothing here asserts a time.

    python benchmarks/grade.py [--device cpu|cuda] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.machine import machine  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--repeat", type=int, default=2)
    args = p.parse_args()
    from autograder.site import student_site

    student_site()  # built once, as setup.sh does on a grading server
    report: dict[str, object] = {**machine(args.device), "notebooks": {}}
    with tempfile.TemporaryDirectory() as scratch:
        for part in ("part_a", "part_b"):
            notebook = ROOT / "solutions" / part / f"{part}.ipynb"
            walls, results = [], []
            for _ in range(args.repeat):
                out = Path(scratch) / f"{part}.json"
                start = time.perf_counter()
                subprocess.run([sys.executable, "-m", "autograder.cli", str(notebook), "--out", str(out),
                                "--device", args.device], check=True, cwd=ROOT, capture_output=True)  # fmt: skip
                walls.append(time.perf_counter() - start)
                results.append(json.loads(out.read_text()))
            report["notebooks"][part] = {  # type: ignore[index]
                "seconds": [round(w, 2) for w in walls],
                "median_seconds": round(statistics.median(walls), 2),
                "grader_execution_time": [r["execution_time"] for r in results],
                "score": results[-1]["score"],
                "max_score": sum(t["max_score"] for t in results[-1]["tests"]),
            }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
