"""Tests for fundiff.device: which device does a name resolve to, and which names are refused?"""

from __future__ import annotations

import pytest
import torch

from fundiff.device import DeviceUnavailable, resolve_device


def test_auto_and_cpu() -> None:
    """Is "auto" cuda exactly where CUDA is available, and "cpu" the cpu?"""
    want = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == want
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.parametrize("name", ["gpu0", "meta"])
def test_unknown_or_unsupported_names_are_refused(name: str) -> None:
    """Does an unknown or unsupported device name raise ValueError naming it?"""
    with pytest.raises(ValueError, match=name):
        resolve_device(name)


def test_cuda_where_there_is_none_is_a_typed_error() -> None:
    """Where CUDA is missing, does asking for it raise DeviceUnavailable carrying the name asked for?"""
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(DeviceUnavailable, match="not available") as info:
        resolve_device("cuda:1")
    assert info.value.device == "cuda:1"
    assert "--" not in str(info.value)
