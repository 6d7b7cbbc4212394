"""How a check names a helper argument (``Helper``), and how it crosses to the worker and is built.

A check hands a submission's function a ``Helper(name, args)`` where it cannot pass the
thing itself (a toy model, a generator, a watched tensor: ``autograder.toys``). On the
wire it is a plain dict (``on_wire``); where the function runs, ``resolve`` builds it
with the builders of ``autograder.toys.factories``, so the worker and the grading
process build the same thing from the same parameters.

This module runs inside the worker too: it imports only torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class Helper:
    """A function argument built where it is used, from ``args`` (see ``autograder.toys.factories``)."""

    name: str
    args: tuple[Any, ...] = ()


def resolve(value: Any, built: dict[str, Callable[..., Any]], device: torch.device | str) -> Any:
    """``value`` with every helper built and its tensors on ``device``.

    Args:
        value: an argument: a ``Helper``, a helper dict from the wire, a tensor, or a
            list, tuple or dict of them (nested); anything else passes through.
        built: the builders, from ``factories``.
        device: where tensors are moved.

    Returns:
        ``value`` with helpers built and tensors on ``device``; tuples become lists.
    """
    if isinstance(value, Helper):
        value = {"__helper__": value.name, "args": list(value.args)}
    if isinstance(value, dict) and "__helper__" in value:
        args = [resolve(a, built, device) for a in value.get("args", [])]
        return built[value["__helper__"]](*args)
    if isinstance(value, dict):
        return {k: resolve(v, built, device) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [resolve(v, built, device) for v in value]
    if isinstance(value, torch.Tensor):
        return value.to(device)
    return value


def on_wire(value: Any) -> Any:
    """``value`` with ``Helper``s as plain dicts, ready for ``torch.save``.

    Args:
        value: an argument: a ``Helper``, or a list, tuple or dict holding them (nested);
            anything else passes through.

    Returns:
        ``value`` with each ``Helper`` as ``{"__helper__": name, "args": [...]}``; tuples
        become lists.
    """
    if isinstance(value, Helper):
        return {"__helper__": value.name, "args": [on_wire(a) for a in value.args]}
    if isinstance(value, (list, tuple)):
        return [on_wire(v) for v in value]
    if isinstance(value, dict):
        return {k: on_wire(v) for k, v in value.items()}
    return value
