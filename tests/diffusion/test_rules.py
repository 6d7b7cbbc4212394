"""Is the rule chosen in one place, overridable by the environment and scoped by ``using``?"""

from __future__ import annotations

import pytest

from fundiff.diffusion import rules


def test_the_course_rule_is_the_writeups_unless_the_environment_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Is COURSE_RULE the default, FUNDIFF_RULE its override, and a bad value one clear error?"""
    monkeypatch.delenv(rules.ENVIRONMENT, raising=False)
    assert rules.course_rule() == rules.COURSE_RULE == "writeup"
    monkeypatch.setenv(rules.ENVIRONMENT, "ddpm")
    assert rules.course_rule() == rules.current_rule() == "ddpm"
    monkeypatch.setenv(rules.ENVIRONMENT, "ddim")
    with pytest.raises(
        rules.RuleError, match="FUNDIFF_RULE must be one of writeup, ddpm; got 'ddim'"
    ):
        rules.course_rule()


def test_using_scopes_a_rule_and_restores_the_last(monkeypatch: pytest.MonkeyPatch) -> None:
    """Does ``using`` hold inside its block only, nest, and keep the rule in force for None?"""
    monkeypatch.delenv(rules.ENVIRONMENT, raising=False)
    with rules.using("ddpm") as outer:
        assert outer == rules.current_rule() == "ddpm"
        with rules.using(None):
            assert rules.current_rule() == "ddpm"
        with rules.using("writeup"):
            assert rules.current_rule() == "writeup"
        assert rules.current_rule() == "ddpm"
    assert rules.current_rule() == "writeup"
    with (
        pytest.raises(rules.RuleError, match="rule must be one of"),
        rules.using("posterior"),  # type: ignore[arg-type]
    ):
        pass


@pytest.mark.parametrize("rule", rules.RULES)
def test_every_rule_has_a_step_and_a_description(rule: rules.Rule) -> None:
    """Has each rule its step in the denoising module and a line that names what it computes?"""
    from fundiff.diffusion.denoise import STEPS

    assert STEPS[rule].__name__ == f"{rule}_step"
    assert "x_t'" in rules.describe(rule)
