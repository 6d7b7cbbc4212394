"""Time fundiff's commands on an idle machine and beside N busy processes (N = the cores it may use).

Each command runs as a newcomer runs it, a fresh ``python -m fundiff ...`` process from
the repository root, under each thread setting asked for:

- ``auto``: ``python -m fundiff ...`` with nothing passed: the command's own policy
  (``fundiff.threads``);
- ``N``: ``--threads N`` with OpenMP's own wait policy (torch is loaded before the
  command runs, so the command's ``OMP_WAIT_POLICY`` comes too late): torch's default
  behaviour, where waiting threads spin;
- ``N-passive``: ``--threads N`` with ``OMP_WAIT_POLICY=PASSIVE`` (waiting threads sleep);
- ``N-interop1``: as ``N``, with torch's inter-op pool set to one thread first.

Commands: ``quickstart`` (README's training run), ``demo`` (``fundiff demo``),
``part-a`` (``fundiff part-a iterative``), and ``train-short`` (the quick start's run on
1,280 images for one epoch, to compare settings where the full run would take too long
under a bad one). Each run is repeated (``--repeat``) and its median kept. Prints one JSON
object: the machine, each run's seconds idle and busy, their ratio, and whether it meets the
goal (busy <= 2.5x idle). Nothing asserts a time.

    python benchmarks/cpu_contention.py --data-dir ../shared/data \\
        [--commands quickstart demo part-a] [--settings auto] [--busy N] [--repeat 1] [--out FILE]
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

# this script's folder is first on the path of ``python benchmarks/cpu_contention.py``
from load import busy
from machine import machine

ROOT = Path(__file__).resolve().parent.parent
GOAL = 2.5
"""The issue's goal: no command slower than this many times its idle time beside N busy processes."""

COMMANDS = {
    "quickstart": ["train", "flow-class", "--data-dir", "{data}", "--limit", "12800", "--epochs", "3",
                   "--hidden", "32", "--out", "{out}/quickstart", "--no-progress"],
    "train-short": ["train", "flow-class", "--data-dir", "{data}", "--limit", "1280", "--epochs", "1",
                    "--hidden", "32", "--out", "{out}/short", "--no-progress"],
    "demo": ["demo", "--out", "{out}/demo", "--no-progress"],
    "part-a": ["part-a", "iterative", "--out", "{out}/part_a", "--no-progress"],
}  # fmt: skip
"""Each command's arguments after ``fundiff``; ``{data}`` and ``{out}`` are filled in per run."""

TORCH_FIRST = (
    "import sys, torch; {}from fundiff.cli import main; raise SystemExit(main(sys.argv[1:]))"
)
"""A ``python -c`` program that loads torch (and OpenMP) before fundiff's command line runs."""


def invocation(
    command: str, setting: str, data: Path, out: Path
) -> tuple[list[str], dict[str, str]]:
    """The argv and environment of one run of ``command`` under ``setting``."""
    words = [w.format(data=data, out=out) for w in COMMANDS[command]]
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("FUNDIFF_THREADS", "OMP_NUM_THREADS", "OMP_WAIT_POLICY")
    }
    count, _, variant = setting.partition("-")
    if count != "auto":
        words += ["--threads", count]
    if variant == "passive":
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    if count == "auto":
        start = [sys.executable, "-m", "fundiff"]
    else:
        interop = "torch.set_num_interop_threads(1); " if variant == "interop1" else ""
        start = [sys.executable, "-c", TORCH_FIRST.format(interop)]
    return [*start, *words], env


def seconds(command: str, setting: str, data: Path) -> float:
    """Wall seconds of one run, in a fresh output folder."""
    with tempfile.TemporaryDirectory() as out:
        argv, env = invocation(command, setting, data, Path(out))
        start = time.perf_counter()
        done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(
            f"{' '.join(argv[2:])} failed ({done.returncode}): {done.stderr.strip()[-500:]}"
        )
    return elapsed


def setting_name(text: str) -> str:
    """argparse type of a setting: ``auto``, ``N``, ``N-passive`` or ``N-interop1``."""
    count, _, variant = text.partition("-")
    if (count == "auto" and not variant) or (
        count.isdigit() and int(count) > 0 and variant in ("", "passive", "interop1")
    ):
        return text
    raise argparse.ArgumentTypeError(
        f"{text!r}: give auto, N, N-passive or N-interop1 (N a positive integer)"
    )


def main() -> None:
    """Parse the flags, time every command under every setting idle then busy, print JSON."""
    cores = len(os.sched_getaffinity(0))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir", type=Path, required=True, help="folder with MNIST's IDX files"
    )
    parser.add_argument(
        "--commands", nargs="+", choices=COMMANDS, default=["quickstart", "demo", "part-a"]
    )
    parser.add_argument("--settings", nargs="+", type=setting_name, default=["auto"])
    parser.add_argument(
        "--busy", type=int, default=cores, help=f"busy processes (default: the {cores} cores)"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of each, idle and busy; the median is kept"
    )
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args()
    data = args.data_dir.expanduser().resolve()  # the runs start in the repository root
    rows = []
    for command in args.commands:
        for setting in args.settings:
            idle = statistics.median(seconds(command, setting, data) for _ in range(args.repeat))
            with busy(args.busy):
                loaded = statistics.median(
                    seconds(command, setting, data) for _ in range(args.repeat)
                )
            ratio = loaded / idle
            rows.append({"command": command, "setting": setting, "idle_seconds": round(idle, 2),
                         "busy_seconds": round(loaded, 2), "ratio": round(ratio, 2), "meets_goal": ratio <= GOAL})  # fmt: skip
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    result = {**machine("cpu"), "cores_usable": cores, "busy_processes": args.busy, "repeat": args.repeat, "goal_ratio": GOAL,
              "invocation": " ".join(["python", "benchmarks/cpu_contention.py", *sys.argv[1:]]), "rows": rows}  # fmt: skip
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
