"""Hostile submissions: each one trick against the grader, added to the solved Part B.

A trick that the confinement defeats leaves the submission exactly as its
*control*: the solution with the functions in ``broken`` raising. So a hostile
case must score what its control scores, check by check: no unearned point, and
every point its honest parts earn. ``broken == {"*"}`` means no check can pass
(the code never loads). Where a trick "works", the function it guards returns
the right answer and the case scores more than its control: the test fails.

Placeholders, filled in by the test: ``{ROOT}`` the repository, ``{SUBS}`` the
submissions folder, ``{OUT}`` the results folder, ``{HOME}`` the grader's home,
``{OTHER}`` another checkout of the course elsewhere on the machine,
``{CANARY}`` a file no submission may change, ``{MARK}`` a name no file of the
machine has, ``{NAME}`` the case's own file stem.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MARKER = (
    "return (1 - t) * x0 + t * x1"  # a line of fundiff's reference, in no stub and no docstring
)


@dataclass(frozen=True)
class Hostile:
    """A trick (code put after the solution, or before it with ``first``) and the functions it costs."""

    trick: str
    broken: frozenset[str] = field(default_factory=frozenset)
    first: bool = False  # the trick runs before the solution's code
    bubblewrap_only: str = (
        ""  # why the own-user confinement cannot stop it (documented), if it cannot
    )
    special: str = (
        ""  # "symlink_submission" or "symlink_results": a trick of the files, not the code
    )


def guarded(got: str) -> str:
    """Code that sets ``_GOT`` by ``got`` (any error: False), then an ``interpolate`` correct only if it did."""
    body = "\n".join("    " + line for line in got.strip().splitlines())
    return (f"\n_GOT = False\ntry:\n{body}\nexcept BaseException:\n    _GOT = False\n"
            "def interpolate(x0, x1, t):\n    if not _GOT:\n        raise RuntimeError('the trick did not work')\n"
            "    t = t.reshape(-1, 1, 1, 1).to(x1.dtype)\n    return (1 - t) * x0 + t * x1\n")  # fmt: skip


def in_function(name: str, signature: str, body: str) -> str:
    """Redefine the graded function ``name`` to run ``body`` (the trick) and then fail."""
    code = "\n".join("    " + line for line in body.strip().splitlines())
    return f"\ndef {name}({signature}):\n{code}\n    raise RuntimeError('sabotaged')\n"


INTERP, LOSS = frozenset({"interpolate"}), frozenset({"flow_matching_loss"})
LOSS_ARGS = "velocity, x0, x1, t"
EVERYTHING = frozenset({"*"})
READ = "_GOT = {marker!r} in open({path!r}, errors='replace').read()"

HOSTILE: dict[str, Hostile] = {
    # reading the reference, the checks or the solutions
    "reads_the_installed_reference": Hostile(guarded(READ.format(marker=MARKER, path="{ROOT}/fundiff/objectives/flow.py")), INTERP),
    "finds_the_reference_through_metadata": Hostile(guarded(
        "import importlib.metadata as m, json\n"
        "url = json.loads(m.distribution('fundiff').read_text('direct_url.json'))['url'].removeprefix('file://')\n"
        f"_GOT = {MARKER!r} in open(url + '/fundiff/objectives/flow.py').read()"), INTERP),
    "searches_the_python_folders": Hostile(guarded(
        "import os, sys, site\n"
        "for top in {*sys.path, *site.getsitepackages(), sys.prefix, sys.base_prefix}:\n"
        "    for folder, dirs, files in os.walk(top):\n"
        "        if 'flow.py' in files:\n"
        "            try:\n"
        f"                _GOT = _GOT or {MARKER!r} in open(os.path.join(folder, 'flow.py')).read()\n"
        "            except OSError:\n"
        "                pass\n"), INTERP),
    "searches_the_whole_machine": Hostile(guarded(
        "import os\n"
        "for top in ('/usr', '/opt', '/srv', '/home', '/root', '/work', '/var', '/mnt', '/data'):\n"
        "    for folder, dirs, files in os.walk(top):\n"
        "        if 'flow.py' in files:\n"
        "            try:\n"
        f"                _GOT = _GOT or {MARKER!r} in open(os.path.join(folder, 'flow.py')).read()\n"
        "            except OSError:\n"
        "                pass\n"), INTERP,
        bubblewrap_only="without bubblewrap any world-readable copy of the course on the machine (an "
                        "instructor's clone) is readable by any user; the instructor's guide says to protect it"),
    "reads_the_checks": Hostile(guarded(READ.format(marker="def test_interpolate", path="{ROOT}/autograder/checks/test_part_b.py")), INTERP),
    "reads_the_solution_notebook": Hostile(guarded(READ.format(marker=MARKER, path="{ROOT}/solutions/part_b/part_b.ipynb")), INTERP),
    "reads_the_git_history": Hostile(guarded("import os\n_GOT = bool(os.listdir('{ROOT}/.git/objects'))"), INTERP),
    "reads_another_checkout": Hostile(guarded(READ.format(marker=MARKER, path="{OTHER}/fundiff/objectives/flow.py")), INTERP,
                                      bubblewrap_only="without bubblewrap a world-readable copy elsewhere is readable "
                                                      "by any user; the instructor's guide says to protect it"),
    "reads_another_submission": Hostile(guarded(READ.format(marker=MARKER, path="{SUBS}/00_honest_first.ipynb")), INTERP),
    "reads_the_graders_cache": Hostile(guarded("import os\n_GOT = bool(os.listdir('{HOME}/.cache/fundiff/autograder'))"), INTERP),
    "reads_the_graders_memory": Hostile(guarded("import os\n_GOT = len(open(f'/proc/{os.getppid()}/mem', 'rb').read(1)) > 0 or "
                                                "'PATH' in open(f'/proc/{os.getppid()}/environ').read()"), INTERP),
    # what the student is shown
    "puts_the_environment_in_feedback": Hostile(in_function("flow_matching_loss", LOSS_ARGS,
        "import os\ntext = repr(dict(os.environ))\nfor pid in (os.getppid(), 1):\n    try:\n"
        "        text += open(f'/proc/{pid}/environ').read()\n    except OSError:\n        pass\nraise ValueError(text)"), LOSS),
    "puts_machine_paths_in_feedback": Hostile(in_function("flow_matching_loss", LOSS_ARGS,
        "import os, sys\nraise ValueError(f'{sys.path} {os.getcwd()} {sys.executable} {__file__!r}')"), LOSS),
    # changing what the grader writes or reads later
    "writes_the_results_folder": Hostile(in_function("interpolate", "x0, x1, t",
        "import json\nfor name in ('{NAME}.json', 'forged.json'):\n    try:\n"
        "        open('{OUT}/' + name, 'w').write(json.dumps({'score': 1000, 'tests': []}))\n    except OSError:\n        pass"), INTERP),
    "forges_results_after_it_ends": Hostile(
        "\nimport os, time, json\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        time.sleep(4)\n"
        "        for name in ('{NAME}.json', 'forged.json'):\n            try:\n"
        "                open('{OUT}/' + name, 'w').write(json.dumps({'score': 1000, 'tests': []}))\n"
        "            except OSError:\n                pass\n    os._exit(0)\n" + in_function("interpolate", "x0, x1, t", "pass"), INTERP),
    "writes_the_submissions_folder": Hostile(in_function("interpolate", "x0, x1, t",
        "try:\n    open('{SUBS}/{MARK}.py', 'w').write('forged')\nexcept OSError:\n    pass"), INTERP),
    "writes_outside_its_folder": Hostile(in_function("interpolate", "x0, x1, t",
        "for folder in ('/tmp', '/var/tmp', '/dev/shm', '{HOME}', '{ROOT}', '/'):\n    try:\n"
        "        open(folder + '/{MARK}', 'w').write('planted')\n    except OSError:\n        pass"), INTERP),
    "poisons_the_student_build": Hostile(in_function("interpolate", "x0, x1, t",
        "import sys, os, glob\nfor folder in [*sys.path, *glob.glob('{HOME}/.cache/fundiff/autograder/student-*')]:\n"
        "    for name, text in (('fundiff/__init__.py', '\\nraise SystemExit\\n'), ('sitecustomize.py', 'raise SystemExit\\n')):\n"
        "        try:\n            open(os.path.join(folder, name), 'a').write(text)\n        except OSError:\n            pass"), INTERP),
    "poisons_the_python_runtime": Hostile(in_function("interpolate", "x0, x1, t",
        "import site, sys, os\nfor folder in {*site.getsitepackages(), *sys.path}:\n    try:\n"
        "        open(os.path.join(folder, '{MARK}.pth'), 'w').write('import os; os._exit(3)\\n')\n    except OSError:\n        pass"), INTERP),
    "plants_links_in_its_folder": Hostile(
        "\nimport os\nfor name in ('args_0.pt', 'result_0.pt', 'args_1.pt', 'result_1.pt', 'submission.py'):\n    try:\n"
        "        os.symlink('{CANARY}', name)\n    except OSError:\n        pass\n"),
    "writes_a_huge_file": Hostile(in_function("interpolate", "x0, x1, t",
        "with open('big.bin', 'wb') as f:\n    for _ in range(200):\n        f.write(b'0' * 2**20)"), INTERP),
    # the grader's processes
    "kills_the_grader": Hostile(in_function("interpolate", "x0, x1, t",
        "import os, signal\nfor pid in (os.getppid(), 1):\n    for sig in (signal.SIGKILL, signal.SIGTERM):\n        try:\n"
        "            os.kill(pid, sig)\n        except OSError:\n            pass\n        try:\n"
        "            os.killpg(os.getpgid(pid), sig)\n        except OSError:\n            pass"), INTERP),
    "kills_every_process_it_can": Hostile(in_function("interpolate", "x0, x1, t", "import os, signal\nos.kill(-1, signal.SIGKILL)"), INTERP),
    "leaves_a_process_running": Hostile("\nimport subprocess\nsubprocess.Popen(['sleep', '3601'], start_new_session=True)\n"),
    "leaves_a_daemon": Hostile("\nimport os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        time.sleep(3602)\n    os._exit(0)\n"),
    "leaves_system_v_ipc": Hostile("\nimport ctypes\n_libc = ctypes.CDLL(None)\n_libc.shmat.restype = ctypes.c_void_p\n"
                                   "_id = _libc.shmget(0, 1 << 26, 0o1600)\n_at = _libc.shmat(_id, None, 0)\n"
                                   "ctypes.memset(_at, 1, 1 << 26)\n_libc.shmdt(ctypes.c_void_p(_at))\n"
                                   "_libc.semget(0, 4, 0o1600)\n_libc.msgget(0, 0o1600)\n"),  # fmt: skip
    "stops_itself": Hostile(in_function("interpolate", "x0, x1, t", "import os, signal\nos.kill(os.getpid(), signal.SIGSTOP)"), INTERP),
    "fork_bomb": Hostile(in_function("flow_matching_loss", LOSS_ARGS, "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"), LOSS),
    # the grader's time and memory
    "sleeps_at_import": Hostile("\nimport time\ntime.sleep(10**6)\n", EVERYTHING, first=True),
    "exits_at_import": Hostile("\nimport os\nos._exit(0)\n", EVERYTHING, first=True),
    "loops_at_import": Hostile("\nwhile True:\n    pass\n", EVERYTHING, first=True),
    "sys_exit_first": Hostile("\nimport sys\nsys.exit(0)\n", EVERYTHING, first=True),
    "sys_exit_last": Hostile("\nimport sys\nsys.exit(0)\n"),
    "memory_bomb": Hostile(in_function("flow_matching_loss", LOSS_ARGS, "import torch\nhog = torch.ones(2**34)"), LOSS),
    "segfault": Hostile(in_function("flow_matching_loss", LOSS_ARGS, "import ctypes\nctypes.string_at(0)"), LOSS),
    "floods_stdout": Hostile(in_function("flow_matching_loss", LOSS_ARGS, "for _ in range(10**6):\n    print('x' * 1000)"), LOSS),
    "returns_a_huge_tensor": Hostile("\nimport torch\ndef interpolate(x0, x1, t):\n    return torch.zeros(2**27)\n", INTERP),
    "forges_answers": Hostile("\nimport os, json\nfor fd in range(3, 256):\n    try:\n"
                              "        os.write(fd, (json.dumps({'id': 'load', 'ok': True, 'size': 0}) + '\\n' + "
                              "json.dumps({'id': str(fd), 'ok': True, 'size': 5}) + '\\nxxxxx').encode())\n"
                              "    except OSError:\n        pass\n", EVERYTHING, first=True),
    # the checks themselves
    "patches_torch": Hostile("\nimport torch\ntorch.allclose = lambda *a, **k: True\ntorch.equal = lambda *a, **k: True\n"
                             + in_function("interpolate", "x0, x1, t", "pass"), INTERP),
    "patches_the_checks": Hostile("\ntry:\n    import autograder.checks.conftest as c\n    c.expect_close = lambda *a, **k: None\n"
                                  "except BaseException:\n    pass\n" + in_function("interpolate", "x0, x1, t", "pass"), INTERP),
    "network": Hostile(guarded("import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=2)\n_GOT = True"), INTERP,
                       bubblewrap_only="without bubblewrap the worker has the machine's network; Gradescope's "
                                       "and the instructor's firewall decide what it reaches"),
    # files handed in
    "symlink_submission": Hostile("", EVERYTHING, special="symlink_submission"),
    "symlink_results": Hostile("", special="symlink_results"),
}  # fmt: skip
