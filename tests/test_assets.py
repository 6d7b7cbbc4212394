"""Are the shipped files what the manifest says, and is a damaged one refused by name?"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from fundiff import assets
from fundiff.assets import AssetError, asset_path, assets_dir, read_manifest, sha256
from fundiff.cli import main


def test_every_shipped_asset_matches_its_hash() -> None:
    """Does each file in the manifest exist in the installed package with its recorded SHA-256?"""
    manifest = read_manifest()
    assert {
        "mnist_diffusion.safetensors",
        "mnist_classifier.safetensors",
        "mnist_test_digits.png",
    } <= set(manifest)
    for name, digest in manifest.items():
        assert sha256(asset_path(name)) == digest


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A copy of the assets folder that a test may damage."""
    folder = tmp_path / "assets"
    shutil.copytree(assets_dir(), folder)
    return folder


def test_a_corrupted_asset_is_refused_by_name(copy: Path) -> None:
    """Is a file with one byte changed refused as corrupted, naming it?"""
    path = copy / "mnist_diffusion.safetensors"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(AssetError, match="corrupted") as info:
        asset_path("mnist_diffusion.safetensors", copy)
    assert "mnist_diffusion.safetensors" in str(info.value) and "\n" not in str(info.value)


def test_a_missing_asset_is_refused_by_name(copy: Path) -> None:
    """Is a deleted file refused as missing, and an unknown name as not shipped?"""
    (copy / "mnist_classifier.safetensors").unlink()
    with pytest.raises(AssetError, match="missing"):
        asset_path("mnist_classifier.safetensors", copy)
    with pytest.raises(AssetError, match="not a shipped asset"):
        asset_path("weights.bin", copy)


def test_the_cli_stops_with_one_line_on_a_corrupted_backend(
    copy: Path, monkeypatch, capsys, tmp_path: Path
) -> None:
    """Does `fundiff part-a` exit 2 with one line when the shipped backend is corrupted?"""
    (copy / "mnist_diffusion.safetensors").write_bytes(b"truncated")
    monkeypatch.setattr(assets, "assets_dir", lambda: copy)
    assert main(["part-a", "forward", "--out", str(tmp_path / "out"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "corrupted" in err[0]


def test_the_package_assets_stay_under_25_mb() -> None:
    """Do all files in fundiff/assets add up to at most 25 MB?"""
    total = sum(p.stat().st_size for p in assets_dir().rglob("*") if p.is_file())
    assert total <= 25 * 10**6, f"{total / 1e6:.1f} MB"


def test_every_shipped_model_has_a_card_with_command_seed_seconds_and_card() -> None:
    """Does each .safetensors have a model card naming its command, seed, seconds and GPU?"""
    for weights in assets_dir().glob("*.safetensors"):
        card = (assets_dir() / weights.name.replace(".safetensors", ".md")).read_text()
        assert "fundiff train" in card and "--seed 0" in card, weights.name
        assert re.search(r"seconds and card \| [\d.]+ s .*NVIDIA", card), weights.name
        assert sha256(weights) in card, weights.name
