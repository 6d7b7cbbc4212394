# %% [markdown]
# # Part A: the power of diffusion models
#
# You will write the sampling loops of a pretrained pixel-space diffusion model:
# the forward process, one-step and iterative denoising, sampling,
# classifier-free guidance, SDEdit, inpainting, visual anagrams and hybrid images.
#
# Every loop takes a **backend**: a model with a noise schedule `alphas_cumprod`,
# an image shape and `predict(x_t, t, cond)`, which returns the noise estimate
# (`.eps`) and, for DeepFloyd IF, its variance values (`.variance`).
#
# - `BACKEND = "mnist"` (the default): a small class-conditional MNIST diffusion
#   model shipped with fundiff, on DeepFloyd IF's schedule. It runs on a laptop
#   CPU; its prompts are the digits `"0"` to `"9"` and `""`.
# - `BACKEND = "deepfloyd"`: DeepFloyd IF stage I (64 px), for those with its
#   weights and a GPU. Make the prompt embeddings once with
#   `fundiff embed-prompts --out prompt_embeds_dict.pth`.
#
# Fill in every function marked `YOUR CODE HERE`; the cells after each one check it.
#
# What every graded function keeps to (the checks test it): it returns new tensors, in
# its inputs' dtype and on their device (make new tensors with `device=x.device`), and
# leaves the tensors it is given as they were (`x = x * a`, not `x *= a`). Random
# numbers come from the `generator` it is handed; the order of your draws is yours.

# %%
from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from IPython.display import Image, display
from torchvision.transforms.functional import gaussian_blur
from tqdm.auto import tqdm

from fundiff.course import (
    DEFAULTS,
    DEFAULT_GUIDANCE,
    IDENTITY,
    MIN_VARIANCE,
    PART_A,
    SDEDIT_I_STARTS,
    Backend,
    Prediction,
    TaskOptions,
    VarianceType,
    View,
    broadcast_batch,
    build_backend,
    check_i_start,
    check_mask,
    check_timestep,
    course_rule,
    describe,
    draw_sketch,
    frequency_split,
    get_view,
    i_start_label,
    load_image,
    mean_variance,
    run_task,
    save_table,
    shipped_digits,
    strided_timesteps,
    use_threads,
)

BACKEND = os.environ.get("FUNDIFF_BACKEND", "mnist")  # or "deepfloyd"
PROMPT_EMBEDS = os.environ.get(
    "FUNDIFF_PROMPT_EMBEDS", "prompt_embeds_dict.pth"
)  # deepfloyd: `fundiff embed-prompts`
STAGE1 = os.environ.get("FUNDIFF_STAGE1")  # deepfloyd: a local folder of IF stage I; None: the hub
STAGE2 = os.environ.get("FUNDIFF_STAGE2")  # deepfloyd: stage II (Part 0's 256 px); None: 64 px only
IMAGE = None  # a photo of your own (the write-up's Campanile) for sections 1.1-1.7; None: see below
MORE_IMAGES: list[str] = []  # two more photos of your own for 1.7, 1.7.2 and 1.7.3, as the write-up shows
WEB_IMAGE = None  # an image from the web (a painting, a cartoon) for 1.7.1
FIGURES = Path("figures_part_a")
FIGURES.mkdir(exist_ok=True)
SEED = 0
THREADS = use_threads()  # torch's CPU threads: $FUNDIFF_THREADS, else torch's own count
RULE = course_rule()  # the update rule of 1.4 this course teaches

options = {} if BACKEND == "mnist" else {"prompt_embeds": Path(PROMPT_EMBEDS), "stage1": STAGE1, "stage2": STAGE2}
backend = build_backend(BACKEND, device="cuda" if torch.cuda.is_available() else "cpu", **options)
prompts = DEFAULTS[BACKEND]
abar = backend.alphas_cumprod
timesteps = strided_timesteps()  # 990, 960, ..., 0


def read(path) -> torch.Tensor:
    """An image file as the backend's image, shape (1, C, H, W) in [-1, 1]."""
    return load_image(path, backend.image_shape).to(backend.device)


if IMAGE is not None:
    source = read(IMAGE)
elif BACKEND == "mnist":
    source = shipped_digits()[7:8].to(backend.device)  # an MNIST test 7, in [-1, 1]
else:  # no photo given: a rough drawing stands in until you set IMAGE
    source = read(draw_sketch(backend.image_shape, FIGURES / "sketch.png"))
if MORE_IMAGES:
    more = torch.cat([read(p) for p in MORE_IMAGES])
elif BACKEND == "mnist":
    more = shipped_digits()[[2, 4]].to(backend.device)  # two more test digits
else:  # no photos given: the drawing mirrored and in other colours stand in
    print("set MORE_IMAGES to two photos of your own, as the write-up shows; stand-ins are used")
    more = torch.cat([source.flip(-1), source.roll(1, dims=1)])
examples = torch.cat([source, more])  # the write-up's three examples per section, (3, C, H, W)


def noisy_source(generator):
    """The source image forward-noised to t = 250, 500 and 750 (your ``forward``)."""
    return [forward(source, t, abar, generator) for t in PART_A.noise_levels]


def show(path, images, **kwargs):
    """Save a table of images in [-1, 1] (rows, cols, C, H, W) and display it."""
    save_table(FIGURES / path, ((images.detach().float().cpu() + 1) / 2).clamp(0, 1), **kwargs)
    display(Image(filename=str(FIGURES / path)))


uncond = backend.encode("")
cond = backend.encode(prompts["prompt"])
predictor = lambda x, t: backend.predict(x, t, cond)  # noqa: E731  (the model, no guidance)
print(
    "backend:",
    backend.name,
    backend.image_shape,
    "| timesteps:",
    timesteps[:3],
    "...",
    timesteps[-2:],
    "| update rule:",
    describe(RULE),
)

# %% [markdown]
# ## Part 0: sampling from DeepFloyd IF
#
# DeepFloyd IF's own sampler, before you write yours: the write-up's four prompts,
# seed 101, 20, 50 and 100 denoising steps (left to right), upsampled from 64 to
# 256 px by stage II where its weights are given (`STAGE2`). It needs IF's weights:
# on the MNIST backend this section only says so.

# %%
if BACKEND == "deepfloyd":
    for path in run_task("part0", backend, FIGURES / "part0", TaskOptions()):
        display(Image(filename=str(path)))
else:
    print("Part 0 samples DeepFloyd IF's own pipeline: set FUNDIFF_BACKEND=deepfloyd where its weights are")

# %% [markdown]
# ## 1.1 The forward process
#
# x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε, ε ~ N(0, I), where ᾱ_t is `alphas_cumprod[t]`.
# Draw ε from `generator` unless it is given.

# %% [graded] forward
# ref=fundiff.diffusion.forward.forward

# %% [tests] forward_checks
torch.manual_seed(0)  # the same inputs on every run
x0 = torch.rand(2, 1, 8, 8) * 2 - 1
ab = torch.linspace(0.999, 0.001, 1000)
eps = torch.randn(2, 1, 8, 8)
assert torch.allclose(
    forward(x0, 500, ab, eps=eps), ab[500].sqrt() * x0 + (1 - ab[500]).sqrt() * eps
)
a = forward(x0, 300, ab, torch.Generator().manual_seed(3))
b = forward(x0, 300, ab, torch.Generator().manual_seed(3))
assert torch.equal(a, b), "draw the noise from the generator"

# %%
noisy = noisy_source(torch.Generator(backend.device).manual_seed(SEED))
show(
    "1.1_forward.png",
    torch.cat([source, *noisy])[None],
    col_labels=["x0", *(f"t={t}" for t in PART_A.noise_levels)],
)

# %% [markdown]
# ## 1.2 Classical denoising
#
# A Gaussian blur removes high frequencies: noise, and the image's detail with it.

# %%
noisy = noisy_source(torch.Generator(backend.device).manual_seed(SEED))
blurred = [gaussian_blur(x, [5, 5], [2.0, 2.0]) for x in noisy]
show(
    "1.2_blur.png",
    torch.stack([torch.cat(noisy), torch.cat(blurred)]),
    row_labels=["noisy", "blur"],
)

# %% [markdown]
# ## 1.3 One-step denoising
#
# Given the model's noise estimate ε̂, invert the forward process:
# x̂_0 = (x_t − √(1 − ᾱ_t) ε̂) / √ᾱ_t.

# %% [graded] one_step
# ref=fundiff.diffusion.denoise.estimate_x0

# %% [tests] one_step_checks
torch.manual_seed(0)  # the same inputs on every run
ab = torch.linspace(0.999, 0.001, 1000)
x0, eps = torch.randn(3, 1, 8, 8), torch.randn(3, 1, 8, 8)
assert torch.allclose(estimate_x0(forward(x0, 700, ab, eps=eps), eps, ab[700]), x0, atol=1e-4)

# %%
noisy = noisy_source(torch.Generator(backend.device).manual_seed(SEED))
with torch.no_grad():
    one_step = [
        estimate_x0(x, backend.predict(x, t, cond).eps, abar[t])
        for x, t in zip(noisy, PART_A.noise_levels)
    ]
show(
    "1.3_one_step.png",
    torch.stack([torch.cat(noisy), torch.cat(one_step)]),
    row_labels=["noisy", "one-step"],
)

# %% [markdown] rule=writeup
# ## 1.4 Iterative denoising
#
# Walk the strided timesteps t > t' (990, 960, …, 0). At each step, estimate the clean
# image from the model's noise estimate ε̂ (your `estimate_x0`), then move to t' by the
# write-up's rule:
#
# x_t' = √ᾱ_t' x̂_0 + √(1 − ᾱ_t') ε̂ + σ z,   z ~ N(0, I).
#
# The course takes σ = 0, the default of `sigma`: with the coefficient √(1 − ᾱ_t') on ε̂,
# x_t' has the variance the forward process gives t' only when σ = 0 (any σ > 0 adds σ²
# of noise on top), and the step is then deterministic: it is DDIM with η = 0. Where
# σ > 0, draw z from `generator`. This rule does not use the model's variance values
# (DeepFloyd IF's `pred.variance`). `denoise_step`, the step the loops below call, is
# your `writeup_step`.

# %% [graded] iterative rule=writeup
# ref=fundiff.diffusion.denoise.writeup_step,fundiff.diffusion.denoise.iterative_denoise
denoise_step = writeup_step  # the course's update rule: every loop below steps with it

# %% [tests] iterative_checks rule=writeup
torch.manual_seed(0)  # the same inputs on every run
ab = torch.linspace(0.999, 0.001, 1000)
x0, eps = torch.randn(2, 1, 8, 8), torch.randn(2, 1, 8, 8)
# given the true noise of x_t, the step lands on the forward process at t' with that noise
step = writeup_step(forward(x0, 600, ab, eps=eps), Prediction(eps), 600, 570, ab, "fixed_small")
assert torch.allclose(step, forward(x0, 570, ab, eps=eps), atol=1e-5)
out = iterative_denoise(
    lambda x, t: Prediction(torch.zeros_like(x)),
    forward(x0, 600, ab, eps=eps),
    [600, 300, 0],
    0,
    ab,
    "fixed_small",
)
assert out.shape == x0.shape and torch.isfinite(out).all()

# %% [markdown] rule=ddpm
# ## 1.4 Iterative denoising
#
# Walk the strided timesteps t > t' (990, 960, …, 0). With α = ᾱ_t / ᾱ_t' and
# β = 1 − α, the DDPM posterior q(x_t' | x_t, x̂_0) has
#
# mean = √ᾱ_t' β / (1 − ᾱ_t) · x̂_0 + √α (1 − ᾱ_t') / (1 − ᾱ_t) · x_t,
# variance β̃ = (1 − ᾱ_t') / (1 − ᾱ_t) · β,
#
# and x_t' = mean + σ z with z ~ N(0, I). For `"fixed_small"` backends σ² = β̃
# (clamp it at `MIN_VARIANCE` before taking the log). DeepFloyd IF predicts
# `"learned_range"` values v ∈ [−1, 1] that interpolate the log-variance:
# log σ² = (v + 1)/2 · log β + (1 − v)/2 · log β̃. `denoise_step`, the step the
# loops below call, is your `ddpm_step`.

# %% [graded] iterative rule=ddpm
# ref=fundiff.diffusion.denoise.posterior_mean,fundiff.diffusion.denoise.posterior_log_variance,fundiff.diffusion.denoise.learned_range_log_variance,fundiff.diffusion.denoise.ddpm_step,fundiff.diffusion.denoise.iterative_denoise
denoise_step = ddpm_step  # the course's update rule: every loop below steps with it

# %% [tests] iterative_checks rule=ddpm
torch.manual_seed(0)  # the same inputs on every run
ab = torch.linspace(0.999, 0.001, 1000)
x0 = torch.randn(2, 1, 8, 8)
xt = forward(x0, 600, ab, torch.Generator().manual_seed(0))
# with x0_hat = x0, the mean is a convex-like blend that keeps x0 when t' = 0
assert torch.allclose(posterior_mean(xt, x0, ab[600], torch.tensor(1.0)), x0, atol=1e-5)
v = torch.full((1,), -1.0)
assert torch.allclose(
    learned_range_log_variance(v, ab[600], ab[570]), posterior_log_variance(ab[600], ab[570])
)
out = iterative_denoise(
    lambda x, t: Prediction(torch.zeros_like(x)),
    xt,
    [600, 300, 0],
    0,
    ab,
    "fixed_small",
    torch.Generator().manual_seed(0),
)
assert out.shape == xt.shape and torch.isfinite(out).all()

# %% [markdown]
# The write-up's figures: the loop from i_start = 10 (t = 690) seen at t = 690, 540,
# 390, 240 and 90, then the original beside the iterative, one-step and blurred results.

# %%
i_start = PART_A.i_start
gen = torch.Generator(backend.device).manual_seed(SEED)
x_start = forward(source, timesteps[i_start], abar, gen)
seen = {timesteps[i_start]: x_start}
clean = iterative_denoise(
    predictor,
    x_start,
    timesteps,
    i_start,
    abar,
    backend.variance_type,
    gen,
    on_step=lambda i, t, x: seen.__setitem__(t, x) if t in PART_A.shown_timesteps else None,
)
show(
    "1.4_iterative_steps.png",
    torch.cat([seen[t] for t in PART_A.shown_timesteps])[None],
    col_labels=[f"t={t}" for t in PART_A.shown_timesteps],
    title=f"iterative denoising, {RULE} rule",
)
with torch.no_grad():
    one = estimate_x0(
        x_start, backend.predict(x_start, timesteps[i_start], cond).eps, abar[timesteps[i_start]]
    )
show(
    "1.4_iterative_compare.png",
    torch.cat([source, clean, one, gaussian_blur(x_start, [5, 5], [2.0, 2.0])])[None],
    col_labels=list(PART_A.compare_columns),
)

# %% [markdown]
# ## 1.5 Sampling
#
# Start from pure noise at the first timestep and denoise all the way.

# %% [graded] sample
# ref=fundiff.diffusion.denoise.sample

# %%
gen = torch.Generator(backend.device).manual_seed(SEED)
samples = sample(
    predictor,
    (PART_A.num_samples, *backend.image_shape),
    timesteps,
    abar,
    backend.variance_type,
    gen,
    device=backend.device,
)
show("1.5_sample.png", samples[None], title=f"{prompts['prompt']!r}, no guidance")

# %% [markdown]
# ## 1.6 Classifier-free guidance
#
# ε = ε_u + γ (ε_c − ε_u), with the empty prompt `""` as the unconditional one
# and γ = 7. Evaluate both estimates in **one** batched call of `backend.predict`
# (concatenate the images and the conditionings; `broadcast_batch` makes a batch-1
# conditioning as large as the images' batch); keep the conditional variance.

# %% [graded] cfg
# ref=fundiff.guidance.classifier_free_guidance,fundiff.diffusion.cfg.guided_prediction,fundiff.diffusion.cfg.guided

# %% [tests] cfg_checks
torch.manual_seed(0)  # the same inputs on every run
x = torch.randn(2, *backend.image_shape, device=backend.device)
c = backend.encode(prompts["cfg_prompt"])
with torch.no_grad():
    e_c, e_u = backend.predict(x, 500, c).eps, backend.predict(x, 500, uncond).eps
    g = guided_prediction(backend, x, 500, c, uncond, 7.0).eps
assert torch.allclose(g, e_u + 7.0 * (e_c - e_u), atol=1e-4)
assert torch.allclose(guided_prediction(backend, x, 500, c, uncond, 1.0).eps, e_c, atol=1e-4)

# %%
gen = torch.Generator(backend.device).manual_seed(SEED)
cfg_cond = backend.encode(prompts["cfg_prompt"])
samples = sample(
    guided(backend, cfg_cond, uncond, PART_A.cfg_scale),
    (PART_A.num_samples, *backend.image_shape),
    timesteps,
    abar,
    backend.variance_type,
    gen,
    device=backend.device,
)
show("1.6_cfg.png", samples[None], title=f"{prompts['cfg_prompt']!r}, CFG scale {PART_A.cfg_scale:g}")

# %% [markdown]
# ## 1.7 SDEdit
#
# Noise a real image to `timesteps[i_start]` and denoise it back with guidance:
# the less noise, the closer the result stays to the original.

# %% [graded] sdedit
# ref=fundiff.diffusion.edit.sdedit


# %%
def sdedit_rows(images, prompt, name):
    """SDEdit of each image (a row: the original, then each of the write-up's i_start values)."""
    gen = torch.Generator(backend.device).manual_seed(SEED)
    pred = guided(backend, backend.encode(prompt), uncond, PART_A.cfg_scale)
    edits = [
        sdedit(pred, images, i, timesteps, abar, backend.variance_type, gen) for i in SDEDIT_I_STARTS
    ]
    show(
        name,
        torch.stack([images, *edits], dim=1),
        col_labels=["original", *(i_start_label(i) for i in SDEDIT_I_STARTS)],
        title=f"SDEdit, prompt {prompt!r}" if prompt else "SDEdit, unconditional",
    )


sdedit_rows(examples, prompts["prompt"], "1.7_sdedit.png")

# %% [markdown]
# ## 1.7.1 An image from the web, and your own drawings
#
# Set `WEB_IMAGE` (in the first cell) to an image from the web, and draw on the canvas
# below (or upload an image file), then run the next cell. What you leave empty,
# fundiff fills with stand-ins.

# %%
import ipywidgets as widgets  # noqa: E402

try:
    from ipycanvas import Canvas

    canvas = Canvas(width=280, height=280, sync_image_data=True)
    canvas.fill_style, canvas.stroke_style, canvas.line_width = "black", "white", 22
    canvas.fill_rect(0, 0, 280, 280)
    pen = {"down": False}

    def pen_down(x, y):
        pen["down"] = True
        canvas.begin_path()
        canvas.move_to(x, y)

    def pen_move(x, y):
        if pen["down"]:
            canvas.line_to(x, y)
            canvas.stroke()

    def pen_up(x, y):
        pen["down"] = False

    canvas.on_mouse_down(pen_down)
    canvas.on_mouse_move(pen_move)
    canvas.on_mouse_up(pen_up)
except ImportError:  # no canvas: the upload alone
    canvas = None
upload = widgets.FileUpload(accept="image/*", multiple=True, description="or upload")
display(widgets.VBox([w for w in (canvas, upload) if w is not None]))


# %%
def my_drawings() -> torch.Tensor:
    """Two drawings, shape (2, C, H, W): the canvas and the uploaded files first, fundiff's sketch after."""
    found = []
    for item in upload.value:
        path = FIGURES / item["name"]
        path.write_bytes(bytes(item["content"]))
        found.append(read(path))
    if canvas is not None and canvas.image_data is not None and canvas.get_image_data().max() > 0:
        from PIL import Image as PILImage

        PILImage.fromarray(canvas.get_image_data()[..., :3]).save(FIGURES / "my_drawing.png")
        found.append(read(FIGURES / "my_drawing.png"))
    if len(found) < 2:
        print(f"{len(found)} drawing(s) of yours: fundiff's sketch stands in for the rest")
        sketch = read(draw_sketch(backend.image_shape, FIGURES / "sketch.png"))
        found += [sketch, sketch.flip(-1)][: 2 - len(found)]
    return torch.cat(found[:2])


if WEB_IMAGE is not None:
    web = read(WEB_IMAGE)
elif BACKEND == "mnist":
    web = shipped_digits()[9:10].to(backend.device)  # stands in for an image from the web
else:
    print("set WEB_IMAGE to an image from the web; a test image stands in")
    web = source
sdedit_rows(torch.cat([web, my_drawings()]), prompts["prompt"], "1.7.1_web_and_drawings.png")

# %% [markdown]
# ## 1.7.2 Inpainting
#
# Start from noise; after every step, put back the forward-noised original
# (at the new timestep) wherever the mask is 0:
# x_t' ← m · x_t' + (1 − m) · forward(x_orig, t').

# %% [graded] inpaint
# ref=fundiff.diffusion.edit.inpaint


# %%
def top_half_inpainted():
    """(mask, result): the top half of the source regenerated under guidance."""
    mask = torch.zeros(backend.image_shape[1:], device=backend.device)
    mask[: mask.shape[0] // 2] = 1
    return mask, inpaint(
        guided(backend, cond, uncond, PART_A.cfg_scale),
        source,
        mask,
        timesteps,
        abar,
        backend.variance_type,
        torch.Generator(backend.device).manual_seed(0),
    )


# %% [tests] inpaint_checks
torch.manual_seed(0)  # the same inputs on every run
mask, out = top_half_inpainted()
assert torch.allclose(
    out[..., mask.shape[0] // 2 :, :], source[..., mask.shape[0] // 2 :, :], atol=1e-5
)

# %%
h, w = backend.image_shape[1:]
masks = torch.zeros(3, 1, h, w, device=backend.device)
masks[0, :, : h // 2] = 1  # the top half of the source (the write-up: a new upper floor)
masks[1, :, :, w // 2 :] = 1  # the right half
masks[2, :, h // 4 : 3 * h // 4, w // 4 : 3 * w // 4] = 1  # the centre
painted = inpaint(
    guided(backend, cond, uncond, PART_A.cfg_scale),
    examples,
    masks,
    timesteps,
    abar,
    backend.variance_type,
    torch.Generator(backend.device).manual_seed(SEED),
)
show(
    "1.7.2_inpaint.png",
    torch.stack([examples, masks.expand_as(examples) * 2 - 1, painted], dim=1),
    col_labels=["original", "mask", "inpainted"],
)

# %% [markdown]
# ## 1.7.3 Text-conditional image-to-image
#
# SDEdit again, under a prompt other than the image's.

# %%
sdedit_rows(examples, prompts["edit_prompt"], "1.7.3_img2img.png")

# %% [markdown]
# ## 1.8 Visual anagrams
#
# Prompt k is seen through view k: evaluate the guided estimate on the viewed
# image, map it back with the view's inverse, and average over the views. For
# variance values use `view.invert_values`, and average them too (`mean_variance`).

# %% [graded] anagram
# ref=fundiff.diffusion.illusions.anagram

# %% [tests] anagram_checks
torch.manual_seed(0)  # the same inputs on every run
x = torch.randn(1, *backend.image_shape, device=backend.device)
c = backend.encode(prompts["anagram"][0])
with torch.no_grad():
    got = anagram(backend, [c, c], [IDENTITY, IDENTITY], uncond, 7.0)(x, 500).eps
    assert torch.allclose(got, guided(backend, c, uncond, 7.0)(x, 500).eps, atol=1e-4)

# %%
views = [get_view(v) for v in prompts["views"]]
gen = torch.Generator(backend.device).manual_seed(SEED)
pred = anagram(
    backend, [backend.encode(p) for p in prompts["anagram"]], views, uncond, PART_A.cfg_scale
)
images = sample(  # the write-up's two illusions, drawn at once
    pred,
    (PART_A.anagram_examples, *backend.image_shape),
    timesteps,
    abar,
    backend.variance_type,
    gen,
    device=backend.device,
)
show(
    "1.8_anagram.png",
    torch.stack([v.apply(images) for v in views], dim=1),
    col_labels=[f"{v.name}: {p!r}" for v, p in zip(views, prompts["anagram"])],
)

# %% [markdown]
# ## 1.9 Hybrid images
#
# Factorized diffusion: split the estimate into components that sum to the
# identity and take component k from prompt k. For a hybrid image,
# ε = lowpass(ε₁) + highpass(ε₂), with a Gaussian low-pass (kernel 33, σ 2 at
# 64 px, scaled with the resolution: `frequency_split`).

# %% [graded] hybrid
# ref=fundiff.diffusion.illusions.factorized,fundiff.diffusion.illusions.hybrid

# %% [tests] hybrid_checks
torch.manual_seed(0)  # the same inputs on every run
x = torch.randn(1, *backend.image_shape, device=backend.device)
c = backend.encode(prompts["hybrid"][0])
with torch.no_grad():
    assert torch.allclose(
        hybrid(backend, c, c, uncond, 7.0)(x, 500).eps,
        guided(backend, c, uncond, 7.0)(x, 500).eps,
        atol=1e-4,
    )

# %%
lowpass, highpass = frequency_split(backend.image_shape[-1])
for k, (low_prompt, high_prompt) in enumerate(prompts["hybrids"]):
    gen = torch.Generator(backend.device).manual_seed(SEED)
    low, high = backend.encode(low_prompt), backend.encode(high_prompt)
    image = sample(
        hybrid(backend, low, high, uncond, PART_A.cfg_scale),
        (1, *backend.image_shape),
        timesteps,
        abar,
        backend.variance_type,
        gen,
        device=backend.device,
    )
    show(
        f"1.9_hybrid_{k + 1}.png",
        torch.cat([image, lowpass(image), highpass(image)])[None],
        col_labels=["hybrid", f"low: {low_prompt!r}", f"high: {high_prompt!r}"],
    )

# %% [markdown]
# **Question.** Compare the Gaussian blur, one-step and iterative denoising of
# the same noisy image (1.2-1.4). Why does iterative denoising win, most of all
# at high noise?

# %% [answer] q_denoising points=2
# The blur cannot tell noise from detail: it removes both and invents nothing.
# One-step denoising uses the model's noise estimate, but at high noise that
# estimate is poor and the inversion divides by a small √ᾱ_t, so the result is
# a blurry average of plausible images. Iterative denoising takes many small
# steps, each re-estimating the noise from a slightly cleaner image, so it can
# commit to one sharp image on the data manifold.

# %% [markdown]
# **Question.** How do SDEdit results change with i_start, and why?

# %% [answer] q_sdedit points=2
# A small i_start starts at a large timestep, where almost all of the original
# is drowned in noise: the model draws a new image that keeps at most the rough
# layout. As i_start grows, less noise is added and the edits keep more of the
# original's shape and detail, until at i_start = 20 they are nearly the original.
