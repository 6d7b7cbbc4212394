"""What every check shares: the ``student`` it grades, and failures worded for the student.

A check is a pytest test marked with ``check(cell, points)``: the graded cell of
the notebook it belongs to, and what passing it is worth. Its docstring's first
line is what the student reads as the check's name.

Every call goes through ``run``, which hands the submission watched copies of its
tensors (``watched.watch``: an in-place change of one raises ``InputChanged`` in the
worker, at the submission's line that made it) and, once per check, runs the
function with every input on "meta" first: a tensor it makes on the CPU then
meets the inputs on another device (torch raises) or comes back (``off_device``),
so a CPU-only grading run sees what would break on a GPU.

Comparisons and their tolerances: ``autograder.checks.compare``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
import torch
from hypothesis import HealthCheck, Phase, settings

from autograder.checks.compare import expect_dtype
from autograder.helpers import Helper
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
    "is not on the expected device",
    "device type for generator",
    "should be the same device",
)  # torch's words when tensors of two devices meet
ON_THE_INPUTS_DEVICE = ("create new tensors on the inputs' device, e.g. torch.zeros(shape, device=x.device) or "
                        "torch.randn(shape, generator=generator, device=x.device)")  # fmt: skip
_VERDICTS: dict[tuple[str, ...], str | None] = {}  # per check: what its "meta" call showed


def check(cell: str, points: float) -> Callable[[F], F]:
    """Mark a check: the graded ``cell`` it grades and its ``points``."""
    return lambda f: pytest.mark.graded(cell)(pytest.mark.points(points)(f))


def for_rule(rule: str) -> Callable[[F], F]:
    """Mark a check of one rule's step (``fundiff.diffusion.rules``): it is collected only when that
    rule is the course's."""
    return lambda f: pytest.mark.rule(rule)(f)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "points(n): what passing this check is worth")
    config.addinivalue_line("markers", "graded(cell): the notebook's graded cell this check grades")
    config.addinivalue_line("markers", "rule(name): a check of that update rule's step only")


@pytest.hookimpl(tryfirst=True)  # before anything lists the checks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Drop the checks of the rule the course does not follow."""
    from fundiff.diffusion.rules import course_rule

    rule = course_rule()
    kept = [i for i in items if (m := i.get_closest_marker("rule")) is None or m.args[0] == rule]
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept


def pytest_sessionstart(session: pytest.Session) -> None:  # noqa: ARG001 (pytest's signature)
    """Each run grades one submission: forget what the last one's calls showed."""
    _VERDICTS.clear()


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


def current_check() -> str:
    """The nodeid of the check running now (its examples share it)."""
    return os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0]


def once(key: tuple[str, ...], verdict: Callable[[], str | None]) -> None:
    """Fail with ``verdict()``'s message, computed once per check and ``key`` (the examples of a check
    then agree, and a verdict that costs calls is paid for once)."""
    key = (current_check(), *key)
    if key not in _VERDICTS:
        _VERDICTS[key] = verdict()
    if _VERDICTS[key]:
        pytest.fail(_VERDICTS[key], pytrace=False)


def watched(value: Any) -> Any:
    """``value`` with every tensor in it (in lists, dicts and helpers' arguments) as a watched copy."""
    if isinstance(value, torch.Tensor):
        return Helper("watched", (value,))
    if isinstance(value, Helper):
        return Helper(value.name, tuple(watched(a) for a in value.args))
    if isinstance(value, (list, tuple)):
        return type(value)(watched(v) for v in value)
    if isinstance(value, dict):
        return {k: watched(v) for k, v in value.items()}
    return value


def run(student: Any, name: str, *args: Any, then: tuple[Any, ...] | None = None, on_meta: bool = True,
        **kwargs: Any) -> Outcome:  # fmt: skip
    """The submission's ``name(*args, **kwargs)`` (and what it returns called on ``then``), on watched
    inputs; first, once per check, the same call with every input on "meta" (``on_meta``), whose
    failure to keep to the inputs' device fails the check.

    A ``device`` keyword argument is "meta" in that call; generators are None there.
    """
    if on_meta:
        meta_kwargs = {k: ("meta" if k == "device" else v) for k, v in kwargs.items()}
        once(("meta", name), lambda: _device_verdict(
            student.call(name, *watched(args), then=watched(then), run_on="meta", **watched(meta_kwargs)), name))  # fmt: skip
    return student.call(name, *watched(args), then=watched(then), **watched(kwargs))


def _device_verdict(outcome: Outcome, name: str) -> str | None:
    """What a call with its inputs on "meta" shows: a tensor made on the CPU, or nothing (an error
    of another kind there, such as reading a value, which "meta" tensors lack, proves nothing)."""
    where = f" at line {outcome.line} of your code" if outcome.line else ""
    if outcome.error in ("Timeout", "WorkerDied"):  # it would do the same on the grading device
        return _failure(outcome, name)
    if outcome.error is not None and any(words in outcome.message for words in MIXED_DEVICES):
        return (f"{name} made a tensor on the CPU{where}: given inputs on another device (as on a GPU), it "
                f"mixed devices; {ON_THE_INPUTS_DEVICE}")  # fmt: skip
    if outcome.error is None and outcome.off_device:
        return (f"{name} returned a tensor on the CPU when its inputs were on another device (as on a GPU): "
                f"{ON_THE_INPUTS_DEVICE}")  # fmt: skip
    return None


def returned(outcome: Outcome, name: str) -> Any:
    """What the call returned, or a failure that says, in the student's terms, what went wrong."""
    failure = _failure(outcome, name)
    if failure:
        pytest.fail(failure, pytrace=False)
    return outcome.value


def _failure(outcome: Outcome, name: str) -> str | None:
    """Why ``outcome`` is no value to compare, in the student's terms; None if it is one."""
    where = f" at line {outcome.line} of your code" if outcome.line else ""
    if outcome.error == "NotImplementedError":
        return f"{name} is not implemented yet (it still raises NotImplementedError)"
    if outcome.error == "Timeout":
        return f"{name} did not return within the time limit: an endless loop?"
    if outcome.error == "WorkerDied":
        return f"{name} ended its process ({outcome.message}); it must return a value"
    if outcome.error == "InputChanged":
        return f"{name}{where}: {outcome.message}"
    if outcome.error is not None:
        hint = ""
        if any(words in outcome.message for words in MIXED_DEVICES):
            hint = (
                f"; you created a tensor on another device than the inputs': {ON_THE_INPUTS_DEVICE}"
            )
        return f"{name} raised {outcome.error}{where}: {outcome.message}{hint}"
    if outcome.off_device:
        return f"{name} returned a tensor on the CPU in a GPU run: {ON_THE_INPUTS_DEVICE}"
    return None


def value_of(outcome: Outcome, name: str, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The returned tensor, of ``dtype`` (see ``returned``); a failure if it is anything else."""
    value = returned(outcome, name)
    if isinstance(value, dict) and "eps" in value:  # a Prediction where a tensor was wanted
        pytest.fail(f"{name} returned a Prediction; return the tensor itself", pytrace=False)
    if not isinstance(value, torch.Tensor):
        pytest.fail(f"{name} returned a {type(value).__name__}, not a tensor", pytrace=False)
    expect_dtype(value, name, dtype)
    return value


def prediction_of(outcome: Outcome, name: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(eps, variance) of a returned ``Prediction``, each float32."""
    value = returned(outcome, name)
    if not (isinstance(value, dict) and "eps" in value):
        pytest.fail(
            f"{name} returned a {type(value).__name__}; return a Prediction(eps, variance)",
            pytrace=False,
        )
    for part in ("eps", "variance"):
        if part == "eps" or value.get(part) is not None:
            if not isinstance(value[part], torch.Tensor):
                pytest.fail(f"{name} returned a Prediction whose {part} is a {type(value[part]).__name__}, "
                            "not a tensor", pytrace=False)  # fmt: skip
            expect_dtype(value[part], f"{name} (its {part})")
    return value["eps"], value.get("variance")


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


def module_on_meta(
    student: Any, name: str, args: tuple[Any, ...], inputs: tuple[Any, ...], seed: int = 0
) -> None:
    """Once per check: the student's ``name(*args)`` moved to "meta" and run there on ``inputs`` (eval
    mode); fail if its ``forward`` makes a tensor on the CPU whatever its inputs' device."""

    def verdict() -> str | None:
        built = student.build(name, *args, seed=seed, run_on="meta")
        if not built.ok:  # the build itself is judged on the grading device
            return None
        meta = [watched(x) for x in inputs]
        ran = student.forward(built.value["handle"], *meta, mode="eval", key=name, run_on="meta")
        return _device_verdict(ran, f"{name}{tuple(args)}")

    once(("meta-module", name), verdict)


def _numel(shape: list[int]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n
