"""Tests for ``fundiff.cli.args``: the one number-type factory behind every numeric flag."""

from __future__ import annotations

import argparse
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fundiff.cli.args import digit, finite_float, number, positive_float, positive_int


@pytest.mark.parametrize(
    ("read", "text", "message"),
    [
        pytest.param(positive_int, "0", "expected a positive integer, got 0", id="int 0"),
        pytest.param(positive_int, "two", "expected a positive integer, got 'two'", id="int word"),
        pytest.param(finite_float, "nan", "expected a finite number, got 'nan'", id="nan"),
        pytest.param(finite_float, "x", "expected a number, got 'x'", id="float word"),
        pytest.param(positive_float, "0", "expected a positive number, got '0'", id="float 0"),
        pytest.param(positive_float, "inf", "expected a finite number, got 'inf'", id="inf"),
        pytest.param(digit, "10", "a digit is 0-9, got 10", id="digit 10"),
        pytest.param(digit, "-1", "a digit is 0-9, got -1", id="digit -1"),
        pytest.param(number(int, low=2, high=5), "7", "expected an integer from 2 to 5, got 7", id="bounds"),
        pytest.param(number(float, low=0.5, high=2), "3", "expected a number > 0.5 and <= 2, got '3'", id="float bounds"),
    ],
)  # fmt: skip
def test_a_word_out_of_bounds_is_one_line_naming_it(read, text: str, message: str) -> None:  # noqa: ANN001
    """Is each refused word an ArgumentTypeError of one line that names the word and what was wanted?"""
    with pytest.raises(argparse.ArgumentTypeError) as info:
        read(text)
    assert str(info.value) == message


@given(value=st.integers(1, 10**9))
def test_positive_int_reads_back_every_positive_integer(value: int) -> None:
    """Does positive_int read any integer >= 1 back as itself (an int)?"""
    assert positive_int(str(value)) == value and isinstance(positive_int(str(value)), int)


@given(value=st.floats(allow_nan=False, allow_infinity=False))
def test_finite_float_reads_back_every_finite_number(value: float) -> None:
    """Does finite_float read any finite number back exactly, and positive_float only those > 0?"""
    assert finite_float(repr(value)) == value
    if value > 0:
        assert positive_float(repr(value)) == value
    else:
        with pytest.raises(argparse.ArgumentTypeError):
            positive_float(repr(value))
    assert math.isfinite(finite_float(repr(value)))
