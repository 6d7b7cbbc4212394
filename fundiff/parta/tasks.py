"""Part A tasks: each runs one section's loop on a backend and writes its figures.

``run_task`` runs a section by name (``fundiff.parta.sections.TASKS``); the
command line (``fundiff part-a``), the notebooks and the demo all call it.
Every random draw comes from one generator seeded with ``TaskOptions.seed``.
The figures' layouts and names are in ``fundiff.parta.layouts``, the user's
choices and the backends' defaults in ``fundiff.parta.options``.

Longer than 300 lines because the twelve section functions are one registry
(``_TASKS``), each a few lines of "inputs, loop, figure", read side by side.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from fundiff.backends.base import Backend
from fundiff.diffusion.cfg import conditional, guided
from fundiff.diffusion.denoise import blur_denoise, estimate_x0, iterative_denoise, sample
from fundiff.diffusion.edit import inpaint, sdedit
from fundiff.diffusion.forward import forward
from fundiff.diffusion.illusions import anagram, factorized, frequency_split, grayscale_colour_split
from fundiff.diffusion.views import get_view
from fundiff.parta.inputs import example_seeds, inpaint_mask, source_image
from fundiff.parta.layouts import (
    column_label,
    for_figure,
    hybrid_figure,
    noise_labels,
    part0_figure,
    rule_tag,
    shown_timesteps,
    stage2_note,
)
from fundiff.parta.options import (
    NoPipeline,
    TaskError,
    TaskOptions,
    backend_default,
    task_prompt,
)
from fundiff.parta.sections import TASKS
from fundiff.viz import save_table
from fundiff.writeup import PART_A


def run_task(task: str, backend: Backend, out: Path, opts: TaskOptions) -> list[Path]:
    """Run ``task`` on ``backend`` and write its figures into ``out``; return their paths.

    Figures of ``fundiff.parta.sections.ITERATIVE_TASKS`` are drawn by the update rule in force
    (``fundiff.diffusion.rules.using`` picks it) and say so in their titles.

    Args:
        task: one of ``TASKS``.
        backend: the model to run the loop on.
        out: the folder of the figures (created).
        opts: the user's choices; its seed (default 0, 101 for part0) seeds the task's
            one generator.

    Returns:
        The paths of the PNGs written.

    Raises:
        TaskError: an unknown task, or one the backend cannot do as asked (``NoPipeline``,
            ``NoDefaultImage`` carry the facts).
    """
    if task not in TASKS:
        raise TaskError(f"unknown Part A task {task!r}; choose from {', '.join(TASKS)}")
    out.mkdir(parents=True, exist_ok=True)
    default_seed = PART_A.seed if task == "part0" else 0
    gen = torch.Generator(backend.device).manual_seed(
        default_seed if opts.seed is None else opts.seed
    )
    return _TASKS[task](backend, out, opts, gen)


def _part0(backend: Backend, out: Path, opts: TaskOptions, gen: torch.Generator) -> list[Path]:
    """Part 0: DeepFloyd IF's own sampler, one figure per prompt with its step counts left to right,
    seed 101, upsampled by stage II where it is loaded (else 64 px, with a note)."""
    if not hasattr(backend, "sample_pipeline"):
        raise NoPipeline("part0", backend.name)
    prompts = opts.prompts if opts.prompts is not None else list(backend_default(backend, "part0"))  # type: ignore[call-overload]
    seed = PART_A.seed if opts.seed is None else opts.seed
    for prompt in prompts:  # a prompt without an embedding fails before any figure is drawn
        backend.encode(prompt)
    for stage in ("stage1", "stage2"):  # IF's own samplers' progress bars follow opts.progress
        if getattr(backend, stage, None) is not None:
            getattr(backend, stage).set_progress_bar_config(disable=not opts.progress)
    upsample = getattr(backend, "stage2", None) is not None
    if not upsample:
        opts.note(stage2_note(backend.image_shape[-1]))
    written = []
    for index, prompt in enumerate(prompts, 1):
        images = torch.cat([backend.sample_pipeline(prompt, s, seed) for s in opts.part0_steps])  # type: ignore[attr-defined]
        if upsample:  # (S, 3, 64, 64) -> (S, 3, 256, 256)
            images = backend.upsample(images, prompt, generator=gen)  # type: ignore[attr-defined]
        stage = "stage II" if upsample else "stage I only"
        path = out / part0_figure(index, prompt)
        save_table(path, for_figure(images)[None], col_labels=[f"{s} steps" for s in opts.part0_steps],
                   title=f"Part 0: {prompt!r}, seed {seed}, {images.shape[-1]} px ({stage})")  # fmt: skip
        written.append(path)
    return written


def _forward(backend: Backend, out: Path, opts: TaskOptions, gen: torch.Generator) -> list[Path]:
    x0, noisy = _noisy_rows(backend, opts, gen)
    path = out / "1.1_forward.png"
    save_table(path, for_figure(torch.cat([x0, noisy]))[None], col_labels=["x0", *noise_labels()],
               title=f"1.1 Forward process ({backend.name})")  # fmt: skip
    return [path]


def _noisy_rows(
    backend: Backend, opts: TaskOptions, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """The source image (1, C, H, W) and it noised to each of the write-up's levels (L, C, H, W)."""
    x0 = source_image(backend, opts)
    return x0, torch.cat([forward(x0, t, backend.alphas_cumprod, gen) for t in PART_A.noise_levels])


def _blur(backend: Backend, out: Path, opts: TaskOptions, gen: torch.Generator) -> list[Path]:
    _, noisy = _noisy_rows(backend, opts, gen)
    path = out / "1.2_blur.png"
    table = torch.stack([for_figure(noisy), for_figure(blur_denoise(noisy))])  # (2, L, C, H, W)
    save_table(path, table, row_labels=["noisy", "Gaussian blur"], col_labels=noise_labels(),
               title="1.2 Classical denoising")  # fmt: skip
    return [path]


def _one_step(backend: Backend, out: Path, opts: TaskOptions, gen: torch.Generator) -> list[Path]:
    x0, noisy = _noisy_rows(backend, opts, gen)
    cond = backend.encode(task_prompt(backend, opts, "prompt"))
    est = [estimate_x0(noisy[i : i + 1], backend.predict(noisy[i : i + 1], t, cond).eps, backend.alphas_cumprod[t])
           for i, t in enumerate(PART_A.noise_levels)]  # fmt: skip
    table = torch.stack(
        [for_figure(x0.expand_as(noisy)), for_figure(noisy), for_figure(torch.cat(est))]
    )
    path = out / "1.3_one_step.png"
    save_table(path, table, row_labels=["original", "noisy", "one-step"], col_labels=noise_labels(),
               title="1.3 One-step denoising")  # fmt: skip
    return [path]


def _iterative(backend: Backend, out: Path, opts: TaskOptions, gen: torch.Generator) -> list[Path]:
    """1.4: the loop from i_start at the write-up's shown timesteps, then original, iterative, one-step, blur."""
    ts, i0 = opts.timesteps, opts.i_start
    x0 = source_image(backend, opts)
    x_t = forward(x0, ts[i0], backend.alphas_cumprod, gen)
    cond = backend.encode(task_prompt(backend, opts, "prompt"))
    wanted = shown_timesteps(ts, i0)
    shots: list[torch.Tensor] = [x_t]

    def keep(i: int, t: int, x: torch.Tensor) -> None:
        if t in wanted[1:]:
            shots.append(x)

    pred = conditional(backend, cond)
    clean = iterative_denoise(pred, x_t, ts, i0, backend.alphas_cumprod, backend.variance_type, gen,
                              on_step=keep, progress=opts.progress)  # fmt: skip
    one = estimate_x0(x_t, pred(x_t, ts[i0]).eps, backend.alphas_cumprod[ts[i0]])
    steps = out / "1.4_iterative_steps.png"
    save_table(steps, for_figure(torch.cat(shots))[None], col_labels=[f"t={t}" for t in wanted],
               title=f"1.4 Iterative denoising from {column_label(ts, i0)}; {rule_tag()}")  # fmt: skip
    compare = out / "1.4_iterative_compare.png"
    row = torch.cat([x0, clean, one, blur_denoise(x_t)])
    save_table(compare, for_figure(row)[None], col_labels=list(PART_A.compare_columns),
               title=f"1.4 Iterative vs one-step vs blur; {rule_tag()}")  # fmt: skip
    return [steps, compare]


def _samples(
    backend: Backend, opts: TaskOptions, gen: torch.Generator, guidance: float | None, key: str
) -> torch.Tensor:
    cond = backend.encode(task_prompt(backend, opts, key))
    pred = (
        conditional(backend, cond)
        if guidance is None
        else guided(backend, cond, backend.encode(""), guidance)
    )
    return sample(pred, (opts.num, *backend.image_shape), opts.timesteps, backend.alphas_cumprod,
                  backend.variance_type, gen, device=backend.device, progress=opts.progress)  # fmt: skip


def _sample(backend: Backend, out: Path, opts: TaskOptions, gen: torch.Generator) -> list[Path]:
    path = out / "1.5_sample.png"
    save_table(path, for_figure(_samples(backend, opts, gen, None, "prompt"))[None],
               title=f"1.5 Samples, prompt {task_prompt(backend, opts, 'prompt')!r}, no guidance; {rule_tag()}")  # fmt: skip
    return [path]


def _cfg(backend: Backend, out: Path, opts: TaskOptions, gen: torch.Generator) -> list[Path]:
    path = out / "1.6_cfg.png"
    save_table(path, for_figure(_samples(backend, opts, gen, opts.guidance, "cfg_prompt"))[None],
               title=f"1.6 Samples with CFG {opts.guidance:g}, prompt {task_prompt(backend, opts, 'cfg_prompt')!r}; {rule_tag()}")  # fmt: skip
    return [path]


def _edit_figure(backend: Backend, out: Path, opts: TaskOptions, gen: torch.Generator, *, key: str,
                 name: str, title: str) -> list[Path]:  # fmt: skip
    """The original, then its SDEdit at each i_start (columns "i_start=1 (t=960)", ...) under the prompt of ``key``."""
    image = source_image(backend, opts)
    prompt = task_prompt(backend, opts, key)
    pred = guided(backend, backend.encode(prompt), backend.encode(""), opts.guidance)
    edits = [sdedit(pred, image, i, opts.timesteps, backend.alphas_cumprod, backend.variance_type, gen,
                    progress=opts.progress) for i in opts.i_starts]  # fmt: skip
    path = out / name
    save_table(path, for_figure(torch.cat([image, *edits]))[None],
               col_labels=["original", *(column_label(opts.timesteps, i) for i in opts.i_starts)],
               title=f"{title}, prompt {prompt!r}, CFG {opts.guidance:g}; {rule_tag()}")  # fmt: skip
    return [path]


def _sdedit(backend: Backend, out: Path, opts: TaskOptions, gen: torch.Generator) -> list[Path]:
    return _edit_figure(
        backend, out, opts, gen, key="prompt", name="1.7_sdedit.png", title="1.7 SDEdit"
    )


def _img2img(backend: Backend, out: Path, opts: TaskOptions, gen: torch.Generator) -> list[Path]:
    return _edit_figure(backend, out, opts, gen, key="edit_prompt", name="1.7.3_img2img.png",
                        title="1.7.3 Text-conditional image-to-image")  # fmt: skip


def _inpaint(backend: Backend, out: Path, opts: TaskOptions, gen: torch.Generator) -> list[Path]:
    image = source_image(backend, opts)
    mask = inpaint_mask(backend, opts, image)
    pred = guided(
        backend,
        backend.encode(task_prompt(backend, opts, "prompt")),
        backend.encode(""),
        opts.guidance,
    )
    result = inpaint(pred, image, mask, opts.timesteps, backend.alphas_cumprod, backend.variance_type, gen,
                     progress=opts.progress)  # fmt: skip
    shown_mask = (mask * 2 - 1).expand_as(image[0])[None]
    hole = image * (1 - mask) - mask
    path = out / "1.7.2_inpaint.png"
    save_table(path, for_figure(torch.cat([image, shown_mask, hole, result]))[None],
               col_labels=["original", "mask", "to replace", "inpainted"], title=f"1.7.2 Inpainting; {rule_tag()}")  # fmt: skip
    return [path]


def _anagram(backend: Backend, out: Path, opts: TaskOptions, gen: torch.Generator) -> list[Path]:
    """1.8: the write-up's examples, one per row (each from its own seed), each view in a column."""
    prompts = (
        opts.prompts if opts.prompts is not None else list(backend_default(backend, "anagram"))
    )  # type: ignore[call-overload]
    default_views = list(backend_default(backend, "views"))  # type: ignore[call-overload]
    view_names = opts.views if opts.views is not None else default_views[: len(prompts)]
    if len(view_names) != len(prompts):
        raise TaskError(
            f"an anagram needs one view per prompt; got {len(prompts)} prompts and {len(view_names)} views"
        )
    views = [get_view(v) for v in view_names]
    conds = [backend.encode(p) for p in prompts]
    pred = anagram(backend, conds, views, backend.encode(""), opts.guidance)
    seeds = example_seeds(gen, PART_A.anagram_examples)
    rows = []
    for seed in seeds:
        image = sample(pred, (1, *backend.image_shape), opts.timesteps, backend.alphas_cumprod, backend.variance_type,
                       torch.Generator(backend.device).manual_seed(seed), device=backend.device,
                       progress=opts.progress)  # fmt: skip
        rows.append(for_figure(torch.cat([v.apply(image) for v in views])))
    path = out / "1.8_anagram.png"
    save_table(path, torch.stack(rows), row_labels=[f"seed {s}" for s in seeds],
               col_labels=[f"{v.name}: {p!r}" for v, p in zip(views, prompts, strict=True)],
               title=f"1.8 Visual anagrams; {rule_tag()}")  # fmt: skip
    return [path]


def _hybrid(backend: Backend, out: Path, opts: TaskOptions, gen: torch.Generator) -> list[Path]:
    """1.9: one figure per (low, high) prompt pair: the write-up's two on IF, or ``opts.prompts``."""
    pairs = (
        [opts.prompts] if opts.prompts is not None else list(backend_default(backend, "hybrids"))
    )  # type: ignore[call-overload]
    if len(pairs[0]) != 2:
        raise TaskError(
            f"a hybrid image needs two prompts (low/high or grayscale/colour), got {len(pairs[0])}"
        )
    size = backend.image_shape[-1]
    if opts.factorization == "frequency":
        parts, names = frequency_split(size), ("low frequencies", "high frequencies")
    elif opts.factorization == "colour":
        if backend.image_shape[0] != 3:
            raise TaskError(
                f"the colour factorization needs RGB images; the {backend.name} backend's have one channel"
            )
        parts, names = grayscale_colour_split(), ("grayscale", "colour")
    else:
        raise TaskError(f"unknown factorization {opts.factorization!r}; choose frequency or colour")
    written = []
    for index, prompts in enumerate(pairs, 1):
        conds = [backend.encode(p) for p in prompts]
        pred = factorized(backend, conds, list(parts), backend.encode(""), opts.guidance)
        image = sample(pred, (1, *backend.image_shape), opts.timesteps, backend.alphas_cumprod, backend.variance_type,
                       gen, device=backend.device, progress=opts.progress)  # fmt: skip
        path = out / hybrid_figure(opts.factorization, index)
        save_table(path, for_figure(torch.cat([image, parts[0](image), parts[1](image)]))[None],
                   col_labels=["hybrid", f"{names[0]}: {prompts[0]!r}", f"{names[1]}: {prompts[1]!r}"],
                   title=f"1.9 Hybrid image ({opts.factorization} factorization); {rule_tag()}")  # fmt: skip
        written.append(path)
    return written


_TASKS: dict[str, Callable[[Backend, Path, TaskOptions, torch.Generator], list[Path]]] = {
    "part0": _part0, "forward": _forward, "blur": _blur, "one-step": _one_step, "iterative": _iterative, "sample": _sample,
    "cfg": _cfg, "sdedit": _sdedit, "inpaint": _inpaint, "img2img": _img2img, "anagram": _anagram,
    "hybrid": _hybrid,
}  # fmt: skip
