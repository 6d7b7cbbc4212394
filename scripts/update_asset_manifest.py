"""Rewrite fundiff/assets/MANIFEST.json with the SHA-256 of every shipped binary asset.

Run it after retraining a shipped model on purpose; review the diff like any other change.
"""

from __future__ import annotations

import json

from fundiff.assets import MANIFEST, assets_dir, sha256

if __name__ == "__main__":
    folder = assets_dir()
    manifest = {
        p.relative_to(folder).as_posix(): sha256(p)
        for p in sorted(folder.rglob("*"))
        if p.suffix in (".safetensors", ".png")
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps(manifest, indent=2))
