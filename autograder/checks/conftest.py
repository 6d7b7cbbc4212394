"""What every check shares: the ``student`` it grades, and failures worded for the student.

A check is a pytest test marked with ``check(cell, points)``: the graded cell of
the notebook it belongs to, and what passing it is worth. Its docstring's first
line is what the student reads as the check's name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pytest
import torch
from hypothesis import HealthCheck, Phase, settings

from autograder.sandbox import Outcome

settings.register_profile(
    # no shrinking: a failure's inputs are never shown, and each call of bad code may cost a timeout
    "grading", max_examples=6, deadline=None, database=None, derandomize=True,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)  # fmt: skip
settings.load_profile("grading")

F = TypeVar("F", bound=Callable[..., Any])
MIXED_DEVICES = (
    "Expected all tensors to be on the same device",
    "device type for generator",
    "should be the same device",
)  # torch's words when CPU and GPU tensors meet


def check(cell: str, points: float) -> Callable[[F], F]:
    """Mark a check: the graded ``cell`` it grades and its ``points``."""
    return lambda f: pytest.mark.graded(cell)(pytest.mark.points(points)(f))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "points(n): what passing this check is worth")
    config.addinivalue_line("markers", "graded(cell): the notebook's graded cell this check grades")


@pytest.fixture(scope="session")
def student():
    """The submission being graded: a ``Sandbox`` (fundiff-grade) or ``Local`` (the notebook itself)."""
    from autograder.runner import current_student

    return current_student()


@pytest.fixture(scope="session")
def device(student) -> torch.device:
    """Where inputs go and the reference runs: the device the submission is graded on."""
    return torch.device(student.device)


def generator(device: torch.device, seed: int) -> torch.Generator:
    """The reference's side of ``Helper("generator", (seed,))``."""
    return torch.Generator(device).manual_seed(seed)


def returned(outcome: Outcome, name: str) -> Any:
    """What the call returned, or a failure that says, in the student's terms, what went wrong."""
    if outcome.error == "NotImplementedError":
        pytest.fail(
            f"{name} is not implemented yet (it still raises NotImplementedError)", pytrace=False
        )
    if outcome.error == "Timeout":
        pytest.fail(f"{name} did not return within the time limit: an endless loop?", pytrace=False)
    if outcome.error == "WorkerDied":
        pytest.fail(
            f"{name} ended its process ({outcome.message}); it must return a value", pytrace=False
        )
    if outcome.error is not None:
        where = f" at line {outcome.line} of your code" if outcome.line else ""
        hint = ""
        if any(words in outcome.message for words in MIXED_DEVICES):
            hint = ("; you created a CPU tensor in a GPU run: make new tensors on the inputs' device, "
                    "e.g. torch.randn(shape, device=x.device, generator=generator)")  # fmt: skip
        pytest.fail(f"{name} raised {outcome.error}{where}: {outcome.message}{hint}", pytrace=False)
    if outcome.off_device:
        pytest.fail(f"{name} returned a tensor on the CPU in a GPU run: you created a CPU tensor; "
                    "make new tensors on the inputs' device (device=x.device)", pytrace=False)  # fmt: skip
    return outcome.value


def value_of(outcome: Outcome, name: str) -> torch.Tensor:
    """The returned tensor (see ``returned``); a failure if it is anything else."""
    value = returned(outcome, name)
    if isinstance(value, dict) and "eps" in value:  # a Prediction where a tensor was wanted
        pytest.fail(f"{name} returned a Prediction; return the tensor itself", pytrace=False)
    if not isinstance(value, torch.Tensor):
        pytest.fail(f"{name} returned a {type(value).__name__}, not a tensor", pytrace=False)
    if value.is_floating_point() and value.dtype not in (torch.float32, torch.float64):
        pytest.fail(f"{name} returned {value.dtype} values; keep float32", pytrace=False)
    return value


def prediction_of(outcome: Outcome, name: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(eps, variance) of a returned ``Prediction``."""
    value = returned(outcome, name)
    if not (isinstance(value, dict) and "eps" in value):
        pytest.fail(
            f"{name} returned a {type(value).__name__}; return a Prediction(eps, variance)",
            pytrace=False,
        )
    return value["eps"], value.get("variance")


def expect_close(
    got: torch.Tensor, want: torch.Tensor, what: str, *, atol: float = 1e-5, hint: str = ""
) -> None:
    """Fail unless ``got`` has ``want``'s shape and values (to ``atol``), saying by how much it differs."""
    if tuple(got.shape) != tuple(want.shape):
        pytest.fail(
            f"{what}: your result has shape {tuple(got.shape)}, expected {tuple(want.shape)}",
            pytrace=False,
        )
    if not torch.isfinite(got).all():
        pytest.fail(f"{what}: your result holds NaN or infinite values", pytrace=False)
    diff = (got.double().cpu() - want.double().cpu()).abs().max().item() if got.numel() else 0.0
    if diff > atol:
        pytest.fail(f"{what}: your result differs by {diff:.3g} at most" + (f"; {hint}" if hint else ""),
                    pytrace=False)  # fmt: skip


def state_of(module: torch.nn.Module) -> list[torch.Tensor]:
    """A module's parameters then buffers, in creation order (what ``Sandbox.load`` copies)."""
    return [t.detach().cpu() for t in [*module.parameters(), *module.buffers()]]


def same_layers(
    student: Any, name: str, reference: torch.nn.Module, *args: Any, seed: int = 0
) -> str:
    """Build the student's ``name(*args)``, check its layers against ``reference`` and give it the
    reference's weights; returns the handle for ``student.forward``."""
    built = returned(student.build(name, *args, seed=seed), f"{name}{tuple(args)}")
    want = [list(p.shape) for p in reference.parameters()]
    if built["parameters"] != want:
        have, need = sum(_numel(s) for s in built["parameters"]), sum(_numel(s) for s in want)
        detail = (f"it has {have:,} parameters, the write-up's layers have {need:,}" if have != need
                  else "its parameters are created in another order than the write-up lists the layers")  # fmt: skip
        pytest.fail(f"{name}{tuple(args)}: {detail}", pytrace=False)
    if len(built["buffers"]) != len(list(reference.buffers())):
        pytest.fail(f"{name}{tuple(args)}: its normalisation layers differ from the write-up's (BatchNorm2d)",
                    pytrace=False)  # fmt: skip
    returned(
        student.load(built["handle"], state_of(reference), key=name), f"{name} (loading weights)"
    )
    return built["handle"]


def _numel(shape: list[int]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n
