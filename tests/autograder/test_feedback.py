"""Does a failing check say when a graded function it relies on fails its own check, and only then?"""

from __future__ import annotations

import copy

from hypothesis import given
from hypothesis import strategies as st

from autograder.feedback import MAX_OUTPUT, explain_dependencies, graded_name, uses

CODE = """
def forward(x0, t, alphas_cumprod, generator=None, eps=None):
    return x0

def _noised(image, t, abar, generator):
    return forward(image, t, abar, generator)

def sdedit(predictor, image, i_start, timesteps, alphas_cumprod, variance_type, generator=None):
    x_t = _noised(image, timesteps[i_start], alphas_cumprod, generator)
    return iterative_denoise(predictor, x_t, timesteps, i_start, alphas_cumprod, variance_type, generator)

def iterative_denoise(predictor, x_t, timesteps, i_start, alphas_cumprod, variance_type, generator=None):
    return x_t

def inpaint(predictor, original, mask, timesteps, alphas_cumprod, variance_type, generator=None):
    forward = lambda x: x  # binds the name itself: no use of the graded forward
    return forward(original)

class ConvBlock:
    pass

class UNetTrunk:
    def __init__(self):
        self.block = ConvBlock()

class UnconditionalUNet:
    def __init__(self):
        self.trunk = UNetTrunk()
"""


def result(name: str, passed: bool, output: str = "your edit differs by 0.3 at most") -> dict:
    return {"nodeid": f"test_{name.split(':')[0]}", "name": name, "score": 2.0 if passed else 0.0,
            "max_score": 2.0, "output": "passed" if passed else output, "tags": ["cell"]}  # fmt: skip


def test_a_failing_check_names_the_failing_function_it_calls_through_a_helper() -> None:
    """Does sdedit's failure name forward, which it calls through a helper of the submission's own?"""
    tests = [result("forward: x_t from x0 and given noise", False, "at t=3 your x_t differs by 1"),
             result("iterative_denoise: the loop", True),
             result("sdedit: noise the image, then denoise it", False)]  # fmt: skip
    out = explain_dependencies(tests, CODE)
    assert out[2]["output"] == ("your edit differs by 0.3 at most; forward, which it calls, fails its own "
                                "check: fix that first")  # fmt: skip
    assert out[0]["output"] == "at t=3 your x_t differs by 1"  # forward calls no graded function
    assert out[1] == tests[1]


def test_checks_that_pass_or_whose_callees_pass_are_left_as_they_are() -> None:
    """Is nothing added to a passing check, nor to a failing one whose callees all pass?"""
    tests = [result("forward: x_t", False), result("sdedit: the edit", True),
             result("iterative_denoise: the loop", False)]  # fmt: skip
    before = copy.deepcopy(tests)
    out = explain_dependencies(tests, CODE)
    assert out == before
    assert tests == before  # the input is not changed


def test_a_name_the_function_binds_itself_is_not_a_use() -> None:
    """Does a local variable named like a graded function not count as calling it?"""
    tests = [result("forward: x_t", False), result("inpaint: new content inside the mask", False)]
    assert explain_dependencies(tests, CODE)[1]["output"] == tests[1]["output"]


def test_several_failing_callees_are_all_named() -> None:
    """Are two failing callees listed together, in order?"""
    tests = [result("forward: x_t", False), result("iterative_denoise: the loop", False),
             result("sdedit: the edit", False, "x")]  # fmt: skip
    assert explain_dependencies(tests, CODE)[2]["output"] == (
        "x; forward and iterative_denoise, which it calls, fail their own checks: fix those first"
    )


def test_classes_are_followed_through_the_modules_they_build() -> None:
    """Does the UNet's failure name the block its trunk builds?"""
    tests = [result("ConvBlock: the write-up's layers", False),
             result("UnconditionalUNet: the write-up's trunk", False, "differs")]  # fmt: skip
    assert explain_dependencies(tests, CODE)[1]["output"].startswith(
        "differs; ConvBlock, which it calls"
    )
    assert uses(CODE, {"ConvBlock", "UnconditionalUNet"}) == {
        "ConvBlock": set(),
        "UnconditionalUNet": {"ConvBlock"},
    }


def test_code_that_does_not_parse_changes_nothing() -> None:
    tests = [result("forward: x_t", False), result("sdedit: the edit", False)]
    assert explain_dependencies(tests, "def sdedit(:\n") == tests


@given(output=st.text(max_size=600))
def test_an_output_never_grows_past_its_limit(output: str) -> None:
    """Is every output at most MAX_OUTPUT characters, the note kept whole?"""
    tests = [result("forward: x_t", False), result("sdedit: the edit", False, output)]
    out = explain_dependencies(tests, CODE)[1]["output"]
    assert len(out) <= MAX_OUTPUT
    assert out.endswith("fix that first")


def test_the_graded_name_is_the_first_word_before_the_colon() -> None:
    assert (
        graded_name("sample_class_conditional: with the shipped UNet, it draws digits")
        == "sample_class_conditional"
    )
    assert graded_name("Conv: the write-up's layers") == "Conv"
    assert graded_name("no colon here") == ""
