"""Building the demo: the write-up's figures, in order, drawn from the shipped models into one folder.

Part A runs every section of ``fundiff.parta`` on a backend: the shipped MNIST
diffusion model by default, or DeepFloyd IF (``backend="deepfloyd"``). Part B
draws from the shipped Part B models, beside the figures recorded while those
models were trained (epochs before the last, and loss curves, which no CPU can
redraw in minutes).

Everything is built in a temporary folder beside ``out`` and moved into place at
the end, ``index.html`` last, so that a failed or interrupted run leaves nothing
half-written. The page uses relative paths and needs no server. What each figure
is called and shows is in ``fundiff.demo.catalogue``; the HTML in ``fundiff.demo.render``;
the command, ``fundiff demo``, in ``fundiff.cli.demo``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from tqdm.auto import tqdm

from fundiff.assets import asset_path, assets_dir, read_manifest
from fundiff.backends.base import Backend
from fundiff.demo.catalogue import (
    MODEL_CARDS,
    PART_B_MODELS,
    Entry,
    part_a_caption,
    part_b_entries,
)
from fundiff.demo.render import MARKER, render
from fundiff.parta.options import TaskOptions
from fundiff.parta.sections import TASKS
from fundiff.parta.tasks import run_task
from fundiff.training.config import TrainConfig

PAGE_ENTRIES = ("index.html", "part_a", "part_b", "models", "inputs")
"""What the demo writes into ``out``; nothing else there is touched."""


class DemoError(ValueError):
    """The demo cannot run as asked; the message says what to do instead."""


class OutUnusable(DemoError):
    """The folder named for the demo cannot hold it.

    Attributes:
        out: the folder.
        problem: what is wrong and what to do, e.g. "is a file; name a folder for the demo".
    """

    def __init__(self, out: Path, problem: str) -> None:
        self.out, self.problem = out, problem
        super().__init__(f"{out} {problem}")


def _part_a(
    backend: Backend, out: Path, shown: str, progress: Callable[[str], None]
) -> list[Entry]:
    """Run every Part A task on ``backend`` into ``out / "part_a"``; ``shown`` is the --out of the commands."""
    folder = out / "part_a"
    entries: list[Entry] = []
    tasks = [t for t in TASKS if t != "part0" or backend.name == "deepfloyd"]
    drawing = draw_sketch(backend.image_shape, out / "inputs" / "drawing.png")
    # MNIST edits a shipped test digit; IF, with no image of its own, edits the drawing
    image = None if backend.name == "mnist" else drawing
    flag = "" if image is None else f" --image {shown}/inputs/drawing.png"
    runs = [
        (t, image, folder, f"{t} --backend {backend.name}{flag} --out {shown}/part_a")
        for t in tasks
    ]
    if image is None:  # the drawing's SDEdit follows the digit's
        runs.insert(
            tasks.index("sdedit") + 1,
            (
                "sdedit",
                drawing,
                folder / "drawing",
                f"sdedit --backend {backend.name} --image {shown}/inputs/drawing.png --out {shown}/part_a/drawing",
            ),
        )
    for task, source, where, command in runs:
        progress(f"Part A {task}" + ("" if where == folder else " on a drawing"))
        notes: list[str] = []
        for path in run_task(task, backend, where, TaskOptions(image=source, note=notes.append)):
            key = path.relative_to(folder).as_posix()
            section, caption = part_a_caption(backend, key, task, notes)
            entries.append(Entry(section, f"part_a/{key}", caption, f"fundiff part-a {command}"))
    return entries  # fmt: skip


def draw_sketch(image_shape: Sequence[int], path: Path) -> Path:
    """A rough drawing of the backend's size, as a user would sketch one.

    A 7 on one-channel backends, a house under a sun on colour ones.

    Args:
        image_shape: (C, H, W) of the backend's images; C is 1 or 3.
        path: the PNG to write; its folder is created.

    Returns:
        ``path``, written: an H x W image, greyscale for C = 1, RGB otherwise.
    """
    from PIL import Image, ImageDraw

    channels, h, w = image_shape
    s = w / 28
    if channels == 1:
        img = Image.new("L", (w, h), 0)
        d = ImageDraw.Draw(img)
        d.line(
            [(7 * s, 7 * s), (21 * s, 7 * s), (12 * s, 23 * s)],
            fill=255,
            width=max(1, round(2 * s)),
        )
    else:
        img = Image.new("RGB", (w, h), (135, 190, 235))
        d = ImageDraw.Draw(img)
        d.rectangle([0, 20 * s, w, h], fill=(70, 150, 60))
        d.ellipse([20 * s, 2 * s, 26 * s, 8 * s], fill=(250, 210, 40))
        d.rectangle([6 * s, 14 * s, 16 * s, 24 * s], fill=(180, 60, 40))
        d.polygon([(5 * s, 14 * s), (11 * s, 8 * s), (17 * s, 14 * s)], fill=(90, 50, 30))
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


def _part_b(out: Path, device: torch.device, progress: Callable[[str], None]) -> list[Entry]:
    """Part B figures: drawn now from the shipped models, beside those recorded in training."""
    from fundiff.images import shipped_digits
    from fundiff.kinds import epoch_figures, start_figures
    from fundiff.training.weights import load_exported_model

    digits = ((shipped_digits() + 1) / 2).to(device)  # (10, 1, 28, 28) in [0, 1]
    mean = _train_mean().to(device)
    configs: dict[str, TrainConfig] = {}
    for kind, asset in PART_B_MODELS:
        progress(f"Part B {kind}")
        config, model = load_exported_model(asset_path(asset), device)
        configs[kind] = config
        folder = out / "part_b" / kind
        folder.mkdir(parents=True, exist_ok=True)
        start_figures(folder, config, digits)
        epoch_figures(folder, config, model, config.epochs, digits, train_mean=mean)
    entries = part_b_entries(configs)
    for e in entries:  # part_b/KIND/training/NAME comes from the asset training/KIND/NAME
        _, run, *recorded, name = e.image.split("/")
        if recorded == ["training"]:
            target = out / e.image
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(asset_path(f"training/{run}/{name}"), target)
    return entries


def _train_mean() -> torch.Tensor:
    """The mean MNIST training digit, (1, 28, 28) in [0, 1] (shipped rounded to 8 bits)."""
    from fundiff.images import read_pixels

    return read_pixels(asset_path("mnist_train_mean.png"), 1).float() / 255


def _models(out: Path) -> None:
    folder = out / "models"
    folder.mkdir(parents=True, exist_ok=True)
    for card, _ in MODEL_CARDS:
        shutil.copyfile(assets_dir() / card, folder / card)


def check_out(out: Path) -> None:
    """Refuse an ``out`` that is a file, or a non-empty folder that holds no earlier demo.

    Args:
        out: the folder the demo is to be written into.

    Raises:
        OutUnusable: ``out`` is a file, or a non-empty folder without an earlier demo.
    """
    if out.exists() and not out.is_dir():
        raise OutUnusable(out, "is a file; name a folder for the demo")
    if out.is_dir() and any(out.iterdir()):
        index = out / "index.html"
        if not (index.is_file() and MARKER in index.read_text(errors="replace")):
            raise OutUnusable(
                out, "is not empty and holds no earlier demo; name a new or empty folder"
            )


def run_demo(
    out: Path,
    *,
    backend: str = "mnist",
    device: torch.device | str = "cpu",
    progress: bool = True,
    **backend_options: object,
) -> Path:
    """Write the demo into ``out`` and return the path of its index.html.

    Args:
        out: the folder of the page (created; an earlier demo there is replaced).
        backend: "mnist" or "deepfloyd", Part A's backend.
        device: where the models run.
        progress: show a tqdm bar over the figures.
        **backend_options: passed to ``fundiff.parta.backend.build_backend`` (weights, stage1, ...).

    Returns:
        The path of the written ``out / "index.html"``.

    Raises:
        OutUnusable: ``out`` cannot be written or holds something else (a DemoError).
        DemoError: the backend's weights are unavailable.
        fundiff.assets.AssetError: a shipped asset is missing or corrupted.
    """
    from fundiff.backends.hub import WeightsUnavailable
    from fundiff.parta.backend import build_backend

    start = time.perf_counter()
    out = Path(out)
    check_out(out)
    for name in read_manifest():  # every shipped file, checked before any work
        asset_path(name)
    device = torch.device(device)
    try:
        model = build_backend(
            backend,
            device=device,
            upsample=backend == "deepfloyd",
            **backend_options,  # type: ignore[arg-type]
        )
    except WeightsUnavailable as err:
        raise DemoError(str(err)) from None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    except OSError as err:
        raise OutUnusable(
            out, f"cannot be written ({err.strerror}); name a folder you can write to"
        ) from None
    try:
        steps = len(TASKS) + len(
            PART_B_MODELS
        )  # Part A: part0 on IF, the drawing's SDEdit on MNIST
        with tqdm(total=steps, desc="fundiff demo", unit="step", disable=not progress) as bar:
            started = False

            def step(what: str) -> None:  # the previous step is done; ``what`` starts
                nonlocal started
                bar.update(int(started))
                bar.set_postfix_str(what)
                started = True

            entries = _part_a(model, tmp, str(out), step)
            entries += _part_b(tmp, device, step)
            bar.update()
        _models(tmp)
        # the same figures as data (section, image, caption, command), e.g. for the documentation's gallery
        (tmp / "entries.json").write_text(
            json.dumps([dataclasses.asdict(e) for e in entries], indent=1)
        )
        (tmp / "index.html").write_text(render(entries, backend, time.perf_counter() - start))
        _publish(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out / "index.html"


def _publish(tmp: Path, out: Path) -> None:
    """Move the built page from ``tmp`` into ``out``, replacing an earlier demo, index.html last."""
    if not out.exists():
        os.replace(tmp, out)
        return
    (out / "index.html").unlink(
        missing_ok=True
    )  # the old page goes first: never a page with half its figures
    for name in PAGE_ENTRIES:
        if name == "index.html" or not (tmp / name).exists():
            continue
        old = out / name
        if old.is_dir():
            shutil.rmtree(old)
        elif old.exists():
            old.unlink()
        os.replace(tmp / name, old)
    os.replace(tmp / "index.html", out / "index.html")
