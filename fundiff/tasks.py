"""The four Part B training tasks: which model, which loss, which figures.

A task is what differs between ``fundiff train`` subcommands; the loop itself
(``fundiff.train``) is shared. Figures use their own generator, seeded from the
run's seed and the epoch, so drawing them never changes the training draws.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import torch
from torch import nn

from fundiff.backends.mnist import MNISTBackend, diffusion_loss, sample_digits
from fundiff.config import TrainConfig
from fundiff.denoiser import add_noise, denoiser_loss, pure_noise_loss
from fundiff.flow import draw_flow_inputs, flow_matching_loss, one_hot_with_dropout
from fundiff.models import ClassConditionalUNet, TimeConditionalUNet, UnconditionalUNet
from fundiff.models.classifier import MNISTClassifier, accuracy
from fundiff.sampling import sample_class_conditional, sample_time_conditional
from fundiff.schedules import cosine_alphas_cumprod
from fundiff.viz import save_grid, save_table

SIGMAS: tuple[float, ...] = (0.0, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0)
"""Noise levels of the write-up's noising and out-of-distribution figures."""


def build_model(config: TrainConfig) -> nn.Module:
    """The UNet that ``config.kind`` trains, freshly initialised from the global RNG."""
    if config.kind in ("denoiser", "pure-noise"):
        return UnconditionalUNet(hidden=config.hidden)
    if config.kind == "flow-time":
        return TimeConditionalUNet(hidden=config.hidden)
    if config.kind in ("flow-class", "diffusion-class"):
        return ClassConditionalUNet(hidden=config.hidden, num_classes=config.num_classes)
    if config.kind == "classifier":
        return MNISTClassifier(hidden=config.hidden, num_classes=config.num_classes)
    raise ValueError(f"unknown model kind {config.kind!r}")


def batch_loss(
    model: nn.Module,
    config: TrainConfig,
    x: torch.Tensor,
    labels: torch.Tensor,
    generator: torch.Generator,
) -> torch.Tensor:
    """The training loss of one batch.

    Args:
        model: the task's UNet.
        config: the run's configuration.
        x: images in [0, 1], shape (B, 1, 28, 28).
        labels: digit labels, shape (B,).
        generator: the run's training generator (noise, times, class dropout).

    Returns:
        Scalar loss.
    """
    if config.kind == "denoiser":
        return denoiser_loss(model, x, config.sigma, generator)
    if config.kind == "pure-noise":
        return pure_noise_loss(model, x, generator)
    if config.kind == "classifier":
        return torch.nn.functional.cross_entropy(model(x), labels)
    if config.kind == "diffusion-class":
        abar = _schedule(x.device)
        return diffusion_loss(
            model, x, labels, abar, config.p_uncond, generator, config.num_classes
        )
    draws = draw_flow_inputs(x, generator)
    if config.kind == "flow-time":
        return flow_matching_loss(model, x, draws.x0, draws.t)
    c = one_hot_with_dropout(labels, config.num_classes, config.p_uncond, generator)
    return flow_matching_loss(lambda xt, t: model(xt, t, c), x, draws.x0, draws.t)


@functools.cache
def _schedule(device: torch.device) -> torch.Tensor:
    return cosine_alphas_cumprod(1000).to(device)


def figure_generator(config: TrainConfig, epoch: int, device: torch.device) -> torch.Generator:
    """A generator for an epoch's figures, independent of the training draws."""
    return torch.Generator(device).manual_seed(config.seed * 1000 + epoch)


@torch.no_grad()
def start_figures(run_dir: Path, config: TrainConfig, test_images: torch.Tensor) -> None:
    """Figures drawn before training: the noising process for the denoiser.

    Args:
        run_dir: where the PNGs go.
        config: the run's configuration.
        test_images: (N, 1, 28, 28) in [0, 1], N >= 5.
    """
    if config.kind != "denoiser":
        return
    gen = figure_generator(config, 0, test_images.device)
    x = test_images[:5]
    table = torch.stack(
        [add_noise(x, s, gen) for s in SIGMAS], dim=1
    )  # (5, len(SIGMAS), 1, 28, 28)
    save_table(
        run_dir / "noising.png",
        table,
        col_labels=[f"σ={s}" for s in SIGMAS],
        title="Noising process z = x + σε",
    )


@torch.no_grad()
def epoch_figures(
    run_dir: Path,
    config: TrainConfig,
    model: nn.Module,
    epoch: int,
    test_images: torch.Tensor,
    train_mean: torch.Tensor | None = None,
    progress: bool = False,
    test_labels: torch.Tensor | None = None,
) -> list[Path]:
    """Figures after ``epoch``: denoised test digits, or samples; returns the paths written.

    Args:
        run_dir: where the PNGs go.
        config: the run's configuration.
        model: the model to draw with (in eval mode).
        epoch: the epoch just completed (1-based).
        test_images: (N, 1, 28, 28) in [0, 1], on the model's device, N >= 8.
        train_mean: (1, 28, 28), the mean training digit; the pure-noise figure
            shows it beside the model's outputs, which should match it.
        progress: show a tqdm bar while sampling.
        test_labels: (N,) labels of ``test_images``; the classifier reports its accuracy on them.
    """
    device = test_images.device
    gen = figure_generator(config, epoch, device)
    tag = f"epoch{epoch:02d}"
    written: list[Path] = []
    if config.kind == "classifier":
        if test_labels is not None:
            from fundiff.atomic import write_json

            path = run_dir / f"accuracy_{tag}.json"
            acc = accuracy(model, test_images, test_labels)
            write_json(
                path,
                {"epoch": epoch, "test_images": int(test_labels.shape[0]), "test_accuracy": acc},
            )
            written.append(path)
    elif config.kind == "denoiser":
        x = test_images[:8]
        z = add_noise(x, config.sigma, gen)
        table = torch.stack([x, z, model(z)], dim=1)  # (8, 3, 1, 28, 28)
        path = run_dir / f"denoised_{tag}.png"
        save_table(
            path, table, col_labels=["input", f"noisy σ={config.sigma}", "output"],
            title=f"Denoiser after epoch {epoch}",
        )  # fmt: skip
        written.append(path)
        if epoch == config.epochs:
            written.append(_ood_figure(run_dir, config, model, test_images, gen))
    elif config.kind == "pure-noise":
        eps = torch.randn((9, 1, 28, 28), generator=gen, device=device)
        outputs = model(eps)  # (9, 1, 28, 28)
        if train_mean is not None:
            outputs = torch.cat([outputs, train_mean[None].to(outputs)])
        path = run_dir / f"samples_{tag}.png"
        title = f"Pure-noise denoiser, epoch {epoch}: outputs for 9 noise inputs"
        save_grid(
            path,
            outputs,
            nrow=10,
            title=title + (" | mean training digit" if train_mean is not None else ""),
        )
        written.append(path)
    elif config.kind == "flow-time":
        samples = sample_time_conditional(
            model, 40, config.sample_steps, gen, device=device, progress=progress
        )
        path = run_dir / f"samples_{tag}.png"
        save_grid(
            path,
            samples,
            nrow=10,
            title=f"Time-conditioned flow, epoch {epoch}, {config.sample_steps} Euler steps",
        )
        written.append(path)
    elif config.kind == "diffusion-class":
        labels = torch.arange(config.num_classes, device=device).repeat(4)  # 4 rows of 0..9
        images = sample_digits(
            MNISTBackend(model, device), labels, config.guidance, gen, progress=progress
        )
        path = run_dir / f"samples_{tag}.png"
        save_grid(
            path, images, nrow=config.num_classes,
            title=f"MNIST diffusion backend, epoch {epoch}: digits 0-9, CFG {config.guidance}, strided 990..0 by 30",
        )  # fmt: skip
        written.append(path)
    else:
        labels = torch.arange(config.num_classes, device=device).repeat(4)  # 4 rows of 0..9
        samples = sample_class_conditional(
            model, labels, config.sample_steps, config.guidance, gen,
            num_classes=config.num_classes, progress=progress,
        )  # fmt: skip
        path = run_dir / f"samples_{tag}.png"
        save_grid(
            path, samples, nrow=config.num_classes,
            title=f"Class-conditioned flow, epoch {epoch}: columns are digits 0-9, guidance {config.guidance}, {config.sample_steps} steps",
        )  # fmt: skip
        written.append(path)
    return written


def _ood_figure(
    run_dir: Path,
    config: TrainConfig,
    model: nn.Module,
    test_images: torch.Tensor,
    gen: torch.Generator,
) -> Path:
    """Out-of-distribution test: the denoiser at noise levels it was not trained on."""
    x = test_images[:3]
    noisy = torch.stack([add_noise(x, s, gen) for s in SIGMAS], dim=1)  # (3, S, 1, 28, 28)
    flat = noisy.flatten(0, 1)  # (3S, 1, 28, 28)
    denoised = model(flat).view_as(noisy)
    rows = torch.stack([noisy, denoised], dim=1).flatten(
        0, 1
    )  # (6, S, 1, 28, 28): noisy, output, ...
    path = run_dir / "ood.png"
    save_table(
        path, rows, row_labels=["noisy", "denoised"] * 3, col_labels=[f"σ={s}" for s in SIGMAS],
        title=f"Denoiser trained at σ={config.sigma}, tested at other σ",
    )  # fmt: skip
    return path


def load_trained_model(
    path: str | Path, device: torch.device | str = "cpu", *, use_ema: bool = True
) -> tuple[TrainConfig, nn.Module]:
    """Load a model from a training checkpoint, in eval mode.

    Args:
        path: a ``checkpoint.safetensors`` written by ``fundiff train``.
        device: where to put the model.
        use_ema: use the weight average when the run kept one.

    Returns:
        The run's config and its model.

    Raises:
        fundiff.checkpoint.CheckpointError: unreadable, corrupted or mismatched checkpoint.
    """
    from fundiff.checkpoint import CheckpointError, load

    state = load(path)
    model = build_model(state.config)
    weights = state.model
    if use_ema and state.ema is not None:
        weights = {
            k.removeprefix("module."): v for k, v in state.ema.items() if k.startswith("module.")
        }
    try:
        model.load_state_dict(weights)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        raise CheckpointError(
            f"{path}: weights do not fit a {state.config.kind} model ({first})"
        ) from None
    return state.config, model.to(device).eval()


def export_weights(checkpoint: str | Path, out: str | Path) -> int:
    """Write a run's model weights alone (EMA if kept) as fp16 safetensors, config in the metadata.

    Returns:
        The number of values written.
    """
    from safetensors.torch import save_file

    from fundiff.atomic import atomic_path

    config, model = load_trained_model(checkpoint, "cpu")
    weights = {
        k: (v.half() if v.is_floating_point() else v).contiguous()
        for k, v in model.state_dict().items()
    }
    with atomic_path(out) as tmp:
        save_file(
            weights,
            str(tmp),
            metadata={"format": EXPORT_FORMAT, "config": json.dumps(config.to_dict())},
        )
    return sum(v.numel() for v in weights.values())


EXPORT_FORMAT = "fundiff-weights/1"


def load_exported_model(
    path: str | Path, device: torch.device | str = "cpu"
) -> tuple[TrainConfig, nn.Module]:
    """Load weights written by ``export_weights`` (as float32), in eval mode.

    Raises:
        fundiff.checkpoint.CheckpointError: unreadable file, or weights that do not fit.
    """
    from safetensors import SafetensorError, safe_open

    from fundiff.checkpoint import CheckpointError
    from fundiff.config import ConfigError

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            weights = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no __iter__)
        if meta.get("format") != EXPORT_FORMAT:
            raise CheckpointError(
                f"{path}: not fundiff model weights (format {meta.get('format')!r})"
            )
        config = TrainConfig.from_dict(json.loads(meta["config"]))
    except (SafetensorError, OSError, ValueError, KeyError, ConfigError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise CheckpointError(
            f"{path}: unreadable model weights ({first}); re-copy or re-export them"
        ) from None
    model = build_model(config)
    try:
        model.load_state_dict(
            {k: v.float() if v.is_floating_point() else v for k, v in weights.items()}
        )
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        raise CheckpointError(
            f"{path}: weights do not fit a {config.kind} model ({first})"
        ) from None
    return config, model.to(device).eval()
