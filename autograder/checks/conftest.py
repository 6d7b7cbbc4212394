"""Fixtures and helpers of the checks: ``student`` calls the submission's functions in its sandbox."""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, Phase, settings

from autograder.sandbox import Outcome

settings.register_profile(
    # no shrinking: a failure's inputs are never shown, and each call of bad code may cost a timeout
    "grading", max_examples=8, deadline=None, database=None, derandomize=True,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)  # fmt: skip
settings.load_profile("grading")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "points(n): what passing this check is worth")


@pytest.fixture(scope="session")
def student():
    """The sandbox of the submission being graded."""
    from autograder.runner import current_sandbox

    return current_sandbox()


def value_of(outcome: Outcome, name: str) -> torch.Tensor:
    """The returned tensor, or a failure that says, in the student's terms, what went wrong."""
    if outcome.error == "NotImplementedError":
        pytest.fail(
            f"{name} is not implemented yet (it still raises NotImplementedError)", pytrace=False
        )
    if outcome.error == "Timeout":
        pytest.fail(f"{name} did not return within the time limit: an endless loop?", pytrace=False)
    if outcome.error is not None:
        where = f" at line {outcome.line} of your code" if outcome.line else ""
        pytest.fail(f"{name} raised {outcome.error}{where}: {outcome.message}", pytrace=False)
    if not isinstance(outcome.value, torch.Tensor):
        pytest.fail(
            f"{name} returned a {type(outcome.value).__name__}, not a tensor", pytrace=False
        )
    return outcome.value


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
    diff = (got.double() - want.double()).abs().max().item()
    if diff > atol:
        pytest.fail(
            f"{what}: your result differs by {diff:.3g} at most" + (f"; {hint}" if hint else ""),
            pytrace=False,
        )
