"""Does `fundiff evaluate` report accuracy and Fréchet distance for what it can judge, and refuse the rest?"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fundiff.cli import main
from fundiff.evaluation.evaluate import EvaluationError, evaluate
from fundiff.training import checkpoint
from fundiff.training.config import recipe
from fundiff.training.loop import train

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def runs(mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny one-epoch runs of a class-conditional flow, an unconditional flow and a denoiser."""
    root = tmp_path_factory.mktemp("eval_runs")
    out = {}
    for kind in ("flow-class", "flow-time", "denoiser"):
        config = recipe(kind, limit=128, epochs=1, hidden=4, batch_size=64, sample_epochs=())
        train(config, root / kind, device="cpu", data_dir=mnist_dir, progress=False)
        out[kind] = root / kind / "checkpoint.safetensors"
    return out


@pytest.mark.slow
def test_class_model_gets_accuracy_and_distance_per_guidance(runs, mnist_dir: Path) -> None:
    """For each guidance, are accuracy (overall = mean of classes), per-class accuracy and FD reported, with the floor?"""
    report = evaluate(
        runs["flow-class"], guidances=(5.0, 1.0), per_class=3, steps=2, data_dir=mnist_dir
    )
    assert report["kind"] == "flow-class" and report["samples"] == 30
    assert [r["guidance"] for r in report["results"]] == [5.0, 1.0]
    for r in report["results"]:
        assert len(r["per_class_accuracy"]) == 10
        assert abs(r["classifier_accuracy"] - sum(r["per_class_accuracy"]) / 10) < 1e-3
        assert r["frechet_distance"] >= 0
    assert report["frechet_floor_train_vs_test"] >= 0


@pytest.mark.slow
def test_unconditional_model_gets_distance_only(runs, mnist_dir: Path) -> None:
    """Does a flow-time model get one Fréchet distance and no class accuracy?"""
    report = evaluate(runs["flow-time"], per_class=3, steps=2, data_dir=mnist_dir)
    assert len(report["results"]) == 1 and "classifier_accuracy" not in report["results"][0]


@pytest.mark.slow
def test_same_seed_same_report(runs, mnist_dir: Path) -> None:
    """Do two evaluations with one seed give the same figures?"""
    a = evaluate(runs["flow-class"], guidances=(5.0,), per_class=2, steps=2, data_dir=mnist_dir)
    b = evaluate(runs["flow-class"], guidances=(5.0,), per_class=2, steps=2, data_dir=mnist_dir)
    assert (
        a["results"] == b["results"]
        and a["frechet_floor_train_vs_test"] == b["frechet_floor_train_vs_test"]
    )


def test_a_model_that_does_not_generate_is_refused(runs, mnist_dir: Path, capsys) -> None:
    """Is a denoiser checkpoint an EvaluationError, and exit 2 with one line at the CLI?"""
    with pytest.raises(EvaluationError, match="denoiser"):
        evaluate(runs["denoiser"], per_class=1, data_dir=mnist_dir)
    assert (
        main(["evaluate", "--checkpoint", str(runs["denoiser"]), "--data-dir", str(mnist_dir)]) == 2
    )
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


@pytest.mark.slow
def test_a_model_whose_samples_are_not_finite_is_refused_by_name(
    runs, mnist_dir: Path, tmp_path: Path, capsys
) -> None:
    """Does a model that draws NaN (a weight turned NaN) end in one line naming the checkpoint and
    the guidance, exit 2 at the CLI, instead of a Fréchet error about features?"""
    state = checkpoint.load(runs["flow-class"])
    name = next(k for k, v in state.model.items() if v.is_floating_point() and "weight" in k)
    state.model[name].fill_(float("nan"))
    broken = tmp_path / "broken.safetensors"
    checkpoint.save(broken, state)
    with pytest.raises(EvaluationError, match="guidance 5.*not finite"):
        evaluate(broken, guidances=(5.0,), per_class=1, steps=2, data_dir=mnist_dir)
    argv = ["evaluate", "--checkpoint", str(broken), "--per-class", "1", "--steps", "2",
            "--data-dir", str(mnist_dir), "--no-progress"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(broken) in err[0]


@pytest.mark.slow
def test_cli_prints_and_writes_the_report(runs, mnist_dir: Path, tmp_path: Path, capsys) -> None:
    """Does the CLI print the JSON report and write the same to --out?"""
    out = tmp_path / "report.json"
    status = main([
        "evaluate", "--checkpoint", str(runs["flow-class"]), "--per-class", "2", "--steps", "2",
        "--guidance", "5", "--data-dir", str(mnist_dir), "--out", str(out), "--no-progress",
    ])  # fmt: skip
    assert status == 0
    assert json.loads(capsys.readouterr().out) == json.loads(out.read_text())
