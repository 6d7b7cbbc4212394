"""The files shipped inside the package, each checked against its SHA-256.

``fundiff/assets/MANIFEST.json`` maps every shipped file to its hash; a file
that is missing or whose bytes differ (a truncated download, an edited file) is
refused with one line that names it and says how to restore it.
``scripts/update_asset_manifest.py`` rewrites the manifest after an asset is
retrained on purpose.
"""

from __future__ import annotations

import functools
import hashlib
import json
from importlib import resources
from pathlib import Path

MANIFEST = "MANIFEST.json"


class AssetError(Exception):
    """A shipped file is missing or corrupted; the message names it and how to restore it."""


def assets_dir() -> Path:
    """The folder of the package's assets."""
    return Path(str(resources.files("fundiff") / "assets"))


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes.

    Args:
        path: the file to hash.

    Returns:
        The digest as 64 hex characters.
    """
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_manifest(folder: Path | None = None) -> dict[str, str]:
    """File name -> SHA-256 of the shipped assets.

    Args:
        folder: the folder holding ``MANIFEST.json``; None: the package's assets folder.

    Returns:
        A dict mapping each shipped file's name to its hex SHA-256.

    Raises:
        AssetError: the manifest is missing or not valid JSON.
    """
    folder = folder or assets_dir()
    try:
        return json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError) as err:
        raise AssetError(
            f"{folder / MANIFEST}: unreadable asset manifest ({err}); reinstall fundiff"
        ) from None


def asset_path(name: str, folder: Path | None = None) -> Path:
    """The path of shipped asset ``name``, after checking its hash (once per process and file).

    Args:
        name: the asset's file name, as listed in ``MANIFEST.json``.
        folder: the assets folder; None: the package's own.

    Returns:
        The path of the checked file.

    Raises:
        AssetError: unknown, missing or corrupted asset.
    """
    folder = folder or assets_dir()
    return _checked(name, str(folder))


@functools.cache
def _checked(name: str, folder: str) -> Path:
    expected = read_manifest(Path(folder)).get(name)
    path = Path(folder) / name
    restore = (
        "reinstall fundiff (pip install --force-reinstall fundiff), or restore it with git checkout"
    )
    if expected is None:
        raise AssetError(f"{name} is not a shipped asset of fundiff (not in {MANIFEST})")
    if not path.is_file():
        raise AssetError(f"{path}: shipped asset missing; {restore}")
    if sha256(path) != expected:
        raise AssetError(
            f"{path}: shipped asset corrupted (SHA-256 differs from {MANIFEST}); {restore}"
        )
    return path
