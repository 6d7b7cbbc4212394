"""Part A tasks: each runs one section's loop on a backend and writes its figure.

``fundiff part-a TASK --backend {mnist,deepfloyd}`` calls ``run_task``; the
notebooks and the demo call the same functions. Every random draw comes from
one generator seeded with ``--seed``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from fundiff.backends.base import Backend
from fundiff.diffusion.cfg import DEFAULT_GUIDANCE, conditional, guided
from fundiff.diffusion.denoise import blur_denoise, estimate_x0, iterative_denoise, sample
from fundiff.diffusion.edit import SDEDIT_I_STARTS, check_mask, inpaint, sdedit
from fundiff.diffusion.forward import forward
from fundiff.diffusion.illusions import anagram, factorized, frequency_split, grayscale_colour_split
from fundiff.diffusion.views import get_view
from fundiff.images import load_image, shipped_digits
from fundiff.schedules import strided_timesteps
from fundiff.sections import TASKS
from fundiff.viz import save_table

NOISE_LEVELS: tuple[int, ...] = (250, 500, 750)
PART0_STEPS: tuple[int, ...] = (20, 50, 100)
PART0_SEED = 101
PART0_PROMPTS: tuple[str, ...] = (
    "an oil painting of a snowy mountain village",
    "a man wearing a hat",
    "a rocket ship",
)

# Per-backend defaults: the write-up's prompts for DeepFloyd IF, digits for MNIST.
DEFAULTS: dict[str, dict[str, object]] = {
    "mnist": dict(
        prompt="", cfg_prompt="3", edit_prompt="8", anagram=("6", "9"), views=("identity", "rotate180"),
        hybrid=("0", "1"),
    ),
    "deepfloyd": dict(
        prompt="a high quality photo", cfg_prompt="a high quality photo", edit_prompt="a rocket ship",
        anagram=("an oil painting of an old man", "an oil painting of people around a campfire"),
        views=("identity", "flip"),
        hybrid=("a lithograph of a skull", "a lithograph of waterfalls"),
    ),
}  # fmt: skip


class TaskError(ValueError):
    """A task was asked for something it cannot do; the message says what to do instead."""


@dataclass
class TaskOptions:
    """What the user chose; None means the backend's default.

    Attributes:
        image: source image file (SDEdit, inpainting, ...); MNIST defaults to a shipped test digit.
        mask: mask image file for inpainting (white = regenerate), the backend's size.
        prompt: the prompt of single-prompt tasks.
        prompts: the prompts of anagrams (one per view) and hybrids (low, high).
        views: view names for anagrams, one per prompt (default identity and flip on
            IF; identity and rotate180 on MNIST, where a 6 turned upside down is a 9).
        factorization: "frequency" (hybrid images) or "colour" (grayscale / colour).
        i_start: start index into the strided timesteps (iterative denoising).
        i_starts: SDEdit noise levels.
        guidance: classifier-free guidance scale.
        num: images to draw in sampling tasks.
        seed: seeds the one generator of the task (default 0; Part 0 uses the write-up's 101).
        part0_steps: Part 0's numbers of denoising steps.
    """

    image: Path | None = None
    mask: Path | None = None
    prompt: str | None = None
    prompts: list[str] | None = None
    views: list[str] | None = None
    factorization: str = "frequency"
    i_start: int = 10
    i_starts: Sequence[int] = SDEDIT_I_STARTS
    guidance: float = DEFAULT_GUIDANCE
    num: int = 5
    seed: int | None = None
    part0_steps: Sequence[int] = PART0_STEPS
    progress: bool = False
    timesteps: list[int] = field(default_factory=strided_timesteps)


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
    default_seed = PART0_SEED if task == "part0" else 0
    gen = torch.Generator(backend.device).manual_seed(
        default_seed if opts.seed is None else opts.seed
    )
    return _TASKS[task](backend, out, opts, gen)


def _part0(backend: Backend, out: Path, opts: TaskOptions, gen: torch.Generator) -> list[Path]:
    """Part 0: DeepFloyd IF's own sampler at 20, 50 and 100 steps, seed 101, upsampled by stage II."""
    if not hasattr(backend, "sample_pipeline"):
        raise TaskError(
            f"part0 samples DeepFloyd IF's own pipeline; the {backend.name} backend has none: use --backend deepfloyd"
        )
    prompts = opts.prompts if opts.prompts is not None else list(PART0_PROMPTS)
    seed = PART0_SEED if opts.seed is None else opts.seed
    written = []
    for steps in opts.part0_steps:
        images = torch.cat([backend.sample_pipeline(p, steps, seed) for p in prompts])  # type: ignore[attr-defined]
        sizes = [("64px", images)]
        if getattr(backend, "stage2", None) is not None:
            big = [
                backend.upsample(images[i : i + 1], p, generator=gen) for i, p in enumerate(prompts)
            ]  # type: ignore[attr-defined]
            sizes.append(("256px", torch.cat(big)))
        for tag, batch in sizes:
            path = out / f"0_samples_{steps}_steps_{tag}.png"
            save_table(path, _show(batch)[None], col_labels=[repr(p) for p in prompts],
                       title=f"Part 0: {steps} steps, seed {seed}, {tag}")  # fmt: skip
            written.append(path)
    return written


def _forward(backend: Backend, out: Path, opts: TaskOptions, gen: torch.Generator) -> list[Path]:
    x0 = source_image(backend, opts)
    noisy = [forward(x0, t, backend.alphas_cumprod, gen) for t in NOISE_LEVELS]
    path = out / "1.1_forward.png"
    save_table(path, _show(torch.cat([x0, *noisy]))[None], col_labels=["x0", *(f"t={t}" for t in NOISE_LEVELS)],
               title=f"1.1 Forward process ({backend.name})")  # fmt: skip
    return [path]


def _noisy_rows(
    backend: Backend, opts: TaskOptions, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    x0 = source_image(backend, opts)
    return x0, torch.cat([forward(x0, t, backend.alphas_cumprod, gen) for t in NOISE_LEVELS])


def _blur(backend: Backend, out: Path, opts: TaskOptions, gen: torch.Generator) -> list[Path]:
    _, noisy = _noisy_rows(backend, opts, gen)
    path = out / "1.2_blur.png"
    table = torch.stack([_show(noisy), _show(blur_denoise(noisy))])  # (2, 3, C, H, W)
    save_table(path, table, row_labels=["noisy", "Gaussian blur"], col_labels=[f"t={t}" for t in NOISE_LEVELS],
               title="1.2 Classical denoising")  # fmt: skip
    return [path]


def _one_step(backend: Backend, out: Path, opts: TaskOptions, gen: torch.Generator) -> list[Path]:
    x0, noisy = _noisy_rows(backend, opts, gen)
    cond = backend.encode(_prompt(backend, opts, "prompt"))
    est = [estimate_x0(noisy[i : i + 1], backend.predict(noisy[i : i + 1], t, cond).eps, backend.alphas_cumprod[t])
           for i, t in enumerate(NOISE_LEVELS)]  # fmt: skip
    table = torch.stack([_show(x0.expand_as(noisy)), _show(noisy), _show(torch.cat(est))])
    path = out / "1.3_one_step.png"
    save_table(path, table, row_labels=["original", "noisy", "one-step"], col_labels=[f"t={t}" for t in NOISE_LEVELS],
               title="1.3 One-step denoising")  # fmt: skip
    return [path]


def _iterative(backend: Backend, out: Path, opts: TaskOptions, gen: torch.Generator) -> list[Path]:
    ts, i0 = opts.timesteps, opts.i_start
    x0 = source_image(backend, opts)
    x_t = forward(x0, ts[i0], backend.alphas_cumprod, gen)
    cond = backend.encode(_prompt(backend, opts, "prompt"))
    shots: list[tuple[str, torch.Tensor]] = [(f"t={ts[i0]}", x_t)]

    def keep(i: int, t: int, x: torch.Tensor) -> None:
        if (i - i0) % 5 == 0 and t != ts[-1]:
            shots.append((f"t={t}", x))

    pred = conditional(backend, cond)
    clean = iterative_denoise(pred, x_t, ts, i0, backend.alphas_cumprod, backend.variance_type, gen,
                              on_step=keep, progress=opts.progress)  # fmt: skip
    one = estimate_x0(x_t, pred(x_t, ts[i0]).eps, backend.alphas_cumprod[ts[i0]])
    steps = out / "1.4_iterative_steps.png"
    save_table(steps, _show(torch.cat([x for _, x in shots]))[None], col_labels=[n for n, _ in shots],
               title=f"1.4 Iterative denoising from i_start={i0}, every 5th step")  # fmt: skip
    compare = out / "1.4_iterative_compare.png"
    row = torch.cat([x0, clean, one, blur_denoise(x_t)])
    save_table(compare, _show(row)[None], col_labels=["original", "iterative", "one-step", "blur"],
               title="1.4 Iterative vs one-step vs blur")  # fmt: skip
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
               title=f"1.5 Samples, prompt {_prompt(backend, opts, 'prompt')!r}, no guidance")  # fmt: skip
    return [path]


def _cfg(backend: Backend, out: Path, opts: TaskOptions, gen: torch.Generator) -> list[Path]:
    path = out / "1.6_cfg.png"
    save_table(path, _show(_samples(backend, opts, gen, opts.guidance, "cfg_prompt"))[None],
               title=f"1.6 Samples with CFG {opts.guidance}, prompt {_prompt(backend, opts, 'cfg_prompt')!r}")  # fmt: skip
    return [path]


def _edits(
    backend: Backend, opts: TaskOptions, gen: torch.Generator, key: str
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    image = source_image(backend, opts)
    pred = guided(
        backend, backend.encode(_prompt(backend, opts, key)), backend.encode(""), opts.guidance
    )
    edits = [sdedit(pred, image, i, opts.timesteps, backend.alphas_cumprod, backend.variance_type, gen,
                    progress=opts.progress) for i in opts.i_starts]  # fmt: skip
    return image, edits


def _edit_figure(backend: Backend, out: Path, opts: TaskOptions, gen: torch.Generator, *, key: str,
                 name: str, title: str) -> list[Path]:  # fmt: skip
    """SDEdit of the source image at each i_start under the prompt of ``key``, beside the original."""
    image, edits = _edits(backend, opts, gen, key)
    path = out / name
    save_table(path, _show(torch.cat([*edits, image]))[None],
               col_labels=[*(f"i_start={i}" for i in opts.i_starts), "original"],
               title=f"{title}, prompt {_prompt(backend, opts, key)!r}, CFG {opts.guidance}")  # fmt: skip
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
               col_labels=["original", "mask", "to replace", "inpainted"], title="1.7.2 Inpainting")  # fmt: skip
    return [path]


def _anagram(backend: Backend, out: Path, opts: TaskOptions, gen: torch.Generator) -> list[Path]:
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
    image = sample(pred, (1, *backend.image_shape), opts.timesteps, backend.alphas_cumprod, backend.variance_type,
                   gen, device=backend.device, progress=opts.progress)  # fmt: skip
    seen = torch.cat([v.apply(image) for v in views])
    path = out / "1.8_anagram.png"
    save_table(path, _show(seen)[None], col_labels=[f"{v.name}: {p!r}" for v, p in zip(views, prompts, strict=True)],
               title="1.8 Visual anagram")  # fmt: skip
    return [path]


def _hybrid(backend: Backend, out: Path, opts: TaskOptions, gen: torch.Generator) -> list[Path]:
    prompts = opts.prompts if opts.prompts is not None else list(_default(backend, "hybrid"))  # type: ignore[call-overload]
    if len(prompts) != 2:
        raise TaskError(
            f"a hybrid image needs two prompts (low/high or grayscale/colour), got {len(prompts)}"
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
    pred = factorized(
        backend,
        [backend.encode(p) for p in prompts],
        list(parts),
        backend.encode(""),
        opts.guidance,
    )
    image = sample(pred, (1, *backend.image_shape), opts.timesteps, backend.alphas_cumprod, backend.variance_type,
                   gen, device=backend.device, progress=opts.progress)  # fmt: skip
    path = out / f"1.9_hybrid_{opts.factorization}.png"
    save_table(path, _show(torch.cat([image, parts[0](image), parts[1](image)]))[None],
               col_labels=["hybrid", f"{names[0]}: {prompts[0]!r}", f"{names[1]}: {prompts[1]!r}"],
               title=f"1.9 Hybrid image ({opts.factorization} factorization)")  # fmt: skip
    return [path]


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
) -> Backend:
    """The named backend: "mnist" (shipped or given weights) or "deepfloyd" (diffusers).

    Args:
        name: "mnist" or "deepfloyd".
        device: where the model runs.
        weights: mnist: a weights file; None: the shipped model.
        stage1: deepfloyd: hub id or local folder of stage I; None: ``IF_STAGE1``.
        stage2: deepfloyd: hub id or local folder of stage II (upsampling); None: no stage II.
        prompt_embeds: deepfloyd: the prompt-embeddings ``.pth`` file; None: the course's
            ``prompt_embeds_dict.pth`` in the current folder.

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
        return load_deepfloyd(stage2=stage2, **kwargs)  # type: ignore[arg-type]
    raise TaskError(f"unknown backend {name!r}; choose mnist or deepfloyd")
