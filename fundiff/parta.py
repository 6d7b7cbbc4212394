"""Part A tasks: each runs one section's loop on a backend and writes its figure.

``fundiff part-a TASK --backend {mnist,deepfloyd}`` calls ``run_task``; the
notebooks and the demo call the same functions. Every random draw comes from
one generator seeded with ``--seed``.

The figures follow the write-up's layouts, with its values (``fundiff.writeup``):
Part 0 one figure per prompt at 20, 50 and 100 steps; 1.4 the loop at t = 690,
540, 390, 240, 90; SDEdit the original first, then each i_start; two anagram
examples; one hybrid per prompt pair. Figures drawn by the strided loop name the
update rule in force (``fundiff.diffusion.rules``).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from fundiff.backends.base import Backend
from fundiff.backends.deepfloyd import IF_STAGE2
from fundiff.diffusion import rules
from fundiff.diffusion.cfg import conditional, guided
from fundiff.diffusion.denoise import blur_denoise, estimate_x0, iterative_denoise, sample
from fundiff.diffusion.edit import check_mask, inpaint, sdedit
from fundiff.diffusion.forward import forward
from fundiff.diffusion.illusions import anagram, factorized, frequency_split, grayscale_colour_split
from fundiff.diffusion.views import get_view
from fundiff.images import load_image, shipped_digits
from fundiff.schedules import strided_timesteps
from fundiff.sections import TASKS
from fundiff.viz import save_table
from fundiff.writeup import PART_A, i_start_label, strided

# Per-backend defaults: the write-up's prompts for DeepFloyd IF (``fundiff.writeup``), digits for MNIST.
# "prompt" serves 1.3-1.5, 1.7 and 1.7.2; "hybrids" holds every (low, high) pair, "hybrid" the first.
DEFAULTS: dict[str, dict[str, object]] = {
    "mnist": dict(
        prompt="", cfg_prompt="3", edit_prompt="8", anagram=("6", "9"), views=("identity", "rotate180"),
        hybrid=("0", "1"), hybrids=(("0", "1"),),
    ),
    "deepfloyd": dict(
        prompt=PART_A.sample_prompt, cfg_prompt=PART_A.sample_prompt, edit_prompt=PART_A.img2img_prompt,
        anagram=PART_A.anagram_prompts, views=("identity", "flip"),
        hybrid=PART_A.hybrid_prompts[0], hybrids=PART_A.hybrid_prompts, part0=PART_A.part0_prompts,
    ),
}  # fmt: skip

ITERATIVE_TASKS: frozenset[str] = frozenset(
    {"iterative", "sample", "cfg", "sdedit", "inpaint", "img2img", "anagram", "hybrid"}
)
"""The tasks drawn by fundiff's strided loop, so by the update rule in force (``rules.current_rule()``)."""

RULE_TAGS: dict[str, str] = {"writeup": "writeup (sigma = 0)", "ddpm": "ddpm (posterior variance)"}


class TaskError(ValueError):
    """A task was asked for something it cannot do; the message says what to do instead."""


def print_note(message: str) -> None:
    """Print a note about a task's figures (not an error) as one line on stderr.

    Args:
        message: the note, one line.
    """
    print(f"note: {message}", file=sys.stderr)


@dataclass
class TaskOptions:
    """What the user chose; None means the backend's default (the write-up's, ``fundiff.writeup``).

    Attributes:
        image: source image file (SDEdit, inpainting, ...); MNIST defaults to a shipped test digit.
        mask: mask image file for inpainting (white = regenerate), the backend's size.
        prompt: the prompt of single-prompt tasks.
        prompts: the prompts of anagrams (one per view), hybrids (low, high) and Part 0.
        views: view names for anagrams, one per prompt (default identity and flip on
            IF; identity and rotate180 on MNIST, where a 6 turned upside down is a 9).
        factorization: "frequency" (hybrid images) or "colour" (grayscale / colour).
        i_start: start index into the strided timesteps (iterative denoising).
        i_starts: SDEdit noise levels.
        guidance: classifier-free guidance scale.
        num: images to draw in sampling tasks.
        seed: seeds the one generator of the task (default 0; Part 0 uses the write-up's 101).
        part0_steps: Part 0's numbers of denoising steps, left to right in each figure.
        progress: show progress bars.
        timesteps: the strided timesteps (990, 960, ..., 0).
        note: receives notes about the figures (e.g. Part 0 without stage II); default: stderr.
    """

    image: Path | None = None
    mask: Path | None = None
    prompt: str | None = None
    prompts: list[str] | None = None
    views: list[str] | None = None
    factorization: str = "frequency"
    i_start: int = PART_A.i_start
    i_starts: Sequence[int] = PART_A.i_starts
    guidance: float = PART_A.cfg_scale
    num: int = PART_A.num_samples
    seed: int | None = None
    part0_steps: Sequence[int] = PART_A.part0_steps
    progress: bool = False
    timesteps: list[int] = field(default_factory=strided_timesteps)
    note: Callable[[str], None] = field(default_factory=lambda: print_note)


def rule_tag() -> str:
    """The rule in force, short, for figure titles: "rule: writeup (sigma = 0)"."""
    rule = rules.current_rule()
    return f"rule: {RULE_TAGS.get(rule, rule)}"


def part0_figure(index: int, prompt: str) -> str:
    """The file name of Part 0's figure of ``prompt``, its ``index``-th prompt (from 1).

    Args:
        index: the prompt's place in Part 0's list, from 1 ("Prompt 1" in the write-up).
        prompt: the prompt.

    Returns:
        e.g. "0_prompt1_a_lithograph_of_waterfalls.png".
    """
    slug = re.sub(r"[^a-z0-9]+", "_", prompt.lower()).strip("_")[:60] or "unconditional"
    return f"0_prompt{index}_{slug}.png"


def hybrid_figure(factorization: str, index: int) -> str:
    """The file name of the hybrid of the ``index``-th prompt pair (from 1): "1.9_hybrid_frequency.png", then "..._2.png".

    Args:
        factorization: "frequency" or "colour".
        index: the pair's place, from 1.
    """
    return f"1.9_hybrid_{factorization}{'' if index == 1 else f'_{index}'}.png"


def shown_timesteps(timesteps: Sequence[int], i_start: int) -> list[int]:
    """The timesteps of 1.4's figure: ``timesteps[i_start]``, then the write-up's shown ones below it.

    From the write-up's i_start = 10 (t = 690) these are its 690, 540, 390, 240, 90. On a
    schedule that passes none of those, every 5th step is shown instead (the final one excluded).

    Args:
        timesteps: the strided timesteps, decreasing.
        i_start: where the loop starts.

    Returns:
        The timesteps, decreasing, ``timesteps[i_start]`` first.
    """
    start, later = timesteps[i_start], list(timesteps[i_start + 1 : -1])
    shown = [t for t in PART_A.shown_timesteps if t < start and t in later]
    return [start, *(shown or later[4::5])]


def column_label(timesteps: Sequence[int], i: int) -> str:
    """An SDEdit column: ``fundiff.writeup.i_start_label`` ("i_start=10 (t=690)"), on any schedule.

    Args:
        timesteps: the strided timesteps.
        i: the column's i_start.
    """
    return i_start_label(i) if list(timesteps) == strided() else f"i_start={i} (t={timesteps[i]})"


def _show(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] images to [0, 1] for figures."""
    return ((x.detach().float().cpu() + 1) / 2).clamp(0, 1)


def _default(backend: Backend, key: str) -> object:
    return DEFAULTS.get(backend.name, DEFAULTS["mnist"])[key]


def source_image(backend: Backend, opts: TaskOptions) -> torch.Tensor:
    """The task's input image (1, C, H, W) in [-1, 1]: ``opts.image``, or MNIST's shipped 7.

    Args:
        backend: the backend; its ``image_shape`` is the image's (C, H, W).
        opts: the user's choices; ``opts.image`` is the file to read, if given.

    Returns:
        The image, shape (1, C, H, W), in [-1, 1], on the backend's device.

    Raises:
        TaskError: no ``opts.image`` and the backend is not MNIST, which has no default image.
        fundiff.images.ImageError: ``opts.image`` cannot be read.
    """
    if opts.image is not None:
        return load_image(opts.image, backend.image_shape).to(backend.device)
    if backend.name == "mnist":
        return shipped_digits()[7:8].to(backend.device)
    raise TaskError(f"the {backend.name} backend has no default image; pass --image PATH")


def _mask(backend: Backend, opts: TaskOptions, image: torch.Tensor) -> torch.Tensor:
    _, h, w = backend.image_shape
    if opts.mask is None:  # regenerate the top half
        m = torch.zeros(h, w, device=backend.device)
        m[: h // 2] = 1
        return m
    from torchvision.io import ImageReadMode, decode_image

    from fundiff.images import ImageError

    if not opts.mask.is_file():
        raise ImageError(
            f"{opts.mask}: no such mask file; give a {w}x{h} image, white where to regenerate"
        )
    try:
        raw = decode_image(str(opts.mask), mode=ImageReadMode.GRAY)
    except (RuntimeError, ValueError):
        raise ImageError(
            f"{opts.mask}: not an image torchvision can decode; use a {w}x{h} PNG"
        ) from None
    m = (raw[0].float() / 255 > 0.5).float().to(backend.device)
    return check_mask(m, image)[0, 0]


def _prompt(backend: Backend, opts: TaskOptions, key: str) -> str:
    return opts.prompt if opts.prompt is not None else str(_default(backend, key))


def run_task(task: str, backend: Backend, out: Path, opts: TaskOptions) -> list[Path]:
    """Run ``task`` on ``backend`` and write its figures into ``out``; return their paths.

    Figures of ``ITERATIVE_TASKS`` are drawn by the update rule in force
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
        TaskError: an unknown task, or one the backend cannot do as asked.
    """
    if task not in TASKS:
        raise TaskError(f"unknown Part A task {task!r}; choose from {', '.join(TASKS)}")
    out.mkdir(parents=True, exist_ok=True)
    default_seed = PART_A.seed if task == "part0" else 0
    gen = torch.Generator(backend.device).manual_seed(
        default_seed if opts.seed is None else opts.seed
    )
    return _TASKS[task](backend, out, opts, gen)


def stage2_note(size: int) -> str:
    """Part 0's note when stage II is not loaded: why its figures are ``size`` px and how to upsample them.

    Args:
        size: the width of stage I's images in pixels.
    """
    return (
        f"Part 0's figures are {size} px, not upsampled to {PART_A.stage2_size} px: DeepFloyd IF stage II "
        f"weights were not found; give them with --stage2 PATH_OR_HUB_ID (e.g. {IF_STAGE2}, after "
        f"accepting its licence on https://huggingface.co/{IF_STAGE2} and `hf auth login`)"
    )


def _part0(backend: Backend, out: Path, opts: TaskOptions, gen: torch.Generator) -> list[Path]:
    """Part 0: DeepFloyd IF's own sampler, one figure per prompt with its step counts left to right,
    seed 101, upsampled by stage II where it is loaded (else 64 px, with a note)."""
    if not hasattr(backend, "sample_pipeline"):
        raise TaskError(
            f"part0 samples DeepFloyd IF's own pipeline; the {backend.name} backend has none: use --backend deepfloyd"
        )
    prompts = opts.prompts if opts.prompts is not None else list(_default(backend, "part0"))  # type: ignore[call-overload]
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
        save_table(path, _show(images)[None], col_labels=[f"{s} steps" for s in opts.part0_steps],
                   title=f"Part 0: {prompt!r}, seed {seed}, {images.shape[-1]} px ({stage})")  # fmt: skip
        written.append(path)
    return written


def _forward(backend: Backend, out: Path, opts: TaskOptions, gen: torch.Generator) -> list[Path]:
    x0, noisy = _noisy_rows(backend, opts, gen)
    path = out / "1.1_forward.png"
    save_table(path, _show(torch.cat([x0, noisy]))[None], col_labels=["x0", *_noise_labels()],
               title=f"1.1 Forward process ({backend.name})")  # fmt: skip
    return [path]


def _noise_labels() -> list[str]:
    return [f"t={t}" for t in PART_A.noise_levels]


def _noisy_rows(
    backend: Backend, opts: TaskOptions, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """The source image (1, C, H, W) and it noised to each of the write-up's levels (L, C, H, W)."""
    x0 = source_image(backend, opts)
    return x0, torch.cat([forward(x0, t, backend.alphas_cumprod, gen) for t in PART_A.noise_levels])


def _blur(backend: Backend, out: Path, opts: TaskOptions, gen: torch.Generator) -> list[Path]:
    _, noisy = _noisy_rows(backend, opts, gen)
    path = out / "1.2_blur.png"
    table = torch.stack([_show(noisy), _show(blur_denoise(noisy))])  # (2, L, C, H, W)
    save_table(path, table, row_labels=["noisy", "Gaussian blur"], col_labels=_noise_labels(),
               title="1.2 Classical denoising")  # fmt: skip
    return [path]


def _one_step(backend: Backend, out: Path, opts: TaskOptions, gen: torch.Generator) -> list[Path]:
    x0, noisy = _noisy_rows(backend, opts, gen)
    cond = backend.encode(_prompt(backend, opts, "prompt"))
    est = [estimate_x0(noisy[i : i + 1], backend.predict(noisy[i : i + 1], t, cond).eps, backend.alphas_cumprod[t])
           for i, t in enumerate(PART_A.noise_levels)]  # fmt: skip
    table = torch.stack([_show(x0.expand_as(noisy)), _show(noisy), _show(torch.cat(est))])
    path = out / "1.3_one_step.png"
    save_table(path, table, row_labels=["original", "noisy", "one-step"], col_labels=_noise_labels(),
               title="1.3 One-step denoising")  # fmt: skip
    return [path]


def _iterative(backend: Backend, out: Path, opts: TaskOptions, gen: torch.Generator) -> list[Path]:
    """1.4: the loop from i_start at the write-up's shown timesteps, then original, iterative, one-step, blur."""
    ts, i0 = opts.timesteps, opts.i_start
    x0 = source_image(backend, opts)
    x_t = forward(x0, ts[i0], backend.alphas_cumprod, gen)
    cond = backend.encode(_prompt(backend, opts, "prompt"))
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
    save_table(steps, _show(torch.cat(shots))[None], col_labels=[f"t={t}" for t in wanted],
               title=f"1.4 Iterative denoising from {column_label(ts, i0)}; {rule_tag()}")  # fmt: skip
    compare = out / "1.4_iterative_compare.png"
    row = torch.cat([x0, clean, one, blur_denoise(x_t)])
    save_table(compare, _show(row)[None], col_labels=list(PART_A.compare_columns),
               title=f"1.4 Iterative vs one-step vs blur; {rule_tag()}")  # fmt: skip
    return [steps, compare]


def _samples(
    backend: Backend, opts: TaskOptions, gen: torch.Generator, guidance: float | None, key: str
) -> torch.Tensor:
    cond = backend.encode(_prompt(backend, opts, key))
    pred = (
        conditional(backend, cond)
        if guidance is None
        else guided(backend, cond, backend.encode(""), guidance)
    )
    return sample(pred, (opts.num, *backend.image_shape), opts.timesteps, backend.alphas_cumprod,
                  backend.variance_type, gen, device=backend.device, progress=opts.progress)  # fmt: skip


def _sample(backend: Backend, out: Path, opts: TaskOptions, gen: torch.Generator) -> list[Path]:
    path = out / "1.5_sample.png"
    save_table(path, _show(_samples(backend, opts, gen, None, "prompt"))[None],
               title=f"1.5 Samples, prompt {_prompt(backend, opts, 'prompt')!r}, no guidance; {rule_tag()}")  # fmt: skip
    return [path]


def _cfg(backend: Backend, out: Path, opts: TaskOptions, gen: torch.Generator) -> list[Path]:
    path = out / "1.6_cfg.png"
    save_table(path, _show(_samples(backend, opts, gen, opts.guidance, "cfg_prompt"))[None],
               title=f"1.6 Samples with CFG {opts.guidance:g}, prompt {_prompt(backend, opts, 'cfg_prompt')!r}; {rule_tag()}")  # fmt: skip
    return [path]


def _edit_figure(backend: Backend, out: Path, opts: TaskOptions, gen: torch.Generator, *, key: str,
                 name: str, title: str) -> list[Path]:  # fmt: skip
    """The original, then its SDEdit at each i_start (columns "i_start=1 (t=960)", ...) under the prompt of ``key``."""
    image = source_image(backend, opts)
    prompt = _prompt(backend, opts, key)
    pred = guided(backend, backend.encode(prompt), backend.encode(""), opts.guidance)
    edits = [sdedit(pred, image, i, opts.timesteps, backend.alphas_cumprod, backend.variance_type, gen,
                    progress=opts.progress) for i in opts.i_starts]  # fmt: skip
    path = out / name
    save_table(path, _show(torch.cat([image, *edits]))[None],
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
    mask = _mask(backend, opts, image)
    pred = guided(
        backend, backend.encode(_prompt(backend, opts, "prompt")), backend.encode(""), opts.guidance
    )
    result = inpaint(pred, image, mask, opts.timesteps, backend.alphas_cumprod, backend.variance_type, gen,
                     progress=opts.progress)  # fmt: skip
    shown_mask = (mask * 2 - 1).expand_as(image[0])[None]
    hole = image * (1 - mask) - mask
    path = out / "1.7.2_inpaint.png"
    save_table(path, _show(torch.cat([image, shown_mask, hole, result]))[None],
               col_labels=["original", "mask", "to replace", "inpainted"], title=f"1.7.2 Inpainting; {rule_tag()}")  # fmt: skip
    return [path]


def example_seeds(gen: torch.Generator, count: int) -> list[int]:
    """``count`` seeds drawn from the task's generator, one per example of a figure.

    Args:
        gen: the task's generator.
        count: how many.

    Returns:
        Seeds in [0, 2**31 - 1).
    """
    return torch.randint(0, 2**31 - 1, (count,), generator=gen, device=gen.device).tolist()


def _anagram(backend: Backend, out: Path, opts: TaskOptions, gen: torch.Generator) -> list[Path]:
    """1.8: the write-up's examples, one per row (each from its own seed), each view in a column."""
    prompts = opts.prompts if opts.prompts is not None else list(_default(backend, "anagram"))  # type: ignore[call-overload]
    default_views = list(_default(backend, "views"))  # type: ignore[call-overload]
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
        rows.append(_show(torch.cat([v.apply(image) for v in views])))
    path = out / "1.8_anagram.png"
    save_table(path, torch.stack(rows), row_labels=[f"seed {s}" for s in seeds],
               col_labels=[f"{v.name}: {p!r}" for v, p in zip(views, prompts, strict=True)],
               title=f"1.8 Visual anagrams; {rule_tag()}")  # fmt: skip
    return [path]


def _hybrid(backend: Backend, out: Path, opts: TaskOptions, gen: torch.Generator) -> list[Path]:
    """1.9: one figure per (low, high) prompt pair: the write-up's two on IF, or ``opts.prompts``."""
    pairs = [opts.prompts] if opts.prompts is not None else list(_default(backend, "hybrids"))  # type: ignore[call-overload]
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
        save_table(path, _show(torch.cat([image, parts[0](image), parts[1](image)]))[None],
                   col_labels=["hybrid", f"{names[0]}: {prompts[0]!r}", f"{names[1]}: {prompts[1]!r}"],
                   title=f"1.9 Hybrid image ({opts.factorization} factorization); {rule_tag()}")  # fmt: skip
        written.append(path)
    return written


_TASKS: dict[str, Callable[[Backend, Path, TaskOptions, torch.Generator], list[Path]]] = {
    "part0": _part0, "forward": _forward, "blur": _blur, "one-step": _one_step, "iterative": _iterative, "sample": _sample,
    "cfg": _cfg, "sdedit": _sdedit, "inpaint": _inpaint, "img2img": _img2img, "anagram": _anagram,
    "hybrid": _hybrid,
}  # fmt: skip


def build_backend(
    name: str,
    *,
    device: str | torch.device = "cpu",
    weights: Path | None = None,
    stage1: str | None = None,
    stage2: str | None = None,
    prompt_embeds: Path | None = None,
    upsample: bool = False,
) -> Backend:
    """The named backend: "mnist" (shipped or given weights) or "deepfloyd" (diffusers).

    Args:
        name: "mnist" or "deepfloyd".
        device: where the model runs.
        weights: mnist: a weights file; None: the shipped model.
        stage1: deepfloyd: hub id or local folder of stage I; None: ``IF_STAGE1``.
        stage2: deepfloyd: hub id or local folder of stage II (upsampling), which must load;
            None: ``IF_STAGE2`` if ``upsample`` and its weights are there, else no stage II.
        prompt_embeds: deepfloyd: the prompt-embeddings ``.pth`` file; None: the course's
            ``prompt_embeds_dict.pth`` in the current folder.
        upsample: deepfloyd: also look for stage II without ``stage2`` (Part 0 upsamples with it).

    Returns:
        The backend, on ``device``.

    Raises:
        TaskError: an unknown name, or deepfloyd without diffusers and transformers installed.
        fundiff.backends.mnist.BackendError: the MNIST weights cannot be used.
        fundiff.backends.deepfloyd.WeightsUnavailable: IF's weights are not available.
    """
    if name == "mnist":
        from fundiff.backends.mnist import load_mnist_backend

        return load_mnist_backend(weights, device)
    if name == "deepfloyd":
        import importlib.util

        if (
            importlib.util.find_spec("diffusers") is None
            or importlib.util.find_spec("transformers") is None
        ):
            raise TaskError(
                "the deepfloyd backend needs diffusers and transformers: pip install 'fundiff[parta]'"
            )
        from fundiff.backends.deepfloyd import load_deepfloyd

        kwargs: dict[str, object] = {"device": device}
        if stage1 is not None:
            kwargs["stage1"] = stage1
        if prompt_embeds is not None:
            kwargs["prompt_embeds"] = prompt_embeds
        if stage2 is None and upsample:
            return load_deepfloyd(stage2=IF_STAGE2, stage2_optional=True, **kwargs)  # type: ignore[arg-type]
        return load_deepfloyd(stage2=stage2, **kwargs)  # type: ignore[arg-type]
    raise TaskError(f"unknown backend {name!r}; choose mnist or deepfloyd")
