"""Tests for getting weights (``fundiff.backends.hub``): local folders, and hub ids with no network.

Hub ids are tried in subprocesses with an empty ``HF_HOME`` and a hub that
refuses or never answers, to show that missing weights end in
``WeightsUnavailable`` within seconds, never in a hang. The loader called is
``load_deepfloyd``, as users call it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from fundiff.backends.deepfloyd import load_deepfloyd
from fundiff.backends.hub import IF_STAGE1, WeightsUnavailable

IF_PAGE = "https://huggingface.co/DeepFloyd/IF-I-XL-v1.0"


# --------------------------------------------------------------------------- local folders


def test_a_missing_local_folder_is_named(tmp_path, embeds_file) -> None:
    """Is a stage I folder that does not exist a WeightsUnavailable naming it?"""
    with pytest.raises(WeightsUnavailable, match="no-such-stage1"):
        load_deepfloyd(tmp_path / "no-such-stage1", None, embeds_file, device="cpu")


def test_a_folder_that_is_no_pipeline_is_named(tmp_path, embeds_file) -> None:
    """Is an empty folder a WeightsUnavailable naming it and asking for a save_pretrained copy?"""
    empty = tmp_path / "empty-stage1"
    empty.mkdir()
    with pytest.raises(WeightsUnavailable, match=r"empty-stage1.*save_pretrained"):
        load_deepfloyd(empty, None, embeds_file, device="cpu")


# --------------------------------------------------------------------------- hub ids, no network


LOAD_FROM_HUB = """
import json, sys, time, torch
from diffusers import IFPipeline  # imported before the clock starts
import fundiff.backends.deepfloyd as df
import fundiff.backends.hub as hub
hub.HUB_TIMEOUT_S = float(sys.argv[1])
start = time.perf_counter()
try:
    df.load_deepfloyd(df.IF_STAGE1, None, prompt_embeds={"": torch.zeros(1, 77, 4096)}, device="cpu")
    result = {"error": None}
except hub.WeightsUnavailable as err:
    result = {"error": "WeightsUnavailable", "message": str(err)}
result["seconds"] = time.perf_counter() - start
print(json.dumps(result))
"""


def load_from_hub(hf_home: Path, hub_timeout_s: float = 10.0, **env: str) -> dict:
    """load_deepfloyd(IF_STAGE1) in a fresh interpreter with an empty HF_HOME and no token.

    A fresh interpreter because huggingface_hub reads its settings at import.
    The call is killed after 120 s, so a hang fails the test instead of stalling it.
    """
    hf_home.mkdir(exist_ok=True)
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HF_", "HUGGINGFACE_", "TRANSFORMERS_"))
    }
    environ.update(HF_HOME=str(hf_home), **env)
    done = subprocess.run(
        [sys.executable, "-c", LOAD_FROM_HUB, str(hub_timeout_s)],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"load_deepfloyd({IF_STAGE1!r}) with {env}: {result}")  # shown with pytest -s
    return result


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # a fresh interpreter imports torch and diffusers
def test_hub_id_with_hf_hub_offline_fails_at_once_with_advice(tmp_path) -> None:
    """With HF_HUB_OFFLINE=1 and an empty cache, is it WeightsUnavailable at once, saying how to get IF?"""
    result = load_from_hub(tmp_path / "hf", HF_HUB_OFFLINE="1")
    assert result["error"] == "WeightsUnavailable"
    assert result["seconds"] < 5
    message = result["message"]
    assert "\n" not in message
    for advice in (
        "HF_HUB_OFFLINE",
        IF_PAGE,
        "hf auth login",
        "huggingface-cli login",
        "local folder",
    ):
        assert advice in message


@pytest.mark.slow  # a fresh interpreter imports torch and diffusers
def test_hub_id_with_no_hub_to_reach_fails_fast(tmp_path) -> None:
    """With an empty cache and a hub that refuses connections, is it WeightsUnavailable in seconds?"""
    result = load_from_hub(tmp_path / "hf", HF_ENDPOINT=f"http://127.0.0.1:{closed_port()}")
    assert result["error"] == "WeightsUnavailable"
    assert result["seconds"] < 30
    for advice in ("check the network", IF_PAGE, "hf auth login", "local folder"):
        assert advice in result["message"]


@pytest.mark.slow  # a fresh interpreter imports torch and diffusers
def test_hub_id_with_a_hub_that_never_answers_does_not_hang(tmp_path) -> None:
    """If the hub accepts the connection but never replies, does the probe time out?"""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel completes handshakes; nobody ever reads or answers
        port = silent.getsockname()[1]
        result = load_from_hub(
            tmp_path / "hf", hub_timeout_s=1, HF_ENDPOINT=f"http://127.0.0.1:{port}"
        )
    assert result["error"] == "WeightsUnavailable"
    assert result["seconds"] < 30
    assert "timeout" in result["message"].lower()
