"""Tests for ``fundiff.parta.backend``: the backend of a Part A task, by name."""

from __future__ import annotations

import pytest

from fundiff.parta.backend import build_backend
from fundiff.parta.options import TaskError


def test_unknown_backend_is_a_task_error() -> None:
    """Does build_backend refuse a backend it does not know, listing the ones it does?"""
    with pytest.raises(TaskError, match="mnist or deepfloyd"):
        build_backend("stable-diffusion")
