"""``fundiff-grade SUBMISSION [--out results.json] [--device cpu|cuda] [--jobs N]``: grade a notebook or .py
module, or every one in a folder."""

from __future__ import annotations

import argparse
import concurrent.futures
import multiprocessing
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from fundiff.atomic import write_json


def summary(result: dict[str, Any]) -> str:
    """A readable account of a result: the score, then one line per check.

    Args:
        result: a results dict as ``autograder.runner.grade`` returns it.

    Returns:
        The account, lines joined by newlines.
    """
    total = sum(t["max_score"] for t in result["tests"])
    lines = [
        f"score {result['score']:g} / {total:g}  ({result['output']}; {result['execution_time']:.1f} s)"
    ]
    lines += [f"  {'ok  ' if t['score'] == t['max_score'] else 'FAIL'} {t['name']}: {t['output']}"
              for t in result["tests"]]  # fmt: skip
    return "\n".join(lines)


def failed_result(message: str) -> dict[str, Any]:
    """The results file of a submission that could not be graded at all.

    Args:
        message: why it could not be graded, shown to the student.

    Returns:
        A results dict with score 0 and no checks.
    """
    return {"score": 0.0, "execution_time": 0.0, "tests": [], "output": message}


def grade_one(path: Path, out: Path, options: dict[str, Any]) -> str:
    """Grade ``path`` and write its results to ``out`` whatever happens; returns the summary.

    Args:
        path: the submission, a notebook (.ipynb) or a .py module.
        out: the results file to write (JSON).
        options: keyword arguments of ``autograder.runner.grade`` (assignment, timeout,
            device, threads).

    Returns:
        The submission's file name and ``summary`` of its result.
    """
    from autograder.runner import grade
    from autograder.submission import SubmissionError

    try:
        result = grade(path, **options)
    except SubmissionError as err:
        result = failed_result(str(err))
    except Exception as err:  # noqa: BLE001 (the grader's own failure still leaves a results file)
        result = failed_result(
            f"the grader failed ({type(err).__name__}: {err}); tell your instructor"
        )
        traceback.print_exc()
    write_json(out, result)
    return f"{path.name}: {summary(result)}"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fundiff-grade", description=(__doc__ or "").split("``:")[1].strip()
    )
    p.add_argument(
        "submission",
        type=Path,
        help="a course notebook (.ipynb) or .py module, or a folder of them",
    )
    p.add_argument("--out", type=Path, default=Path("results.json"),
                   help="results file (for a folder: a folder, one SUBMISSION.json each)")  # fmt: skip
    p.add_argument(
        "--assignment",
        choices=("part_a", "part_b"),
        help="default: from the names the code defines",
    )
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where the checks run")
    p.add_argument("--jobs", type=int, default=1, help="submissions graded at once (for a folder)")
    p.add_argument(
        "--timeout", type=float, default=30.0, help="seconds each call of the submission may take"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    """``fundiff-grade``: returns the exit status (2 for a bad command line).

    Args:
        argv: the command-line arguments; None: ``sys.argv[1:]``.

    Returns:
        The exit status: 0 once every submission is graded, 2 for a bad command line.
    """
    args = _parser().parse_args(argv)

    def bad(message: str) -> int:
        print(f"fundiff-grade: error: {message}", file=sys.stderr)
        return 2

    if args.jobs < 1:
        return bad(f"--jobs {args.jobs}: give 1 or more")
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            return bad("--device cuda: no CUDA GPU here; grade with --device cpu")
    if not args.submission.exists():
        message = (f"{args.submission}: no such file or folder; give a course notebook (.ipynb), "
                   "a .py module, or a folder of them")  # fmt: skip
        if args.submission.suffix in (".ipynb", ".py") and args.out.suffix == ".json":
            write_json(args.out, failed_result(message))  # a results file, whatever was handed in
        return bad(message)
    many = args.submission.is_dir()
    if many and args.out.is_file():
        return bad(f"--out {args.out} is a file; for a folder of submissions give a folder")
    paths = (sorted(q for q in args.submission.iterdir() if q.suffix in (".ipynb", ".py"))
             if many else [args.submission])  # fmt: skip
    if many:
        args.out.mkdir(parents=True, exist_ok=True)
    jobs = min(args.jobs, len(paths)) or 1
    options = {"assignment": args.assignment, "timeout": args.timeout, "device": args.device,
               "threads": max(1, (os.cpu_count() or 1) // jobs)}  # fmt: skip
    outs = [args.out / f"{p.stem}.json" if many else args.out for p in paths]
    if jobs == 1:
        for path, out in zip(paths, outs, strict=True):
            print(grade_one(path, out, options), flush=True)
        return 0
    from autograder.site import student_site

    student_site()  # built once, before the graders share it
    # grading processes are reused (each submission still gets a fresh worker); spawned, not forked from here
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=context) as pool:
        futures = [pool.submit(grade_one, p, o, options) for p, o in zip(paths, outs, strict=True)]
        for future in concurrent.futures.as_completed(futures):
            print(future.result(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
