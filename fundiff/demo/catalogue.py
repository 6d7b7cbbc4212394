"""The demo's figure catalogue, as data: each figure's section, caption and regenerating command.

Part A's captions are templates (``PART_A_FIGURES``), filled with the write-up's
values (``fundiff.writeup``) and the backend's prompts (``fundiff.parta.options.DEFAULTS``).
Part B's entries are listed in the write-up's order by ``part_b_entries``, from
the shipped models' configurations. Nothing here draws: ``fundiff.demo.build``
runs the models, ``fundiff.demo.render`` writes the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fundiff.backends.base import Backend
from fundiff.diffusion import rules
from fundiff.kinds import kind_of
from fundiff.parta.layouts import hybrid_figure, part0_figure
from fundiff.parta.options import DEFAULTS
from fundiff.parta.sections import ITERATIVE_TASKS
from fundiff.training.config import TrainConfig, train_command
from fundiff.writeup import PART_A, i_start_label

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


# Part A: section and caption of each figure ``fundiff.parta.tasks`` writes, by file name. Captions are
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
            if kind_of(kind).class_conditional
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
