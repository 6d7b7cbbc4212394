"""Feedback across checks: a check that fails because a graded function it relies on is wrong says so.

A submission's ``sdedit`` that calls its own wrong ``forward`` fails its check
although ``sdedit`` itself may be right. ``explain_dependencies`` reads which
graded functions each graded function uses (from the submission's code, through
any helper functions of its own) and adds to a failing check's output that a
function it uses fails its own check, so the student fixes that one first.
"""

from __future__ import annotations

import ast
from typing import Any

MAX_OUTPUT = 400  # characters of one check's output


def graded_name(check_name: str) -> str:
    """The graded function or class a check grades: its name's first word, before ':'.

    Args:
        check_name: the check's name, e.g. "sdedit: noise the image to timesteps[i_start], then denoise it".

    Returns:
        The function's name, e.g. "sdedit"; "" for a name without ':'.
    """
    head, sep, _ = check_name.partition(":")
    return head.strip() if sep and head.strip().isidentifier() else ""


def uses(code: str, names: set[str]) -> dict[str, set[str]]:
    """Which of ``names`` each top-level function or class of ``code`` named in ``names`` uses.

    A use is a reference to the name (a call, or the function handed on), in the
    definition's body or in a helper of the submission's own it uses (followed
    transitively); names the definition binds itself (arguments, assignments) are not.

    Args:
        code: the submission's source.
        names: the graded functions and classes.

    Returns:
        For each of ``names`` defined at the top level of ``code``, the others it uses;
        empty if the code does not parse.
    """
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return {}
    direct: dict[str, set[str]] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            direct[node.name] = _references(node)
    found: dict[str, set[str]] = {}
    for name in names & direct.keys():
        seen, todo, graded = {name}, list(direct[name]), set()
        while todo:
            ref = todo.pop()
            if ref in seen:
                continue
            seen.add(ref)
            if ref in names:
                graded.add(ref)
            elif ref in direct:  # a helper of the submission's own: look through it
                todo.extend(direct[ref])
        found[name] = graded
    return found


def _references(node: ast.AST) -> set[str]:
    """The names ``node`` reads that it does not bind itself."""
    loads, binds = set(), set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            (loads if isinstance(sub.ctx, ast.Load) else binds).add(sub.id)
        elif isinstance(sub, ast.arg):
            binds.add(sub.arg)
    return loads - binds


def explain_dependencies(tests: list[dict[str, Any]], code: str) -> list[dict[str, Any]]:
    """The check results, each failing one's output telling which graded functions it uses fail too.

    Args:
        tests: the check results (keys nodeid, name, score, max_score, output, tags); a
            check grades the function its name starts with ("sdedit: ...").
        code: the submission's source code.

    Returns:
        New result dicts, in order: a failing check of a function that uses graded functions
        whose own checks fail has "; forward, which it calls, fails its own check: fix that
        first" added to its output, shortened to at most ``MAX_OUTPUT`` characters.
    """
    checked = {graded_name(t.get("name", "")) for t in tests} - {""}
    failing = {graded_name(t.get("name", "")) for t in tests if t["score"] < t["max_score"]} - {""}
    used = uses(code, checked)
    explained = []
    for test in tests:
        test = dict(test)
        name = graded_name(test.get("name", ""))
        culprits = sorted((used.get(name, set()) & failing) - {name})
        if test["score"] < test["max_score"] and culprits:
            test["output"] = _shorten(str(test.get("output", "")), _note(culprits))
        explained.append(test)
    return explained


def _note(culprits: list[str]) -> str:
    if len(culprits) == 1:
        return f"; {culprits[0]}, which it calls, fails its own check: fix that first"
    listed = ", ".join(culprits[:-1]) + f" and {culprits[-1]}"
    return f"; {listed}, which it calls, fail their own checks: fix those first"


def _shorten(output: str, note: str) -> str:
    """``output`` with ``note`` after it, the output cut (with "…") to keep within ``MAX_OUTPUT``."""
    if len(note) >= MAX_OUTPUT:
        return note[: MAX_OUTPUT - 1] + "…"
    room = MAX_OUTPUT - len(note)
    if len(output) > room:
        output = output[: room - 1] + "…"
    return output + note
