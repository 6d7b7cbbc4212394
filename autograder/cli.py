"""``fundiff-grade SUBMISSION [--out results.json] [--device cpu|cuda] [--jobs N]``: grade a notebook or .py
module, or every one in a folder.

Submissions run confined (``autograder.confinement``); where no confinement works the command
refuses, unless ``--unconfined`` is given, which results.json and the summary then record."""

from __future__ import annotations

import argparse
import concurrent.futures
import multiprocessing
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from autograder.confinement import Confinement, ConfinementError

EXIT_BAD_INPUT = 2


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
    if "confinement" in result:
        lines.append(f"  {result['confinement']}")
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


def write_results(path: Path, result: dict[str, Any]) -> None:
    """Write ``result`` to ``path`` atomically: a new file (never through a link) renamed over it.

    Args:
        path: the results file.
        result: the results dict.
    """
    import json
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "w") as f:
            json.dump(result, f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # a link at ``path`` is replaced, not followed
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def grade_one(path: Path, out: Path, options: dict[str, Any]) -> str:
    """Grade ``path`` and write its results to ``out`` whatever happens; returns the summary.

    Args:
        path: the submission, a notebook (.ipynb) or a .py module.
        out: the results file to write (JSON).
        options: keyword arguments of ``autograder.runner.grade`` (confinement, assignment,
            timeout, device, threads, max_seconds).

    Returns:
        The submission's file name and ``summary`` of its result.
    """
    from autograder.redact import clean
    from autograder.runner import grade
    from autograder.submission import SubmissionError

    try:
        result = grade(path, **options)
    except SubmissionError as err:
        result = failed_result(clean(str(err)))
    except Exception as err:  # noqa: BLE001 (the grader's own failure still leaves a results file)
        result = failed_result(f"the grader failed ({type(err).__name__}); tell your instructor")
        traceback.print_exc()
    write_results(out, result)
    return f"{path.name}: {summary(result)}"


def grading_threads(jobs: int) -> int | None:
    """Torch threads of each grading process when ``jobs`` grade side by side.

    The grading processes compute the reference while workers run submissions; with
    torch's own count in each, ``jobs`` processes' threads fight for the same cores.
    Each gets an equal share of torch's count (at least one); ``$FUNDIFF_THREADS``
    overrides it.

    Args:
        jobs: submissions graded at once.

    Returns:
        The count, or None where ``$FUNDIFF_THREADS`` decides.
    """
    from fundiff.threads import ENV_VAR, policy_threads

    if os.environ.get(ENV_VAR, "").strip():
        return None
    return max(1, policy_threads() // jobs)


def _grading_process(threads: int | None) -> None:
    """A grading process's start: its torch thread count (the wait policy came with its environment)."""
    from fundiff.threads import use_threads

    use_threads(threads)


def grading_pool(jobs: int) -> concurrent.futures.ProcessPoolExecutor:
    """``jobs`` grading processes, spawned (not forked from here), each with its share of threads.

    They are reused from one submission to the next; each submission still gets a fresh worker.

    Args:
        jobs: submissions graded at once.

    Returns:
        The pool (a context manager).
    """
    return concurrent.futures.ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                                                  initializer=_grading_process,
                                                  initargs=(grading_threads(jobs),))  # fmt: skip


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fundiff-grade", description=(__doc__ or "").split("``:")[1].strip()
    )
    p.add_argument("submission", type=Path, nargs="?",
                   help="a course notebook (.ipynb) or .py module, or a folder of them")  # fmt: skip
    p.add_argument("--out", type=Path, default=Path("results.json"),
                   help="results file (for a folder: a folder, one SUBMISSION.json each)")  # fmt: skip
    p.add_argument(
        "--assignment",
        choices=("part_a", "part_b"),
        help="default: from the names the code defines",
    )
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where the checks run")
    p.add_argument("--jobs", type=int, default=1, help="submissions graded at once (for a folder)")
    p.add_argument("--timeout", type=float, default=30.0,
                   help="CPU seconds each call of the submission may take (a call that computes nothing for "
                        "20 s while it could run is stopped too)")  # fmt: skip
    p.add_argument("--max-seconds", type=float, default=600.0,
                   help="wall-clock seconds one submission may take in all; past it, its checks left fail")  # fmt: skip
    p.add_argument("--unconfined", action="store_true",
                   help="grade without confinement where none works (the submission runs with your rights); "
                        "recorded in results.json")  # fmt: skip
    p.add_argument("--check-confinement", action="store_true",
                   help="prepare grading here (student build, protections), say how submissions would be "
                        "confined, and exit: 0 if they would be, 2 if not")  # fmt: skip
    return p


def prepare(unconfined: bool, results: list[Path]) -> Confinement:
    """Choose the confinement, build the student view, and protect what the worker must not reach.

    Args:
        unconfined: grade without confinement (``--unconfined``).
        results: the folders results go to.

    Returns:
        The confinement.

    Raises:
        ConfinementError: none works, or the worker's user could reach a reference source or
            a results folder.
    """
    from autograder import confinement, users
    from autograder.site import student_site

    chosen = confinement.choose(unconfined)
    student_site()  # built once, before any grader uses it
    if chosen.own_user and not chosen.bwrap:
        confinement.protect([*confinement.installation(), confinement.cache_root()])
        with users.worker_user() as uid:
            confinement.check_open(uid, results)
    return chosen


def main(argv: list[str] | None = None) -> int:
    """``fundiff-grade``: returns the exit status (2 for a bad command line).

    Args:
        argv: the command-line arguments; None: ``sys.argv[1:]``.

    Returns:
        The exit status: 0 once every submission is graded, 2 for a bad command line.
    """
    from fundiff.threads import sleep_while_waiting

    sleep_while_waiting()  # before torch loads here or in a grading process started from here
    args = _parser().parse_args(argv)

    def bad(message: str) -> int:
        print(f"fundiff-grade: error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT

    if args.jobs < 1:
        return bad(f"--jobs {args.jobs}: give 1 or more")
    for flag, value in (("--timeout", args.timeout), ("--max-seconds", args.max_seconds)):
        if not value > 0:
            return bad(f"{flag} {value:g}: give a positive number of seconds")
    if args.check_confinement:
        try:
            print(prepare(args.unconfined, [args.out.resolve().parent]).describe())
        except ConfinementError as err:
            return bad(str(err))
        return 0
    if args.submission is None:
        return bad(
            "give the submission to grade: a course notebook (.ipynb), a .py module, or a folder of them"
        )
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            return bad("--device cuda: no CUDA GPU here; grade with --device cpu")
    if not args.submission.exists():
        message = (f"{args.submission}: no such file or folder; give a course notebook (.ipynb), "
                   "a .py module, or a folder of them")  # fmt: skip
        if (
            args.submission.suffix in (".ipynb", ".py")
            and args.out.suffix == ".json"
            and args.out.parent.is_dir()
        ):
            write_results(
                args.out, failed_result(message)
            )  # a results file, whatever was handed in
        return bad(message)
    many = args.submission.is_dir()
    if many and args.out.is_file():
        return bad(f"--out {args.out} is a file; for a folder of submissions give a folder")
    if not many and not args.out.parent.is_dir():
        return bad(f"--out {args.out}: its folder does not exist; create it or give another path")
    paths = (sorted(q for q in args.submission.iterdir() if q.suffix in (".ipynb", ".py"))
             if many else [args.submission])  # fmt: skip
    if many:
        args.out.mkdir(parents=True, exist_ok=True)
    try:
        chosen = prepare(args.unconfined, [(args.out if many else args.out.parent).resolve()])
    except ConfinementError as err:
        return bad(str(err))
    if not chosen.confined:
        print(f"fundiff-grade: warning: {chosen.describe()}", file=sys.stderr)
    jobs = min(args.jobs, len(paths)) or 1
    # one thread per worker: the checks' tensors are small, and a call's CPU seconds then measure its work
    options = {"confinement": chosen, "assignment": args.assignment, "timeout": args.timeout,
               "device": args.device, "threads": 1, "max_seconds": args.max_seconds}  # fmt: skip
    outs = [args.out / f"{p.stem}.json" if many else args.out for p in paths]
    if jobs == 1:
        for path, out in zip(paths, outs, strict=True):
            print(grade_one(path, out, options), flush=True)
        return 0
    with grading_pool(jobs) as pool:
        futures = [pool.submit(grade_one, p, o, options) for p, o in zip(paths, outs, strict=True)]
        for future in concurrent.futures.as_completed(futures):
            print(future.result(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
