"""Are the recipes the write-up's, and are bad values refused with their name?"""

from __future__ import annotations

import math
import shlex

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fundiff.cli import build_parser
from fundiff.cli.train import recipe_overrides
from fundiff.training.config import (
    KINDS,
    LR_SCHEDULES,
    ConfigError,
    TrainConfig,
    recipe,
    train_command,
)


def test_recipes_are_the_write_ups() -> None:
    """Do the defaults match the write-up (sigma 0.5, D=128, batch 256, lr 1e-4, 5 epochs; flow D=64 ...)?"""
    d = recipe("denoiser")
    assert (d.sigma, d.hidden, d.batch_size, d.lr, d.epochs, d.lr_schedule) == (
        0.5,
        128,
        256,
        1e-4,
        5,
        "constant",
    )
    assert d.sample_epochs == (1, 5)
    for kind in ("flow-time", "flow-class"):
        f = recipe(kind)
        assert (f.hidden, f.batch_size, f.lr, f.epochs, f.lr_schedule) == (
            64,
            64,
            1e-2,
            10,
            "exponential",
        )
        assert f.sample_epochs == (1, 5, 10)
    c = recipe("flow-class")
    assert (c.p_uncond, c.guidance) == (0.1, 5.0)


@given(epochs=st.integers(1, 100), final=st.floats(0.01, 1.0))
def test_exponential_schedule_reaches_the_final_factor(epochs: int, final: float) -> None:
    """Does gamma ** epochs equal lr_final, so the last epoch ends at lr * lr_final?"""
    c = recipe("flow-class", epochs=epochs, lr_final=final)
    assert math.isclose(c.gamma**epochs, final, rel_tol=1e-9)


def test_sample_epochs_follow_a_shorter_run() -> None:
    """With fewer epochs, are grids drawn at the recipe epochs reached and at the last?"""
    assert recipe("flow-class", epochs=3).sample_epochs == (1, 3)


@pytest.mark.parametrize(
    ("field", "value"),
    [("epochs", 0), ("epochs", -1), ("batch_size", 0), ("hidden", 0), ("lr", 0.0), ("lr", math.nan),
     ("p_uncond", 1.0), ("guidance", math.nan), ("ema_decay", 1.0), ("sigma", -0.1), ("limit", 0),
     ("lr_schedule", "cosine")],
)  # fmt: skip
def test_bad_values_name_the_field(field: str, value: object) -> None:
    """Is each out-of-range value a ConfigError whose message names the field?"""
    with pytest.raises(ConfigError, match=field):
        recipe("flow-class", **{field: value})


def test_unknown_kind_lists_the_choices() -> None:
    """Does an unknown kind name every valid kind?"""
    with pytest.raises(ConfigError) as info:
        recipe("gan")
    assert all(k in str(info.value) for k in KINDS)


def test_dict_round_trip() -> None:
    """Does from_dict(to_dict(c)) give back c, and refuse unknown keys?"""
    c = recipe("denoiser", limit=100)
    assert TrainConfig.from_dict(c.to_dict()) == c
    with pytest.raises(ConfigError, match="unknown"):
        TrainConfig.from_dict({**c.to_dict(), "colour": "blue"})


@settings(max_examples=40, deadline=None)
@given(
    kind=st.sampled_from(KINDS),
    epochs=st.none() | st.integers(1, 30),
    hidden=st.none() | st.integers(1, 256),
    lr=st.none() | st.floats(1e-6, 1.0),
    ema=st.none() | st.floats(0.0, 0.9999),
    schedule=st.none() | st.sampled_from(LR_SCHEDULES),
    seed=st.integers(0, 2**31 - 1),
    fast=st.none() | st.booleans(),
)
def test_train_command_trains_the_config(
    kind, epochs, hidden, lr, ema, schedule, seed, fast
) -> None:
    """Does the command that train_command prints, parsed by the CLI, give back the config?"""
    config = recipe(kind, epochs=epochs, hidden=hidden, lr=lr, ema_decay=ema, lr_schedule=schedule,
                    seed=seed, fast=fast)  # fmt: skip
    words = shlex.split(train_command(config))
    assert words[:3] == ["fundiff", "train", kind]
    args = build_parser().parse_args(words[1:])
    assert recipe(kind, **recipe_overrides(args)) == config


def test_train_command_of_a_recipe_names_only_kind_and_seed() -> None:
    """Is the recipe itself trained by the bare command?"""
    assert train_command(recipe("flow-class")) == "fundiff train flow-class --seed 0"
