"""``fundiff-gradescope OUT.zip``: build the Gradescope autograder zip of fundiff's course.

The zip holds ``setup.sh``, ``run_autograder`` and ``source/`` (the parts of this
repository the grader needs: fundiff, and the autograder with its graded table).

``setup.sh`` runs once, as root, when Gradescope builds the image: it installs
bubblewrap (used where the image lets it run), fundiff with its autograder into
a virtual environment (not editable: the repository is not needed afterwards),
closes the source folder to other users, builds the student view of fundiff,
protects the installation and caches, and checks as a worker's user that no
reference is readable (``fundiff-grade --check-confinement``): a setup that
would grade unconfined fails here, not on the first submission.

``run_autograder`` runs for each submission: it closes the submission and
results folders to other users, grades the one notebook or module handed in as
a uid of its own (under bubblewrap too where it runs), and leaves a valid
``/autograder/results/results.json`` whatever happens, the grader's death
included.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "README.md", "fundiff", "autograder")  # the graded table inside

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when the autograder image is built.
set -euo pipefail
root="${AUTOGRADER_ROOT:-/autograder}"
apt-get update && apt-get install -y --no-install-recommends bubblewrap python3-pip python3-venv
python3 -m venv "$root/venv"
"$root/venv/bin/pip" install --upgrade pip
# CPU wheels of torch (Gradescope's graders have no GPU); fundiff's pins admit them
"$root/venv/bin/pip" install torch torchvision --index-url https://download.pytorch.org/whl/cpu
"$root/venv/bin/pip" install "$root/source"
chmod -R go-rwx "$root/source"   # the reference and the checks: root's alone
mkdir -p "$root/results" && chmod 700 "$root/results"
# the student view built, every installed copy and the caches protected, and no reference open to a worker's user
cd "$root/source" && "$root/venv/bin/python" -m autograder.cli --check-confinement --out "$root/results/results.json"
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this for each submission; it always leaves a valid results file.
root="${AUTOGRADER_ROOT:-/autograder}"
python="${AUTOGRADER_PYTHON:-$root/venv/bin/python}"
results="$root/results/results.json"
mkdir -p "$root/results" && chmod 700 "$root/results" "$root/submission" 2>/dev/null
rm -f "$results"
submission=$(find "$root/submission" -maxdepth 2 -type f \\( -name '*.ipynb' -o -name '*.py' \\) | sort | head -n 1)
cd "$root/source"
"$python" -m autograder.cli "${submission:-$root/submission/missing.ipynb}" --out "$results"
"$python" -m autograder.gradescope --ensure-results "$results" \\
  || printf '%s\\n' '{"score": 0, "execution_time": 0, "tests": [], "output": "The grader failed before it could write results; tell your instructor."}' > "$results"
exit 0
"""


def ensure_results(path: Path) -> bool:
    """Leave a valid results file at ``path``: the grader's, or one that says the grader failed.

    Args:
        path: where Gradescope reads results.json.

    Returns:
        Whether the grader's own file was there and valid.
    """
    try:
        result = json.loads(path.read_text()) if path.is_file() and not path.is_symlink() else None
        valid = (
            isinstance(result, dict) and isinstance(result.get("tests"), list) and "score" in result
        )
    except (OSError, ValueError):
        valid = False
    if not valid:
        from autograder.cli import failed_result, write_results

        write_results(path, failed_result("The grader stopped before it wrote results; your submission "
                                          "was not graded. Tell your instructor."))  # fmt: skip
    return valid


def _add(z: zipfile.ZipFile, path: Path, name: str) -> None:
    if path.is_dir():
        for child in sorted(path.rglob("*")):
            if child.is_file() and "__pycache__" not in child.parts:
                z.write(child, f"{name}/{child.relative_to(path)}")
    else:
        z.write(path, name)


def _executable(z: zipfile.ZipFile, name: str, text: str) -> None:
    info = zipfile.ZipInfo(name)
    info.external_attr = 0o755 << 16
    z.writestr(info, text)


def build_zip(out: Path) -> Path:
    """Write the autograder zip to ``out`` (atomically) and return it.

    Args:
        out: the zip file to write; its folder is created.

    Returns:
        ``out``.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=out.name + ".", dir=out.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
            _executable(z, "setup.sh", SETUP)
            _executable(z, "run_autograder", RUN)
            for rel in SOURCES:
                _add(z, ROOT / rel, f"source/{rel}")
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def main(argv: list[str] | None = None) -> int:
    """``fundiff-gradescope``: returns the exit status (2 for a bad path).

    Args:
        argv: the command-line arguments; None: ``sys.argv[1:]``.

    Returns:
        The exit status: 0 once the zip is written, 2 for a path that does not end in .zip.
    """
    p = argparse.ArgumentParser(
        prog="fundiff-gradescope", description=(__doc__ or "").splitlines()[0].split(": ")[1]
    )
    p.add_argument("out", type=Path, help="the zip to write, e.g. autograder.zip")
    p.add_argument("--ensure-results", action="store_true",
                   help="instead: leave a valid results file at OUT (run_autograder calls this last)")  # fmt: skip
    args = p.parse_args(argv)
    if args.ensure_results:
        ensure_results(args.out)
        return 0
    if args.out.suffix != ".zip" or args.out.is_dir():
        print(f"fundiff-gradescope: error: {args.out}: give a path ending in .zip", file=sys.stderr)
        return 2
    print(build_zip(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
