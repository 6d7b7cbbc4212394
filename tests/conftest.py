"""Shared pytest fixtures for the fundiff test suite."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Real MNIST lives in `shared/data` beside the repository clone (see shared/data/README.md).
_MNIST_SHARED_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """Folder holding the real MNIST IDX files (directly or under ``MNIST/raw``).

    ``$FUNDIFF_DATA`` if set and complete, else ``shared/data`` beside the repository.
    Skips the requesting test if neither holds all four files.
    """
    from fundiff.data import find_raw_dir

    env = os.environ.get("FUNDIFF_DATA")
    candidates = [Path(env).expanduser()] if env else []
    candidates.append(_MNIST_SHARED_DIR)
    for candidate in candidates:
        if find_raw_dir(candidate) is not None:
            return candidate.resolve()
    pytest.skip(f"real MNIST not found in {' or '.join(str(c) for c in candidates)}")


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests marked ``gpu`` where there is no CUDA device (CI has none)."""
    if _cuda_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


DEVICES = [
    pytest.param("cpu", id="cpu"),
    pytest.param("cuda", id="cuda", marks=pytest.mark.gpu),
]
"""Parametrise a test over devices with ``@pytest.mark.parametrize("device", DEVICES)``."""


@pytest.fixture(scope="module")
def backend():  # noqa: ANN201 (MNISTBackend; imported lazily)
    """A real small Part A backend: the MNIST backend around a random ClassConditionalUNet of width 4."""
    import torch

    from fundiff.backends.mnist import MNISTBackend
    from fundiff.models import ClassConditionalUNet

    torch.manual_seed(0)
    return MNISTBackend(ClassConditionalUNet(hidden=4), "cpu")


@pytest.fixture(scope="module")
def one_torch_thread():  # noqa: ANN201 (Iterator[None])
    """Run torch on one thread for a module: on 2 shared cores a second thread can make tiny models far slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def run_cli(argv: list, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run ``fundiff ARGV`` in-process: (exit status, stdout, stderr).

    ``main`` returns the status; argparse errors and --help raise SystemExit instead.
    """
    from fundiff.cli import main

    try:
        status = main([str(a) for a in argv])
    except SystemExit as exc:
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(scope="session")
def classifier():  # noqa: ANN201 (torch.nn.Module)
    """The shipped MNIST classifier: (N, 1, 28, 28) in [0, 1] -> logits."""
    from fundiff.evaluation.metrics import shipped_classifier

    return shipped_classifier()


def labels(classifier, x) -> list[int]:  # noqa: ANN001
    """The classifier's digit for each image ``x`` in [-1, 1]."""
    import torch

    with torch.no_grad():
        return classifier(((x + 1) / 2).clamp(0, 1)).argmax(1).tolist()


def nbgrader(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``nbgrader ARGS`` in ``cwd`` with this Python's ``bin`` first on PATH (nbgrader runs
    alembic from PATH), the environment plus ``env``; output captured as text, never raising."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **env, "PATH": path}, timeout=1200)  # fmt: skip


KEEP_EXECUTED = """\
import nbformat
from nbgrader.preprocessors import Execute

_execute = Execute.preprocess


def _keep(self, nb, resources=None, *args, **kwargs):
    nb, resources = _execute(self, nb, resources, *args, **kwargs)
    nbformat.write(nb, {target!r})
    return nb, resources


Execute.preprocess = _keep
"""
"""An ``nbgrader_config.py`` that keeps the notebook ``nbgrader validate`` executes (and then judges), at
``target``: the command runs as it is, its executing step also writes what it ran."""


@pytest.fixture(scope="session")
def validated(
    mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], tuple[Path, str]]:
    """``name`` -> (the solution notebook ``name`` as ``nbgrader validate`` executed it, what validate printed).

    One run of nbgrader's own command per notebook and session, in FAST mode on the MNIST backend,
    in a folder of its own (where validate runs it); the run's executed notebook is kept (errors
    as outputs) for the claims that need a solved notebook: it runs without error, the docs.
    """
    folder = tmp_path_factory.mktemp("solved")
    done: dict[str, tuple[Path, str]] = {}

    def run(name: str) -> tuple[Path, str]:
        if name not in done:
            work = folder / f"{name}-cwd"
            work.mkdir(exist_ok=True)  # a run that failed its assertion is run again, there
            copy = work / f"{name}.ipynb"
            copy.write_bytes((ROOT / "solutions" / name / f"{name}.ipynb").read_bytes())
            executed = folder / f"{name}.ipynb"
            (work / "nbgrader_config.py").write_text(KEEP_EXECUTED.format(target=str(executed)))
            report = nbgrader(["validate", copy.name], work, FUNDIFF_FAST="1", FUNDIFF_DATA=str(mnist_dir),
                              FUNDIFF_BACKEND="mnist")  # fmt: skip
            assert executed.is_file(), (report.stdout + report.stderr)[-2000:]
            done[name] = (executed, report.stdout + report.stderr)
        return done[name]

    return run


@pytest.fixture(scope="session")
def solved_notebook(validated: Callable[[str], tuple[Path, str]]) -> Callable[[str], Path]:
    """``name`` -> the solution notebook ``name`` run in FAST mode on the MNIST backend, errors kept as
    outputs: the run of ``validated``, so the course tests, nbgrader's claim and the docs share one."""
    return lambda name: validated(name)[0]


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ``fundiff demo`` on the MNIST backend on the CPU, as a newcomer runs it (no MNIST folder
    anywhere); the demo tests and the documentation site share it."""
    from fundiff.demo.build import run_demo

    root = tmp_path_factory.mktemp("demo")
    out = root / "site"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FUNDIFF_DATA", str(root / "no-mnist-here"))
        mp.setenv("HOME", str(root))  # hides ~/.cache/fundiff/data
        index = run_demo(out, device="cpu", progress=False)
    assert index == out / "index.html"
    return out


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """Every table figure ``fundiff.parta.tasks`` saves while the test runs, in order, as
    {"name", "shape" (R, K, C, H, W), "row_labels", "col_labels", "title"}; the PNGs are still written."""
    from fundiff.parta import tasks

    real, seen = tasks.save_table, []

    def record(path, images, row_labels=(), col_labels=(), title=None) -> None:  # noqa: ANN001
        seen.append(dict(name=Path(path).name, shape=tuple(images.shape), row_labels=list(row_labels),
                         col_labels=list(col_labels), title=title or ""))  # fmt: skip
        real(path, images, row_labels=row_labels, col_labels=col_labels, title=title)

    monkeypatch.setattr(tasks, "save_table", record)
    return seen
