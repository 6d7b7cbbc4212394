"""``fundiff-grade SUBMISSION [--out results.json]``: grade a notebook or .py module (or a folder of them)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fundiff.atomic import write_json


def _summary(result: dict) -> str:
    total = sum(t["max_score"] for t in result["tests"])
    lines = [
        f"score {result['score']:g} / {total:g}  ({result['output']}; {result['execution_time']:.1f} s)"
    ]
    lines += [
        f"  {'ok  ' if t['score'] == t['max_score'] else 'FAIL'} {t['name']}: {t['output']}"
        for t in result["tests"]
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="fundiff-grade", description=__doc__.splitlines()[0])
    p.add_argument(
        "submission",
        type=Path,
        help="a course notebook (.ipynb) or .py module, or a folder of them",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("results.json"),
        help="results file (a folder: one per submission)",
    )
    p.add_argument(
        "--assignment",
        choices=("part_a", "part_b"),
        help="default: from the names the code defines",
    )
    p.add_argument(
        "--timeout", type=float, default=20.0, help="seconds each call of the submission may take"
    )
    args = p.parse_args(argv)
    from autograder.runner import grade
    from autograder.submission import SubmissionError

    if not args.submission.exists():
        print(f"fundiff-grade: error: {args.submission}: no such file or folder; give a course notebook (.ipynb), "
              "a .py module, or a folder of them", file=sys.stderr)  # fmt: skip
        return 2
    many = args.submission.is_dir()
    if many:
        args.out.mkdir(parents=True, exist_ok=True)
    paths = (
        sorted(q for q in args.submission.iterdir() if q.suffix in (".ipynb", ".py"))
        if many
        else [args.submission]
    )
    for path in paths:
        try:
            result = grade(path, assignment=args.assignment, timeout=args.timeout)
        except SubmissionError as err:
            result = {"score": 0.0, "execution_time": 0.0, "tests": [], "output": str(err)}
        out = args.out / f"{path.stem}.json" if many else args.out
        write_json(out, result)
        print(f"{path.name}: {_summary(result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
