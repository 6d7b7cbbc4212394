"""``fundiff-gradescope OUT.zip``: build the Gradescope autograder zip of fundiff's course.

The zip holds ``setup.sh`` (installs bubblewrap, fundiff with its autograder, and
builds the student view of fundiff once), ``run_autograder`` (grades the one
notebook or module in ``/autograder/submission`` into
``/autograder/results/results.json``) and ``source/``: the parts of this
repository the grader needs (fundiff, the autograder, the notebook specs).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "README.md", "fundiff", "autograder", "solutions/src",
           "solutions/build_course.py", "solutions/build_student_wheel.py")  # fmt: skip

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when the autograder image is built.
set -euo pipefail
apt-get update && apt-get install -y --no-install-recommends bubblewrap python3-pip python3-venv
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install --upgrade pip
# CPU wheels of torch (Gradescope's graders have no GPU); fundiff's pins admit them
/autograder/venv/bin/pip install torch torchvision --index-url https://download.pytorch.org/whl/cpu
/autograder/venv/bin/pip install /autograder/source
# the student view of fundiff, built once (grading then only reads it)
cd /autograder/source
/autograder/venv/bin/python -c "from autograder.site import student_site; print(student_site())"
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this for each submission; it always leaves a results file.
root="${AUTOGRADER_ROOT:-/autograder}"
python="${AUTOGRADER_PYTHON:-$root/venv/bin/python}"
mkdir -p "$root/results"
submission=$(find "$root/submission" -maxdepth 2 -type f \\( -name '*.ipynb' -o -name '*.py' \\) | sort | head -n 1)
cd "$root/source"
"$python" -m autograder.cli "${submission:-$root/submission/missing.ipynb}" --out "$root/results/results.json"
exit 0
"""


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
    args = p.parse_args(argv)
    if args.out.suffix != ".zip" or args.out.is_dir():
        print(f"fundiff-gradescope: error: {args.out}: give a path ending in .zip", file=sys.stderr)
        return 2
    print(build_zip(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
