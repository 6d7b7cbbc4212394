"""Tests for fundiff.kinds: does every training kind declare, once, a model, loss, sampler and figures that work?"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch

import fundiff
from fundiff.kinds import (
    REGISTRY,
    batch_loss,
    build_model,
    epoch_figures,
    kind_of,
    kinds_that,
    start_figures,
)
from fundiff.training.config import KINDS, ConfigError, recipe

TINY = dict(hidden=8, epochs=1, sample_steps=2)
LIBRARY = Path(fundiff.__file__).parent


def tiny_batch(b: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (b, 1, 28, 28) in [0, 1] and labels (b,), from a fixed seed."""
    gen = torch.Generator().manual_seed(0)
    return torch.rand((b, 1, 28, 28), generator=gen), torch.randint(0, 10, (b,), generator=gen)


def test_every_kind_has_one_entry() -> None:
    """Does the registry hold exactly the kinds a configuration may name, each under its own name?"""
    assert tuple(REGISTRY) == KINDS
    assert all(REGISTRY[name].name == name for name in KINDS)


@pytest.mark.parametrize("name", KINDS)
def test_each_kind_trains_samples_and_draws_on_a_tiny_batch(name: str, tmp_path: Path) -> None:
    """Does each kind's model take a finite loss with gradients, sample the right shape, and draw its figures?"""
    torch.manual_seed(0)
    config = recipe(name, **TINY)
    kind = kind_of(config)
    model = build_model(config)
    x, labels = tiny_batch()
    loss = batch_loss(model, config, x, labels, torch.Generator().manual_seed(1))
    assert loss.shape == () and torch.isfinite(loss)
    loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())

    model.eval()
    if kind.sample is not None:
        images = kind.sample(
            model, labels, guidance=2.0, steps=2, generator=torch.Generator().manual_seed(2)
        )
        assert images.shape == (4, 1, 28, 28) and torch.isfinite(images).all()

    test_images, test_labels = tiny_batch(10)
    start = start_figures(tmp_path, config, test_images)
    written = epoch_figures(
        tmp_path, config, model, 1, test_images, test_images.mean(0), test_labels=test_labels
    )
    assert written, f"{name} drew no figure"
    assert all(p.is_file() and p.stat().st_size > 0 for p in [*start, *written])


def test_the_same_draws_give_the_same_loss() -> None:
    """Is a kind's batch loss a function of its inputs and its generator's seed alone?"""
    config = recipe("flow-class", **TINY)
    torch.manual_seed(0)
    model = build_model(config)
    x, labels = tiny_batch()
    a = batch_loss(model, config, x, labels, torch.Generator().manual_seed(3))
    b = batch_loss(model, config, x, labels, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_what_evaluation_and_sampling_see() -> None:
    """Are the evaluated, class-conditional and sampling kinds the ones the course describes?"""
    assert kinds_that(lambda k: k.evaluated) == ("flow-time", "flow-class", "diffusion-class")
    assert kinds_that(lambda k: k.class_conditional) == ("flow-class", "diffusion-class")
    assert kinds_that(lambda k: k.sample is not None) == (
        "pure-noise", "flow-time", "flow-class", "diffusion-class",
    )  # fmt: skip
    assert kinds_that(lambda k: k.backend is not None) == ("diffusion-class",)


def test_an_unknown_kind_is_refused() -> None:
    """Does asking for a kind that does not exist raise ConfigError naming it and the known ones?"""
    with pytest.raises(ConfigError, match="'nope'.*flow-class"):
        kind_of("nope")


def _compares_kind_with_a_name(node: ast.Compare) -> bool:
    """Is this comparison ``kind``/``x.kind`` against a string literal, or a collection of them?"""

    def is_kind(e: ast.expr) -> bool:
        return (isinstance(e, ast.Name) and e.id == "kind") or (
            isinstance(e, ast.Attribute) and e.attr == "kind"
        )

    def is_name(e: ast.expr) -> bool:
        if isinstance(e, ast.Constant):
            return isinstance(e.value, str)
        if isinstance(e, (ast.Tuple, ast.List, ast.Set)):
            return any(is_name(x) for x in e.elts)
        return False

    operands = [node.left, *node.comparators]
    return any(is_kind(e) for e in operands) and any(is_name(e) for e in operands)


def test_no_module_but_the_registry_compares_a_kind_with_a_name() -> None:
    """Outside fundiff/kinds.py, does no library module branch on ``kind == "..."`` (or !=, in)?"""
    found = []
    for path in sorted(LIBRARY.rglob("*.py")):
        rel = path.relative_to(LIBRARY).as_posix()
        if rel == "kinds.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Compare) and _compares_kind_with_a_name(node):
                found.append(f"{rel}:{node.lineno}")
    assert not found, f"compare a kind with a name; ask fundiff.kinds instead: {found}"
