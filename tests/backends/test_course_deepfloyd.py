"""Does the Part A notebook run on DeepFloyd IF by changing one variable (tiny random IF here)?"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_part_a_solutions_run_on_deepfloyd(
    stage1_dir: Path, embeds_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With BACKEND = "deepfloyd" (set through FUNDIFF_BACKEND), does every cell run?"""
    monkeypatch.setenv("FUNDIFF_BACKEND", "deepfloyd")
    monkeypatch.setenv("FUNDIFF_STAGE1", str(stage1_dir))
    monkeypatch.setenv("FUNDIFF_PROMPT_EMBEDS", str(embeds_file))
    nb = nbformat.read(ROOT / "solutions" / "part_a" / "part_a.ipynb", as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()  # fmt: skip
    errors = [
        (o["ename"], o["evalue"])
        for c in nb.cells
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert errors == []
    printed = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "backend: deepfloyd (3, " in printed  # the tiny test IF is 16 px
