"""Can a hostile submission earn, forge, poison, kill or leave anything, wherever the grader runs?

The corpus of ``tests/autograder/hostile.py`` is graded by one ``fundiff-grade``
run per setting, each hostile case followed by an honest submission:

- ``bubblewrap``: the confinement CI has (root, bubblewrap working);
- ``own_user``: Gradescope's situation, simulated: root, no bubblewrap
  (``FUNDIFF_GRADE_BWRAP=none``), the repository's reference folders protected
  as the instructor's guide says, the Python runtime reachable by other users.

For each case: it scores exactly what its control scores (no unearned point, the
points its honest parts earn), its results file is valid and its own, the next
honest submission gets full marks; for the run: nothing outside the workers'
folders changed, no process of a submission is left, and no feedback shows the
grader's environment or paths.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.autograder.hostile import EVERYTHING, HOSTILE, MARKER
from tests.autograder.settings import setting

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow
SECRET = "grader-secret-" + secrets.token_hex(8)
CASES = sorted(HOSTILE)


def _stem(name: str) -> str:
    return f"{CASES.index(name) + 1:02d}a_{name}"


def _honest_after(name: str) -> str:
    return f"{CASES.index(name) + 1:02d}b_honest"


def _solution(part: str) -> str:
    from autograder.submission import graded_code

    return graded_code(ROOT / "solutions" / part / f"{part}.ipynb")


def _source(name: str, fill: dict[str, str]) -> str:
    case, base = HOSTILE[name], _solution("part_b")
    trick = case.trick
    for key, value in fill.items():
        trick = trick.replace("{" + key + "}", value)
    return trick + "\n" + base if case.first else base + "\n" + trick


CONTROL = """
import json, sys
from autograder.notebook import Local
from autograder.runner import run_checks
from autograder.site import preamble
base, found = open(sys.argv[1]).read(), []
for broken in json.loads(sys.argv[2]):
    code = base + "".join(f"\\ndef {name}(*args, **kwargs):\\n    raise RuntimeError('sabotaged')\\n" for name in broken)
    namespace = {}
    exec(compile(preamble(code) + code, "submission.py", "exec"), namespace)
    found.append({t["nodeid"]: t["score"] for t in run_checks(Local(namespace), "part_b")})
print(json.dumps(found))
"""


@pytest.fixture(scope="module")
def controls(tmp_path_factory: pytest.TempPathFactory) -> dict[frozenset[str], dict[str, float]]:
    """What each case's honest parts earn: the solution with its ``broken`` functions raising, graded
    in-process (one interpreter for all of them)."""
    base = tmp_path_factory.mktemp("control") / "base.py"
    base.write_text(_solution("part_b"))
    sets = sorted(
        {case.broken for case in HOSTILE.values() if case.broken != EVERYTHING}, key=sorted
    )
    done = subprocess.run([sys.executable, "-c", CONTROL, str(base), json.dumps([sorted(b) for b in sets])],
                          capture_output=True, text=True, cwd=ROOT, timeout=600, check=True)  # fmt: skip
    return dict(zip(sets, json.loads(done.stdout.strip().splitlines()[-1]), strict=True))


def _tree(folder: Path) -> dict[str, tuple[int, str]]:
    """Every entry under ``folder``: its type and content digest (links by target)."""
    import hashlib

    found = {}
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            found[str(path.relative_to(folder))] = (info.st_mode, os.readlink(path))
        elif stat.S_ISREG(info.st_mode):
            found[str(path.relative_to(folder))] = (
                info.st_mode,
                hashlib.sha256(path.read_bytes()).hexdigest(),
            )
        else:
            found[str(path.relative_to(folder))] = (info.st_mode, "")
    return found


def _processes_of_workers() -> list[str]:
    from autograder.users import UID_RANGE

    left = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if entry.stat().st_uid in UID_RANGE or "3601" in cmdline or "3602" in cmdline:
                left.append(f"{entry.name}: {cmdline[:80]}")
    return left


def _owned_by_workers(folders: tuple[str, ...]) -> list[str]:
    from autograder.users import UID_RANGE

    found = []
    for folder in folders:
        for top, dirs, files in os.walk(folder):
            for name in dirs + files:
                with contextlib.suppress(OSError):
                    if os.lstat(os.path.join(top, name)).st_uid in UID_RANGE:
                        found.append(os.path.join(top, name))
    return found


@pytest.fixture(scope="module", params=["bubblewrap", "own_user"])
def graded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict]:
    """The whole corpus graded in one setting, with what was seen around the run."""
    from autograder.site import digests
    from autograder.users import SHARED_FOLDERS, UID_RANGE, ipc_of

    with (
        setting(request.param, FUNDIFF_TEST_SECRET=SECRET) as env,
        tempfile.TemporaryDirectory(dir="/var/tmp") as other_dir,
    ):
        other = Path(other_dir)
        other.chmod(0o755)  # another checkout of the course, readable by everyone
        (other / "fundiff" / "objectives").mkdir(mode=0o755, parents=True)
        (other / "fundiff").chmod(0o755)
        shutil.copy(
            ROOT / "fundiff" / "objectives" / "flow.py",
            other / "fundiff" / "objectives" / "flow.py",
        )
        (other / "fundiff" / "objectives" / "flow.py").chmod(0o644)
        canary = other / "canary.txt"
        canary.write_text("no submission may change this\n")
        canary.chmod(0o644)
        subs, out = tmp_path_factory.mktemp("subs"), tmp_path_factory.mktemp("out")
        mark = "fundiff-planted-" + secrets.token_hex(6)
        fill = {"ROOT": str(ROOT), "SUBS": str(subs), "OUT": str(out), "HOME": str(Path.home()),
                "OTHER": str(other), "CANARY": str(canary), "MARK": mark}  # fmt: skip
        honest = (ROOT / "solutions" / "part_a" / "part_a.ipynb").read_bytes()
        shutil.copy(ROOT / "solutions" / "part_b" / "part_b.ipynb", subs / "00_honest_first.ipynb")
        for name in CASES:
            case = HOSTILE[name]
            if case.special == "symlink_submission":
                (subs / f"{_stem(name)}.ipynb").symlink_to(
                    ROOT / "solutions" / "part_b" / "part_b.ipynb"
                )
            else:
                (subs / f"{_stem(name)}.py").write_text(
                    _source(name, {**fill, "NAME": _stem(name)})
                )
            if case.special == "symlink_results":
                (out / f"{_stem(name)}.json").symlink_to(canary)
            (subs / f"{_honest_after(name)}.ipynb").write_bytes(honest)
        git = ["git", "-C", str(ROOT), "status", "--porcelain"]
        before = {"subs": _tree(subs), "git": subprocess.run(git, capture_output=True, text=True).stdout,
                  "tmp": {p.name for p in Path(tempfile.gettempdir()).iterdir()}}  # fmt: skip
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "autograder.cli", str(subs), "--out", str(out), "--timeout", "10",
                               "--jobs", "2"], capture_output=True, text=True, cwd=ROOT, env=env, timeout=3000)  # fmt: skip
        seconds = time.perf_counter() - start
        time.sleep(6)  # what a left-over process would forge, it forges by now
        cache = Path.home() / ".cache" / "fundiff" / "autograder"
        sites = [p for p in cache.glob("student-*") if p.is_dir() and not p.name.count(".")]
        yield {
            "setting": request.param, "done": done, "seconds": seconds, "out": out, "subs": subs,
            "results": {p.stem: p for p in out.iterdir()}, "before": before, "mark": mark, "canary": canary,
            "git": subprocess.run(git, capture_output=True, text=True).stdout, "tree": _tree(subs),
            "tmp": {p.name for p in Path(tempfile.gettempdir()).iterdir()},
            "processes": _processes_of_workers(), "owned": _owned_by_workers(SHARED_FOLDERS),
            "ipc": ipc_of(UID_RANGE),
            "sites": {str(p): digests(p) == json.loads(p.with_name(p.name + ".sha256.json").read_text())
                      for p in sites},
        }  # fmt: skip


def _result(graded: dict, stem: str) -> dict:
    path = graded["results"][stem]
    assert path.is_file() and not path.is_symlink(), f"{stem}: no results file of its own"
    return json.loads(path.read_text())


def test_the_grader_ran_to_the_end(graded) -> None:
    """Did the grader exit 0, and in what time (printed for the record)?"""
    assert graded["done"].returncode == 0, graded["done"].stderr[-3000:]
    print(f"{graded['setting']}: {len(CASES)} hostile and {len(CASES) + 1} honest submissions in "
          f"{graded['seconds']:.1f} s")  # fmt: skip


@pytest.mark.parametrize("name", CASES)
def test_a_hostile_submission_scores_what_its_honest_parts_earn(graded, controls, name) -> None:
    """Does each case score, check by check, exactly what its control scores: no unearned point, none lost?"""
    case = HOSTILE[name]
    if graded["setting"] == "own_user" and case.bubblewrap_only:
        pytest.skip(case.bubblewrap_only)
    result = _result(graded, _stem(name))
    assert (
        "confined" in result.get("confinement", result["output"])
        or case.special == "symlink_submission"
    )
    got = {t["nodeid"]: t["score"] for t in result["tests"]}
    if case.broken == EVERYTHING:
        assert result["score"] == 0 and all(score == 0 for score in got.values())
        return
    want = controls[case.broken]
    outputs = {t["nodeid"]: t["output"] for t in result["tests"]}
    assert got == want, {
        k: (got.get(k), want[k], outputs.get(k)) for k in want if got.get(k) != want[k]
    }
    assert all(outputs.values())


@pytest.mark.parametrize("name", CASES)
def test_the_honest_submission_after_each_hostile_one_gets_full_marks(graded, name) -> None:
    """Is the honest submission graded after (and beside) each hostile one untouched by it?"""
    result = _result(graded, _honest_after(name))
    assert result["tests"] and result["score"] == sum(t["max_score"] for t in result["tests"]), [
        t["output"] for t in result["tests"] if t["score"] < t["max_score"]
    ]


def test_no_results_file_is_forged_and_every_one_is_valid(graded) -> None:
    """Is every results file the grader's, written whole, and no forged one added?"""
    stems = {_stem(n) for n in CASES} | {_honest_after(n) for n in CASES} | {"00_honest_first"}
    assert set(graded["results"]) == stems
    for stem in stems:
        result = _result(graded, stem)
        assert result["score"] <= sum(t["max_score"] for t in result["tests"])
        assert {"score", "tests", "output", "execution_time"} <= set(result)


def test_a_linked_submission_is_refused_and_a_planted_link_is_not_followed(graded) -> None:
    """Is a submission that is a link refused by name, and does a link where results go stay unfollowed?"""
    linked = _result(graded, _stem("symlink_submission"))
    assert linked["score"] == 0 and "link" in linked["output"]
    assert graded["canary"].read_text() == "no submission may change this\n"


def test_nothing_outside_the_workers_folders_changed(graded) -> None:
    """Are the submissions, the repository, the cache, the canary, the shared folders and System V IPC
    as they were?"""
    mark = graded["mark"]
    assert graded["tree"] == graded["before"]["subs"]
    assert graded["git"] == graded["before"]["git"]
    assert graded["sites"] and all(graded["sites"].values()), graded["sites"]
    assert graded["canary"].read_text() == "no submission may change this\n"
    assert graded["owned"] == []
    assert graded["ipc"] == {"shm": [], "sem": [], "msg": []}  # System V IPC: no files, same claim
    planted = [p for folder in ("/tmp", "/var/tmp", "/dev/shm", str(Path.home()), str(ROOT), "/")
               for p in Path(folder).glob(f"{mark}*")]  # fmt: skip
    planted += [
        p
        for folder in sys.path
        if folder and Path(folder).is_dir()
        for p in Path(folder).glob(f"{mark}*")
    ]
    assert planted == []
    assert {
        n for n in graded["tmp"] - graded["before"]["tmp"] if n.startswith("fundiff-grade-")
    } == set()


def test_no_process_of_a_submission_is_left(graded) -> None:
    """Has every process the submissions started ended, however it detached?"""
    assert graded["processes"] == []


def test_feedback_shows_no_secret_and_no_path_of_the_grading_machine(graded) -> None:
    """Does no results file hold the grader's environment, the reference, or its paths?"""
    for path in graded["results"].values():
        if path.is_file():
            text = path.read_text()
            assert SECRET not in text
            assert MARKER not in text
            assert str(ROOT) not in text and "/tmp/fundiff-grade" not in text
