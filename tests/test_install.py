"""Does a plain, non-editable ``pip install`` of this repository carry all the grader needs,
so that ``fundiff-grade`` gives a solved notebook full marks from a folder far from any checkout?"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
INSTALLED = (
    "pyproject.toml",
    "README.md",
    "fundiff",
    "autograder",
)  # what pip builds the wheel from

pytestmark = pytest.mark.slow


def _environment(home: Path) -> dict[str, str]:
    """This process's environment without anything that points Python at a checkout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    return {**env, "HOME": str(home), "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment with this repository installed in it, not editable.

    Its dependencies (and pip, and setuptools to build with) come from this environment's
    site-packages, named in a ``.pth`` file (nothing is downloaded). A folder named there has its own ``.pth`` files left
    unread, so this environment's editable install of fundiff does not reach it.
    """
    scratch = tmp_path_factory.mktemp("install")
    # the worktree's installed parts, copied: pip's build writes build/ and egg-info beside its
    # sources, and a build/ in the repository is a reference source the grader refuses to leave open
    source = scratch / "source"
    source.mkdir()
    for name in INSTALLED:
        if (ROOT / name).is_dir():
            shutil.copytree(
                ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy(ROOT / name, source / name)
    venv = scratch / "venv"
    env = _environment(scratch)
    # without pip: pip and setuptools come through the .pth too (the venv's own setuptools would
    # come first, and Python 3.11's bundled one builds no wheel)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, env=env)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             capture_output=True, text=True, check=True, env=env).stdout.strip()  # fmt: skip
    (Path(purelib) / "fundiff_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "."],
                   check=True, cwd=source, env=env)  # fmt: skip
    shutil.rmtree(source)  # nothing of the repository is left beside the installation
    return venv


def test_a_fresh_install_grades_a_solved_notebook_with_full_marks(
    fresh_venv: Path, tmp_path: Path
) -> None:
    """From an unrelated folder, does the fresh install's fundiff-grade give part B full marks?"""
    env = _environment(tmp_path / "home")
    purelib = subprocess.run([str(fresh_venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             capture_output=True, text=True, check=True, env=env).stdout.strip()  # fmt: skip
    where = subprocess.run([str(fresh_venv / "bin" / "python"), "-c",
                            "import fundiff, autograder.course.graded as g; print(fundiff.__file__); print(g.TABLE)"],
                           capture_output=True, text=True, check=True, env=env, cwd=tmp_path).stdout.split()  # fmt: skip
    for path in where:
        assert Path(path).is_relative_to(purelib), f"{path} is not the fresh install's ({purelib})"
        assert not Path(path).is_relative_to(ROOT), path
    folder = tmp_path / "submissions"
    folder.mkdir()
    notebook = Path(shutil.copy(ROOT / "solutions" / "part_b" / "part_b.ipynb", folder))
    done = subprocess.run([str(fresh_venv / "bin" / "fundiff-grade"), notebook.name, "--out", "results.json"],
                          capture_output=True, text=True, env=env, cwd=folder, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((folder / "results.json").read_text())
    total = sum(t["max_score"] for t in result["tests"])
    failed = [t["name"] for t in result["tests"] if t["score"] != t["max_score"]]
    assert total > 0 and result["score"] == total and failed == [], (failed, done.stdout[-3000:])
