"""Does ``fundiff.viz`` draw each figure as a PNG of the right shape, leaving pyplot's state alone?"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from fundiff.viz import save_grid, save_loss_curve, save_table


def _png(path: Path) -> torch.Tensor:
    import numpy as np

    with Image.open(path) as png:
        return torch.from_numpy(np.asarray(png.convert("L"), dtype=np.float32))


@settings(max_examples=6, deadline=None)
@given(
    n=st.integers(2, 9), channels=st.sampled_from([1, 3]), title=st.sampled_from([None, "a title"])
)
def test_a_grid_is_laid_out_by_its_rows_and_shows_its_images(tmp_path_factory: pytest.TempPathFactory, n: int,
                                                              channels: int, title: str | None) -> None:  # fmt: skip
    """One row is wider than tall, one column taller than wide; dark images give a darker PNG;
    values outside [0, 1] are clamped, not refused."""
    folder = tmp_path_factory.mktemp("grid")
    dark = torch.rand(n, channels, 40, 40, generator=torch.Generator().manual_seed(n)) * 0.2 - 0.5
    save_grid(folder / "row.png", dark, nrow=n, title=title)
    save_grid(folder / "column.png", dark, nrow=1, title=title)
    save_grid(folder / "light.png", 1.5 - dark, nrow=n, title=title)
    row, column, light = (_png(folder / f"{name}.png") for name in ("row", "column", "light"))
    assert row.shape[1] > row.shape[0] and column.shape[0] > column.shape[1]
    assert row.mean() < light.mean() - 50


def test_a_table_and_a_loss_curve_are_pngs(tmp_path: Path) -> None:
    save_table(tmp_path / "table.png", torch.rand(2, 3, 1, 8, 8), ["a", "b"], ["x", "y", "z"], "t")
    save_loss_curve(tmp_path / "loss.png", [1.0, 0.5, 0.25, 0.2], "loss", epoch_steps=[2])
    for name in ("table.png", "loss.png"):
        with Image.open(tmp_path / name) as png:
            assert png.format == "PNG" and min(png.size) > 100
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loss.png", "table.png"]


DRAW = """
import sys, matplotlib
matplotlib.use("svg")  # a notebook's own choice, made before fundiff is imported
import matplotlib.pyplot as plt, torch
plt.figure()
from fundiff.viz import save_grid, save_loss_curve, save_table
folder = sys.argv[1]
save_grid(folder + "/g.png", torch.rand(4, 1, 8, 8), nrow=2)
save_table(folder + "/t.png", torch.rand(1, 2, 1, 8, 8))
save_loss_curve(folder + "/l.png", [1.0, 0.5], "loss")
print(matplotlib.get_backend(), plt.get_fignums())
"""


def test_drawing_leaves_pyplot_alone(tmp_path: Path) -> None:
    """A notebook's own plots keep their backend and see no figure of fundiff's left open."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-c", DRAW, str(tmp_path)], capture_output=True, text=True,
                          check=True, env={**os.environ, "PYTHONPATH": str(root)})  # fmt: skip
    assert done.stdout.split() == ["svg", "[1]"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.png", "l.png", "t.png"]
