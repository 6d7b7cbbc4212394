"""Tensors that refuse to be changed: the inputs a check hands a submission's function.

``watch(tensor)`` gives a copy of ``tensor`` on which an in-place operation, on it or on
a view of it, raises ``InputChanged`` naming the operation, so the answer says where
the submission changed its caller's tensor (``Helper("watched", ...)`` of
``autograder.toys``).

This module runs inside the worker: it imports only torch.
"""

from __future__ import annotations

from typing import Any

import torch


class InputChanged(RuntimeError):
    """A graded function changed, in place, a tensor it was handed."""


_IN_PLACE_DUNDERS = frozenset({
    "__setitem__", "__iadd__", "__isub__", "__imul__", "__itruediv__", "__ifloordiv__", "__imod__",
    "__ipow__", "__iand__", "__ior__", "__ixor__", "__ilshift__", "__irshift__", "__imatmul__",
})  # fmt: skip
_METADATA_ONLY = frozenset({"requires_grad_", "detach_", "share_memory_"})  # change no value
_SPELLED = {"__setitem__": "x[...] = ...", "__iadd__": "+=", "__isub__": "-=", "__imul__": "*=",
            "__itruediv__": "/=", "__ifloordiv__": "//=", "__ipow__": "**=", "__imatmul__": "@="}  # fmt: skip


def _changes_in_place(name: str, kwargs: dict[str, Any]) -> bool:
    """Whether the torch function ``name`` called with ``kwargs`` writes into its first argument."""
    if name in _IN_PLACE_DUNDERS or kwargs.get("inplace") is True:
        return True
    return name.endswith("_") and not name.startswith("_") and name not in _METADATA_ONLY


def _storage(t: torch.Tensor) -> int | None:
    """An id of the memory ``t`` views (shared by a tensor and its views, on "meta" too)."""
    try:
        with torch._C.DisableTorchFunctionSubclass():
            return t.untyped_storage()._cdata
    except (RuntimeError, NotImplementedError):
        return None


class Watched(torch.Tensor):
    """A tensor that refuses in-place changes to its values, and to those of its views.

    Results that share its memory (views, ``detach()``, ``to()`` that copies nothing)
    are ``Watched`` too; every other result is a plain tensor, so a function computes
    on it as on any tensor.
    """

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN206
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        written = [args[0]] if args and _changes_in_place(name, kwargs) else []
        out = kwargs.get("out")
        outs = list(out) if isinstance(out, (list, tuple)) else [out]
        for target in written + outs:
            if isinstance(target, Watched):
                how = _SPELLED.get(name, f"{name}, inplace=True" if kwargs.get("inplace") else name)
                how = f"{name}(..., out=...)" if any(target is o for o in outs) else how
                raise InputChanged(
                    f"it changed a tensor it was given, in place ({how}); the caller's "
                    "tensors must stay as they were: compute a new tensor (x = x * a, not x *= a or "
                    "x.mul_(a)), or change a copy (x = x.clone())"
                )
        flat = [a for arg in [*args, *kwargs.values()]
                for a in (arg if isinstance(arg, (list, tuple)) else [arg])]  # fmt: skip
        watched = {_storage(a) for a in flat if isinstance(a, Watched)} - {None}
        with torch._C.DisableTorchFunctionSubclass():
            result = func(*args, **kwargs)
        return _rewatch(result, watched)

    def __reduce_ex__(self, protocol: Any) -> Any:
        """Saved (``torch.save``, pickle) as the plain tensor it is."""
        with torch._C.DisableTorchFunctionSubclass():
            plain = self.as_subclass(torch.Tensor)
        return plain.__reduce_ex__(protocol)


def _rewatch(value: Any, watched: set[int]) -> Any:
    """``value`` with the tensors that share memory with a watched one ``Watched``, the others plain."""
    if isinstance(value, torch.Tensor):
        shares = bool(watched) and _storage(value) in watched
        if shares and not isinstance(value, Watched):
            with torch._C.DisableTorchFunctionSubclass():
                return value.as_subclass(Watched)
        if not shares and isinstance(value, Watched):
            with torch._C.DisableTorchFunctionSubclass():
                return value.as_subclass(torch.Tensor)
        return value
    if type(value) in (list, tuple):
        return type(value)(_rewatch(v, watched) for v in value)
    return value


def watch(tensor: torch.Tensor) -> torch.Tensor:
    """A copy of ``tensor`` that raises ``InputChanged`` when it, or a view of it, is changed in place.

    Args:
        tensor: any tensor, on any device.

    Returns:
        A ``Watched`` copy, with the values, dtype and device of ``tensor``.
    """
    with torch._C.DisableTorchFunctionSubclass():
        return tensor.detach().clone().as_subclass(Watched)
