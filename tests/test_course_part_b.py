"""Does the built Part B notebook keep to the write-up's table, read from its JSON (never executed)?

- no code cell imports a private name, or from a module or name that does not exist;
- every training run's figures are drawn after the epochs of ``fundiff.writeup.PART_B``, in
  FAST mode too (FAST may shrink the data, not the epochs);
- the write-up's other values (noise levels, guidance, samples per digit) come from the table;
- the run without the learning-rate scheduler is a code cell, beside its question;
- FAST and full runs are kept in folders of their own.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path

import nbformat
import pytest

from fundiff.training.config import TrainConfig, recipe
from fundiff.writeup import PART_B

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = {
    "solutions": ROOT / "solutions" / "part_b" / "part_b.ipynb",
    "course": ROOT / "course" / "part_b" / "part_b.ipynb",
}
FIGURE_EPOCHS = {
    "denoiser": PART_B.denoiser_figure_epochs,
    "pure-noise": PART_B.denoiser_figure_epochs,
    "flow-time": PART_B.flow_figure_epochs,
    "flow-class": PART_B.flow_figure_epochs,
}
"""The epochs after which the write-up shows each kind's figures."""


def _code_cells(which: str) -> list[nbformat.NotebookNode]:
    nb = nbformat.read(NOTEBOOKS[which], as_version=4)
    return [c for c in nb.cells if c.cell_type == "code"]


def _trees(which: str) -> list[ast.Module]:
    return [ast.parse(c.source) for c in _code_cells(which)]


def _is_private(name: str) -> bool:
    return any(part.startswith("_") and part != "__future__" for part in name.split("."))


@pytest.mark.parametrize("which", NOTEBOOKS)
def test_no_code_cell_imports_a_private_or_missing_name(which: str) -> None:
    """Does every import of every code cell name a public module and name that exist?"""
    problems = []
    for tree in _trees(which):
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if _is_private(alias.name):
                        problems.append(f"import {alias.name}: private")
                    elif importlib.util.find_spec(alias.name) is None:
                        problems.append(f"import {alias.name}: no such module")
            elif isinstance(node, ast.ImportFrom):
                module = node.module or ""
                if node.level or _is_private(module):
                    problems.append(f"from {'.' * node.level}{module}: private or relative")
                    continue
                loaded = importlib.import_module(module)
                for alias in node.names:
                    if module == "__future__":
                        continue
                    if _is_private(alias.name):
                        problems.append(f"from {module} import {alias.name}: private")
                    elif not hasattr(loaded, alias.name):
                        problems.append(f"from {module} import {alias.name}: no such name")
    assert problems == []


def _assignment(trees: list[ast.Module], name: str) -> ast.Assign:
    found = [
        node
        for tree in trees
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
    ]
    assert len(found) == 1, f"{name} is assigned {len(found)} times"
    return found[0]


def _recipes(trees: list[ast.Module]) -> dict[str, ast.Call]:
    """Each ``NAME = recipe(...)`` of the notebook: NAME -> the call."""
    return {
        node.targets[0].id: node.value
        for tree in trees
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Name)
        and node.value.func.id == "recipe"
    }


def _configs(trees: list[ast.Module], fast: bool) -> dict[str, TrainConfig]:
    """The configuration of each recipe call, evaluated alone with the notebook's ``SMALL``.

    Only ``recipe``, ``PART_B``, ``FAST`` and ``SMALL`` are defined: a call that needs
    anything else of the notebook fails here.
    """
    namespace: dict[str, object] = {"recipe": recipe, "PART_B": PART_B, "FAST": fast}
    exec(compile(ast.Module([_assignment(trees, "SMALL")], []), "SMALL", "exec"), namespace)
    return {
        name: eval(compile(ast.Expression(call), name, "eval"), dict(namespace))
        for name, call in _recipes(trees).items()
    }


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "full"])
def test_figures_are_drawn_after_the_write_ups_epochs(fast: bool) -> None:
    """Does each run keep the write-up's epochs and draw its figures after those the table names?"""
    trees = _trees("solutions")
    configs = _configs(trees, fast)
    assert {c.kind for c in configs.values()} == set(FIGURE_EPOCHS)
    drawn = {  # the configs handed to after_epochs, which draws after each config.sample_epochs
        node.args[0].id
        for tree in trees
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "after_epochs"
        and isinstance(node.args[0], ast.Name)
    }
    assert drawn == set(configs)
    for name, config in configs.items():
        assert config.sample_epochs == FIGURE_EPOCHS[config.kind], name
        assert config.epochs == max(FIGURE_EPOCHS[config.kind]), name
        keyword = {k.arg: k.value for k in _recipes(trees)[name].keywords}["sample_epochs"]
        assert ast.unparse(keyword).startswith("PART_B."), f"{name}: epochs not from the table"
    small = _assignment(trees, "SMALL").value
    assert "epochs" not in ast.unparse(small), "FAST may shrink the data, not the epochs"


def test_the_write_ups_other_values_come_from_the_table() -> None:
    """Are the noise levels, guidance and samples per digit read from PART_B, and no list of
    noise levels written out?"""
    code = "\n".join(c.source for c in _code_cells("solutions"))
    for field in ("noising_sigmas", "ood_sigmas", "guidance", "samples_per_digit"):
        assert f"PART_B.{field}" in code, field
    for sigmas in (PART_B.noising_sigmas, PART_B.ood_sigmas):
        assert ", ".join(map(str, sigmas)) not in code


@pytest.mark.parametrize("which", NOTEBOOKS)
def test_the_run_without_the_scheduler_is_a_code_cell_beside_its_question(which: str) -> None:
    """Is there a code cell the student runs (not graded, not hidden) that trains the
    class-conditioned model at a constant learning rate, followed by the written question?"""
    nb = nbformat.read(NOTEBOOKS[which], as_version=4)
    trees = {i: ast.parse(c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code"}
    constant = [
        i
        for i, tree in trees.items()
        for call in _recipes([tree]).values()
        if ast.literal_eval(call.args[0]) == "flow-class"
        and any(
            k.arg == "lr_schedule" and ast.literal_eval(k.value) == "constant"
            for k in call.keywords
        )
    ]
    assert len(constant) == 1, constant
    cell = nb.cells[constant[0]]
    assert not cell.metadata.get("nbgrader", {}).get("solution")
    assert not cell.metadata.get("nbgrader", {}).get("grade")
    assert "after_epochs(" in cell.source and "fit(" in cell.source
    question = next(c for c in nb.cells[constant[0] + 1 :] if c.cell_type == "markdown")
    assert "without the learning-rate" in question.source and "scheduler" in question.source


def test_fast_and_full_runs_are_kept_apart() -> None:
    """Can a student who ran FAST set ``FAST = False`` and train, rather than meet the FAST runs'
    checkpoints (which refuse to resume with another configuration)?"""
    trees = _trees("solutions")
    runs = {}
    for fast in (True, False):
        namespace: dict[str, object] = {"Path": Path, "FAST": fast}
        exec(compile(ast.Module([_assignment(trees, "RUNS")], []), "RUNS", "exec"), namespace)
        runs[fast] = Path(str(namespace["RUNS"]))
    fast_runs, full_runs = runs[True], runs[False]
    assert fast_runs != full_runs
    assert fast_runs not in full_runs.parents and full_runs not in fast_runs.parents
