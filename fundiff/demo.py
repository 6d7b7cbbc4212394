"""``fundiff demo``: the write-up's figures, in order, from the shipped models, on one HTML page.

Part A runs every loop of ``fundiff.parta`` on a backend: the shipped MNIST
diffusion model by default, or DeepFloyd IF (``backend="deepfloyd"``). Part B
draws from the shipped Part B models, beside the figures recorded while those
models were trained (epochs before the last, and loss curves, which no CPU can
redraw in minutes).

Everything is built in a temporary folder beside ``out`` and moved into place at
the end, ``index.html`` last, so that a failed or interrupted run leaves nothing
half-written. The page uses relative paths and needs no server.
"""

from __future__ import annotations

import dataclasses
import html
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from fundiff.assets import asset_path, assets_dir, read_manifest
from fundiff.backends.base import Backend
from fundiff.diffusion import rules
from fundiff.parta import (
    DEFAULTS,
    ITERATIVE_TASKS,
    TASKS,
    TaskOptions,
    hybrid_figure,
    part0_figure,
    run_task,
)
from fundiff.training.config import TrainConfig, train_command
from fundiff.writeup import PART_A, i_start_label

MARKER = '<meta name="generator" content="fundiff demo">'
"""Marks a page written by the demo, so that a later demo may replace it."""

PAGE_ENTRIES = ("index.html", "part_a", "part_b", "models", "inputs")
"""What the demo writes into ``out``; nothing else there is touched."""

PART_B_MODELS: tuple[tuple[str, str], ...] = (
    ("denoiser", "mnist_denoiser.safetensors"),
    ("pure-noise", "mnist_pure_noise.safetensors"),
    ("flow-time", "mnist_flow_time.safetensors"),
    ("flow-class", "mnist_flow_class.safetensors"),
)

MODEL_CARDS: tuple[tuple[str, str], ...] = (
    ("mnist_diffusion.md", "Part A's MNIST diffusion backend"),
    ("mnist_denoiser.md", "the σ = 0.5 single-step denoiser"),
    ("mnist_pure_noise.md", "the pure-noise denoiser"),
    ("mnist_flow_time.md", "the time-conditioned flow model"),
    ("mnist_flow_class.md", "the class-conditioned flow model"),
    ("mnist_classifier.md", "the classifier that judges generated digits"),
)


class DemoError(ValueError):
    """The demo cannot run as asked; the message says what to do instead."""


@dataclass(frozen=True)
class Entry:
    """One figure of the page.

    Attributes:
        section: its heading, e.g. "1.4 Iterative denoising".
        image: its path relative to the page.
        caption: what it shows.
        command: the command that regenerates it.
    """

    section: str
    image: str
    caption: str
    command: str


# Part A: section and caption of each figure ``fundiff.parta`` writes, by file name. Captions are
# templates, filled by ``part_a_caption`` with the write-up's values and the backend's prompts.
PART_A_FIGURES: dict[str, tuple[str, str]] = {
    "1.1_forward.png": ("1.1 The forward process", "The source image (MNIST: a test digit; IF: the rough drawing in inputs/drawing.png) noised to t = {noise_levels}: x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε."),
    "1.2_blur.png": ("1.2 Classical denoising", "The noisy images of 1.1 (t = {noise_levels}) under a Gaussian blur: the noise fades, and the image's detail with it."),
    "1.3_one_step.png": ("1.3 One-step denoising", "x_0 estimated in one step from the model's noise estimate under {prompt}, x̂_0 = (x_t − √(1 − ᾱ_t) ε̂) / √ᾱ_t, at t = {noise_levels}."),
    "1.4_iterative_steps.png": ("1.4 Iterative denoising", "From left to right, iterative denoising at t = {shown}: the strided loop (t = {timesteps}) from {i_start}, under {prompt}."),
    "1.4_iterative_compare.png": ("1.4 Iterative denoising", "{compare}: the iteratively denoised image beside the one-step estimate and the Gaussian blur of the same noisy image ({i_start})."),
    "1.5_sample.png": ("1.5 Sampling", "{num} images drawn from pure noise by the iterative loop under {prompt}, with no guidance."),
    "1.6_cfg.png": ("1.6 Classifier-free guidance", "{num} samples of {cfg_prompt} with guidance γ = {cfg_scale}: ε = ε_u + γ (ε_c − ε_u), the empty prompt as the unconditional one."),
    "1.7_sdedit.png": ("1.7 SDEdit", "From left to right: {i_starts}. The source image noised to the timestep of each i_start and denoised back under {prompt} with CFG γ = {cfg_scale}: a small i_start (much noise) draws a new image, a large one keeps the original."),
    "drawing/1.7_sdedit.png": ("1.7.1 SDEdit on a drawing", "The same edit of a rough drawing (a few strokes drawn by the demo), from left to right: {i_starts}. The model turns it into one of its images."),
    "1.7.2_inpaint.png": ("1.7.2 Inpainting", "Original, mask, the region to replace, inpainted: the masked region (the top half) regenerated under {prompt}; outside the mask, x_t is replaced at every step by the forward-noised original."),
    "1.7.3_img2img.png": ("1.7.3 Text-conditional image-to-image", "SDEdit under {edit_prompt}, from left to right: {i_starts}. The image is pulled toward the prompt, more so the more noise it starts from."),
    "1.8_anagram.png": ("1.8 Visual anagrams", "{examples} examples, one per row: one image read as {anagram_0} upright and as {anagram_1} under the view {view}. Each view's noise estimate is mapped back by the view's inverse, and the estimates are averaged."),
    "1.9_hybrid_frequency.png": ("1.9 Hybrid images", "ε = lowpass(ε_1) + highpass(ε_2), the low-pass a Gaussian blur (kernel {kernel}, σ = {sigma} at 64 px, scaled with the size): the low frequencies of {low}, the high frequencies of {high}."),
}  # fmt: skip

BACKEND_NOTES: dict[tuple[str, str], str] = {
    ("mnist", "1.9_hybrid_frequency.png"): " On the MNIST backend this does not read as two digits: the low-frequency digit takes the image (see the backend's model card, known limits).",
    ("mnist", "1.8_anagram.png"): " A 6 upright and a 9 turned by 180°: any 6 so turned reads as a 9, so this is a weak test of the averaging (model card, known limits).",
}  # fmt: skip

PART0_SECTION = "0 Sampling from DeepFloyd IF"
PART0_CAPTION = "DeepFloyd IF's own sampler (diffusers' pipeline, not fundiff's loop) under {prompt}, seed {seed}, at {steps} steps from left to right."
PART0_UPSAMPLED = " Upsampled {small} → {big} px by stage II."


def _quoted(prompt: str) -> str:
    return f"the prompt {prompt!r}" if prompt else "the empty (unconditional) prompt"


def part_a_values(backend: str) -> dict[str, str]:
    """The values the Part A captions name, for ``backend``: the write-up's, and the backend's prompts.

    Args:
        backend: "mnist" or "deepfloyd".

    Returns:
        {field of a ``PART_A_FIGURES`` template: its text}.
    """
    a, d = PART_A, DEFAULTS[backend]
    anagram, views = d["anagram"], d["views"]
    return dict(
        noise_levels=", ".join(map(str, a.noise_levels)),
        prompt=_quoted(str(d["prompt"])), cfg_prompt=_quoted(str(d["cfg_prompt"])),
        edit_prompt=_quoted(str(d["edit_prompt"])),
        shown=", ".join(map(str, a.shown_timesteps)),
        timesteps=f"{a.first_timestep}, {a.first_timestep - a.stride}, …, 0",
        i_start=i_start_label(a.i_start),
        compare=", ".join(a.compare_columns).capitalize(),
        num=str(a.num_samples), cfg_scale=f"{a.cfg_scale:g}",
        i_starts=", ".join(["original", *(i_start_label(i) for i in a.i_starts)]),
        examples=str(a.anagram_examples),
        anagram_0=repr(anagram[0]), anagram_1=repr(anagram[1]), view=str(views[1]),  # type: ignore[index]
        kernel=str(a.hybrid_kernel), sigma=f"{a.hybrid_sigma:g}",
    )  # fmt: skip


def part_a_caption(
    backend: Backend, key: str, task: str, notes: Sequence[str] = ()
) -> tuple[str, str]:
    """Section and caption of the Part A figure ``key`` (its path under part_a/) that ``task`` wrote.

    Captions of ``ITERATIVE_TASKS`` name the update rule in force, which drew them.

    Args:
        backend: the backend that drew it.
        key: e.g. "1.4_iterative_steps.png", "0_prompt1_a_lithograph_of_waterfalls.png".
        task: the task that wrote it.
        notes: what the task noted about its figures (Part 0 without stage II).

    Returns:
        (section heading, caption).
    """
    values = part_a_values(backend.name)
    d = DEFAULTS[backend.name]
    if task == "part0":
        names = {part0_figure(i, p): p for i, p in enumerate(d["part0"], 1)}  # type: ignore[arg-type]
        steps = ", ".join(map(str, PART_A.part0_steps))
        caption = PART0_CAPTION.format(prompt=_quoted(names[key]), seed=PART_A.seed, steps=steps)
        # no stage II: the task's note says so, instead of the upsampling
        caption += "".join(f" {n}." for n in notes) or PART0_UPSAMPLED.format(
            small=PART_A.stage1_size, big=PART_A.stage2_size
        )
        return PART0_SECTION, caption
    pairs = {hybrid_figure("frequency", i): p for i, p in enumerate(d["hybrids"], 1)}  # type: ignore[arg-type]
    if key in pairs:
        low, high = pairs[key]
        section, caption = PART_A_FIGURES[hybrid_figure("frequency", 1)]
        caption = caption.format(**values, low=repr(low), high=repr(high))
    else:
        section, template = PART_A_FIGURES[key]
        caption = template.format(**values)
    caption += BACKEND_NOTES.get((backend.name, key), "")
    if task in ITERATIVE_TASKS:
        caption += f" Update rule: {rules.describe(rules.current_rule())}."
    return section, caption


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
    from torchvision.io import ImageReadMode, decode_image

    return (
        decode_image(str(asset_path("mnist_train_mean.png")), mode=ImageReadMode.GRAY).float() / 255
    )


def part_b_entries(configs: dict[str, TrainConfig]) -> list[Entry]:
    """The Part B figures in the write-up's order, for the shipped models' ``configs`` (by kind).

    Args:
        configs: the shipped models' configurations by kind: "denoiser", "pure-noise",
            "flow-time" and "flow-class".

    Returns:
        One entry per figure, in page order.
    """
    entries: list[Entry] = []

    def add(kind: str, section: str, name: str, caption: str, recorded: bool) -> None:
        config = configs[kind]
        train = train_command(config)
        if recorded:
            image = f"part_b/{kind}/training/{name}"
            caption += (
                " Recorded while the shipped model was trained (its model card names the card)."
            )
            command = f"{train}  (writes {name} into its run directory)"
        else:
            image = f"part_b/{kind}/{name}"
            caption += " Drawn now from the shipped weights."
            command = f"fundiff demo (or: {train}, which writes {name} into its run directory)"
        entries.append(Entry(section, image, caption, command))

    d, p = configs["denoiser"], configs["pure-noise"]
    last = f"epoch{d.epochs:02d}"
    add(
        "denoiser",
        "B 1.2 Noising",
        "noising.png",
        "The noising process z = x + σε, σ from 0 to 1, on test digits.",
        False,
    )
    add(
        "denoiser",
        "B 1.2.1 Training a single-step denoiser",
        "denoised_epoch01.png",
        f"After epoch 1 (σ = {d.sigma}, D = {d.hidden}): test digit, noisy input, output.",
        True,
    )
    add(
        "denoiser",
        "B 1.2.1 Training a single-step denoiser",
        f"denoised_{last}.png",
        f"After epoch {d.epochs}, the last.",
        False,
    )
    add(
        "denoiser",
        "B 1.2.1 Training a single-step denoiser",
        "loss.png",
        "Training loss of every step.",
        True,
    )
    add(
        "denoiser",
        "B 1.2.2 Out-of-distribution testing",
        "ood.png",
        f"The denoiser trained at σ = {d.sigma}, tested at σ it never saw: the digit survives up to about 0.6, then strokes are invented.",
        False,
    )
    add(
        "pure-noise",
        "B 1.2.3 Denoising pure noise",
        "samples_epoch01.png",
        "A denoiser given pure noise (the input carries nothing about the target), after epoch 1: outputs for nine noise inputs, and the mean training digit last.",
        True,
    )
    add(
        "pure-noise",
        "B 1.2.3 Denoising pure noise",
        f"samples_epoch{p.epochs:02d}.png",
        f"After epoch {p.epochs}: every output is the mean digit, the L2-optimal answer when the input says nothing.",
        False,
    )
    add(
        "pure-noise",
        "B 1.2.3 Denoising pure noise",
        "loss.png",
        "Training loss of every step.",
        True,
    )
    for kind, title in (("flow-time", "time-conditioned"), ("flow-class", "class-conditioned")):
        c = configs[kind]
        how = (
            "four samples of each digit (columns 0 to 9), guidance 5"
            if kind == "flow-class"
            else "samples"
        )
        add(
            kind,
            f"B 2 Training the {title} UNet (flow matching)",
            "loss.png",
            "Flow-matching loss ‖u_θ(x_t, t) − (x_1 − x_0)‖² of every step.",
            True,
        )
        for epoch in sorted({1, 5} & set(c.sample_epochs) - {c.epochs}):
            add(
                kind,
                f"B 2 Sampling from the {title} UNet",
                f"samples_epoch{epoch:02d}.png",
                f"After epoch {epoch}: {how}, {c.sample_steps} Euler steps.",
                True,
            )
        add(
            kind,
            f"B 2 Sampling from the {title} UNet",
            f"samples_epoch{c.epochs:02d}.png",
            f"After epoch {c.epochs}, the last: {how}, {c.sample_steps} Euler steps.",
            False,
        )
    section = "B 2 Sampling from the class-conditioned UNet"
    for run, change, what in (
        (
            "flow-class-constant",
            "--lr-schedule constant",
            "Without the learning-rate schedule (constant lr 1e-2): Adam's large steps to the end leave stray dots and speckles.",
        ),
        (
            "flow-class-constant-lr1e-3",
            "--lr-schedule constant --lr 0.001",
            "What compensates: a constant learning rate of 1e-3 gives grids as clean as the scheduled run's.",
        ),
    ):
        entries.append(
            Entry(
                section,
                f"part_b/{run}/training/samples_epoch10.png",
                what + " After epoch 10, recorded in training (NVIDIA H200).",
                f"fundiff train flow-class --seed 0 {change}  (writes samples_epoch10.png into its run directory)",
            )
        )
    return entries  # fmt: skip


def _models(out: Path) -> None:
    folder = out / "models"
    folder.mkdir(parents=True, exist_ok=True)
    for card, _ in MODEL_CARDS:
        shutil.copyfile(assets_dir() / card, folder / card)


def render(entries: Sequence[Entry], backend: str, seconds: float) -> str:
    """The page: every entry under its section heading, then the shipped models' cards.

    Args:
        entries: the figures, in page order.
        backend: the name of Part A's backend, shown in the introduction.
        seconds: how long the demo took, shown in the introduction.

    Returns:
        The HTML of index.html.
    """
    esc = html.escape
    parts = [
        "<!doctype html>", '<html lang="en">', "<head>", '<meta charset="utf-8">', MARKER,
        "<title>fundiff demo: Fun With Diffusion Models</title>",
        "<style>body{font-family:sans-serif;max-width:960px;margin:2em auto;padding:0 1em;line-height:1.4}"
        "figure{margin:1.5em 0}img{max-width:100%;border:1px solid #ddd}"
        "code{background:#f4f4f4;padding:.1em .3em;font-size:90%}figcaption p{margin:.3em 0}</style>",
        "</head>", "<body>",
        "<h1>fundiff demo: Fun With Diffusion Models</h1>",
        f"<p>Every figure of the write-up, made by <code>fundiff demo</code> from the models shipped in the "
        f"package, in {seconds:.0f} s. Part A runs on the <b>{esc(backend)}</b> backend; Part B uses the shipped "
        "Part B models. Under each figure: the command that regenerates it.</p>",
    ]  # fmt: skip
    part, section = "", ""
    for e in entries:
        this_part = (
            "Part B: flow matching from scratch on MNIST"
            if e.image.startswith("part_b/")
            else "Part A: the power of diffusion models"
        )
        if this_part != part:
            part, section = this_part, ""
            parts.append(f"<h2>{esc(part)}</h2>")
        if e.section != section:
            section = e.section
            parts.append(f"<h3>{esc(section)}</h3>")
        parts.append(
            f'<figure><img src="{esc(e.image)}" alt="{esc(section)}"><figcaption><p>{esc(e.caption)}</p>'
            f"<p>Regenerate: <code>{esc(e.command)}</code></p></figcaption></figure>"
        )  # fmt: skip
    parts.append("<h2>Shipped models</h2><ul>")
    for card, what in MODEL_CARDS:
        parts.append(f'<li><a href="models/{esc(card)}">{esc(card)}</a>: {esc(what)}</li>')
    parts += ["</ul>", "</body>", "</html>", ""]
    return "\n".join(parts)


def check_out(out: Path) -> None:
    """Refuse an ``out`` that is a file, or a non-empty folder that holds no earlier demo.

    Args:
        out: the folder the demo is to be written into.

    Raises:
        DemoError: ``out`` is a file, or a non-empty folder without an earlier demo.
    """
    if out.exists() and not out.is_dir():
        raise DemoError(f"--out {out} is a file; name a folder for the demo")
    if out.is_dir() and any(out.iterdir()):
        index = out / "index.html"
        if not (index.is_file() and MARKER in index.read_text(errors="replace")):
            raise DemoError(
                f"--out {out} is not empty and holds no earlier demo; name a new or empty folder"
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
        **backend_options: passed to ``fundiff.parta.build_backend`` (weights, stage1, ...).

    Returns:
        The path of the written ``out / "index.html"``.

    Raises:
        DemoError: ``out`` cannot be written or holds something else, or the backend's
            weights are unavailable.
        fundiff.assets.AssetError: a shipped asset is missing or corrupted.
    """
    from fundiff.parta import build_backend

    start = time.perf_counter()
    out = Path(out)
    check_out(out)
    for name in read_manifest():  # every shipped file, checked before any work
        asset_path(name)
    device = torch.device(device)
    from fundiff.backends.deepfloyd import WeightsUnavailable

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
        raise DemoError(
            f"cannot write to --out {out} ({err.strerror}); name a folder you can write to"
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
