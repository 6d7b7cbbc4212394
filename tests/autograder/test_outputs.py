"""The grader's other ways in: ``nbgrader autograde`` gives the points fundiff-grade gives, the Gradescope
zip grades a submission where Gradescope would, and bad command lines get one line and exit 2."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from tests.conftest import nbgrader

ROOT = Path(__file__).resolve().parents[2]


def _grade(path: Path, out: Path) -> dict:
    subprocess.run([sys.executable, "-m", "autograder.cli", str(path), "--out", str(out)], check=True,
                   capture_output=True, cwd=ROOT)  # fmt: skip
    return json.loads(out.read_text())


def _unfinished(part: str, undone: set[str], dest: Path) -> Path:
    """``part``'s solution notebook with the graded cells ``undone`` as released (their stubs raise
    NotImplementedError): a student's notebook handed in half-way."""
    nb = nbformat.read(ROOT / "solutions" / part / f"{part}.ipynb", as_version=4)
    release = nbformat.read(ROOT / "course" / part / f"{part}.ipynb", as_version=4)
    released = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in release.cells}
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
    assert undone <= set(cells) and undone <= set(released)
    for grade_id in undone:
        assert "NotImplementedError" in released[grade_id]
        cells[grade_id].source = released[grade_id]
    dest.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dest)
    return dest


@pytest.mark.slow
def test_nbgrader_autograde_gives_the_points_fundiff_grade_gives(mnist_dir: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """Does each graded test cell under nbgrader earn what fundiff-grade gives its check: the whole Part A
    solution, and a Part B notebook handed in with flow matching not yet written (each notebook run once,
    by autograde)?"""
    from nbgrader.api import Gradebook

    from autograder.notebook import cell_id

    monkeypatch.setenv("FUNDIFF_FAST", "1")
    monkeypatch.setenv("FUNDIFF_DATA", str(mnist_dir))
    course = tmp_path / "course"
    for part in ("part_a", "part_b"):
        (course / "source" / part).mkdir(parents=True)
        shutil.copy(ROOT / "solutions" / part / f"{part}.ipynb", course / "source" / part)
    db = f"sqlite:///{course}/gradebook.db"
    flags = [
        f"--CourseDirectory.root={course}",
        f"--CourseDirectory.db_url={db}",
        "--log-level=ERROR",
    ]
    flow = {"time_unet", "flow_loss", "euler", "class_unet", "cfg"}  # Part B's second half
    students = {  # student: (assignment, their notebook)
        "right": ("part_a", course / "submitted" / "right" / "part_a" / "part_a.ipynb"),
        "wrong": ("part_b", _unfinished("part_b", flow, course / "submitted" / "wrong" / "part_b" / "part_b.ipynb")),
    }  # fmt: skip
    students["right"][1].parent.mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / "part_a" / "part_a.ipynb", students["right"][1])
    for part in ("part_a", "part_b"):
        for command in (
            ["generate_assignment", part, "--force"],
            ["autograde", part, "--create", "--force"],
        ):
            done = nbgrader([*command, *flags], course)
            assert done.returncode == 0, (done.stdout + done.stderr)[-2000:]
    with Gradebook(db) as gradebook:
        for student, (part, path) in students.items():
            nb = gradebook.find_submission_notebook(part, part, student)
            by_cell = {g.name: g.score for g in nb.grades if g.name.startswith("check-")}
            result = _grade(path, tmp_path / f"{student}.json")
            by_check = {cell_id(t["nodeid"]): t["score"] for t in result["tests"]}
            assert by_cell == by_check, student
            assert (sum(by_cell.values()) == sum(t["max_score"] for t in result["tests"])) == (
                student == "right"
            )
            if student == "wrong":  # the first half's checks pass, the second half's do not
                assert 0 < sum(by_cell.values()) < sum(t["max_score"] for t in result["tests"])


def _unzipped(tmp_path: Path) -> Path:
    from autograder.gradescope import main

    assert main([str(tmp_path / "autograder.zip")]) == 0
    root = tmp_path / "autograder"
    with zipfile.ZipFile(tmp_path / "autograder.zip") as z:
        assert {"setup.sh", "run_autograder"} <= set(z.namelist())
        assert z.getinfo("run_autograder").external_attr >> 16 & 0o111
        z.extractall(root)
    (root / "run_autograder").chmod(0o755)
    (root / "submission").mkdir()
    return root


def _run_autograder(root: Path, env: dict[str, str], python: str = sys.executable) -> dict:
    env = {**env, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": python}
    subprocess.run(
        [str(root / "run_autograder")], check=True, env=env, capture_output=True, timeout=900
    )
    return json.loads((root / "results" / "results.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("where", ["bubblewrap", "own_user"])
def test_the_gradescope_zip_grades_a_submission_as_gradescope_would(
    tmp_path: Path, where: str
) -> None:
    """Does run_autograder leave a valid results file with nothing handed in, full marks for the
    solution, and no unearned point for a hostile submission, with bubblewrap and without it (as root)?"""
    from autograder.submission import graded_code
    from tests.autograder.hostile import HOSTILE, MARKER
    from tests.autograder.settings import setting

    root = _unzipped(tmp_path)
    with setting(where) as env:
        checked = subprocess.run([sys.executable, "-m", "autograder.cli", "--check-confinement", "--out",
                                  str(root / "results" / "results.json")], env=env, capture_output=True,
                                 text=True, cwd="/")  # fmt: skip
        assert checked.returncode == 0 and "confined" in checked.stdout, checked.stderr
        missing = _run_autograder(root, env)
        assert missing["score"] == 0 and "no such file" in missing["output"]
        shutil.copy(
            ROOT / "solutions" / "part_a" / "part_a.ipynb", root / "submission" / "part_a.ipynb"
        )
        result = _run_autograder(root, env)
        assert result["tests"] and result["score"] == sum(t["max_score"] for t in result["tests"])
        assert {"name", "score", "max_score", "output", "visibility"} <= set(result["tests"][0])
        assert "execution_time" in result and result["confinement"].startswith("confined")
        (root / "submission" / "part_a.ipynb").unlink()
        solution = graded_code(ROOT / "solutions" / "part_b" / "part_b.ipynb")
        steals = HOSTILE["reads_the_installed_reference"].trick.replace("{ROOT}", str(ROOT))
        (root / "submission" / "steals.py").write_text(solution + steals)
        hostile = _run_autograder(root, env)
        by_check = {t["nodeid"]: t["score"] for t in hostile["tests"]}
        assert by_check["test_interpolate"] == 0 and MARKER not in json.dumps(hostile)
        assert hostile["confinement"].startswith("confined")


def test_a_grader_that_dies_still_leaves_a_valid_results_file(tmp_path: Path) -> None:
    """If the grader is killed, does run_autograder still write a results.json that says so?"""
    root = _unzipped(tmp_path)
    dying = tmp_path / "python"
    dying.write_text(
        f'#!/bin/bash\n[ "$2" = autograder.cli ] && kill -9 $$\nexec {sys.executable} "$@"\n'
    )
    dying.chmod(0o755)
    (root / "submission" / "part_a.ipynb").write_bytes(
        (ROOT / "solutions" / "part_a" / "part_a.ipynb").read_bytes()
    )
    result = _run_autograder(root, dict(os.environ), python=str(dying))
    assert result["score"] == 0 and result["tests"] == [] and "not graded" in result["output"]


@pytest.mark.parametrize("argv, says", [
    (["nowhere.ipynb"], "no such file or folder"),
    (["solutions", "--jobs", "0"], "--jobs 0"),
    (["solutions", "--timeout", "0"], "--timeout 0"),
    ([], "give the submission to grade"),
])  # fmt: skip
def test_bad_command_lines_get_one_line_and_exit_2(
    tmp_path: Path, argv: list[str], says: str
) -> None:
    done = subprocess.run([sys.executable, "-m", "autograder.cli", *argv, "--out", str(tmp_path / "r.json")],
                          capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    assert done.returncode == 2
    assert says in done.stderr and len(done.stderr.strip().splitlines()) == 1
