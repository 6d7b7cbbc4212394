"""Figures: image grids, labelled image tables and loss curves, saved as PNG.

Every figure is a ``matplotlib.figure.Figure`` drawn with its object API and saved on
its own Agg canvas: no display is needed, pyplot's global state (its backend, its
open figures, a notebook's inline plots) is never touched, and matplotlib and
torchvision load only when a figure is drawn (a process that draws none, such as
the grader's worker, never imports them). Every file is written atomically.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from fundiff.atomic import atomic_path

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _figure(**kwargs: Any) -> Figure:
    """A new figure outside pyplot (``kwargs``: ``Figure``'s, e.g. ``figsize``)."""
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def _to_hwc(img: torch.Tensor) -> np.ndarray:
    """(C, H, W) in [0, 1] -> (H, W) or (H, W, C) NumPy array, clamped."""
    img = img.detach().float().cpu().clamp(0, 1)
    return (img[0] if img.shape[0] == 1 else img.permute(1, 2, 0)).numpy()


def save_grid(
    path: str | os.PathLike[str],
    images: torch.Tensor,
    nrow: int,
    title: str | None = None,
) -> None:
    """Save images as one grid.

    Args:
        path: PNG file to write.
        images: (N, C, H, W), values in [0, 1] (clamped).
        nrow: images per row.
        title: figure title.
    """
    from torchvision.utils import make_grid

    grid = make_grid(images.detach().float().cpu().clamp(0, 1), nrow=nrow, padding=2, pad_value=1.0)
    h, w = grid.shape[1:]
    fig = _figure(figsize=(max(2.0, w / 40), max(2.0, h / 40 + (0.4 if title else 0))))
    ax = fig.add_axes((0, 0, 1, 0.92 if title else 1))
    ax.imshow(_to_hwc(grid), cmap="gray", vmin=0, vmax=1)
    ax.set_axis_off()
    if title:
        fig.suptitle(title, fontsize=9)
    _save(fig, path)


def save_table(
    path: str | os.PathLike[str],
    images: torch.Tensor,
    row_labels: Sequence[str] = (),
    col_labels: Sequence[str] = (),
    title: str | None = None,
) -> None:
    """Save a table of images with row and column labels.

    Args:
        path: PNG file to write.
        images: (R, K, C, H, W), values in [0, 1] (clamped).
        row_labels: R labels (or none).
        col_labels: K labels (or none).
        title: figure title.
    """
    rows, cols = images.shape[:2]
    fig = _figure(figsize=(1.1 * cols + 0.6, 1.1 * rows + 0.5))
    axes = fig.subplots(rows, cols, squeeze=False)
    for r in range(rows):
        for k in range(cols):
            ax = axes[r][k]
            ax.imshow(_to_hwc(images[r, k]), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0 and col_labels:
                ax.set_title(col_labels[k], fontsize=8)
            if k == 0 and row_labels:
                ax.set_ylabel(row_labels[r], fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    _save(fig, path)


def save_loss_curve(
    path: str | os.PathLike[str],
    losses: Sequence[float],
    title: str,
    epoch_steps: Sequence[int] = (),
) -> None:
    """Save a training-loss curve, log scale, with epoch boundaries marked.

    Args:
        path: PNG file to write.
        losses: loss per optimiser step.
        title: figure title.
        epoch_steps: step counts at which epochs ended.
    """
    fig = _figure(figsize=(6, 3.5))
    ax = fig.subplots()
    ax.plot(range(1, len(losses) + 1), losses, lw=0.6)
    for s in epoch_steps:
        ax.axvline(s, color="0.8", lw=0.6, zorder=0)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    _save(fig, path)


def _save(fig: Figure, path: str | os.PathLike[str]) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100)
