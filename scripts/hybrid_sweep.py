"""Measure how MNIST hybrid images read, over filter widths and guidance scales; print JSON.

A hybrid image should read as the high-frequency digit up close and as the
low-frequency digit from afar. Both are judged by the shipped classifier: "near"
on the image itself, "far" on the image shrunk to 10 px and enlarged back
(antialiased), which is what distance does to it. One grid per setting (rows:
hybrid, then its far view, for each pair) goes to ``--out``.

    python scripts/hybrid_sweep.py --sigmas 0.875 1.25 1.75 2.5 --scales 7:7 3:7 --out DIR [--weights W]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

import torch
from torchvision.transforms.functional import gaussian_blur, resize

from fundiff.backends.mnist_weights import load_mnist_backend
from fundiff.diffusion.denoise import sample
from fundiff.diffusion.illusions import factorized
from fundiff.evaluation.metrics import shipped_classifier
from fundiff.schedules import strided_timesteps
from fundiff.viz import save_grid

PAIRS = ((0, 1), (8, 1), (0, 7), (3, 1), (6, 1), (0, 4), (8, 7), (2, 1))  # (low, high)


def far_view(images: torch.Tensor, size: int = 10) -> torch.Tensor:
    """The image as seen from afar: shrunk to ``size`` px and enlarged back, (B, 1, 28, 28)."""
    return resize(
        resize(images, [size, size], antialias=True), list(images.shape[-2:]), antialias=True
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sigmas", type=float, nargs="+", default=[0.875, 1.25, 1.75, 2.5])
    p.add_argument("--scales", nargs="+", default=["7:7", "3:7"], help="LOW:HIGH guidance pairs")
    p.add_argument("--seeds", type=int, default=8, help="hybrids per pair (one batch, one seed)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--weights", type=Path, default=None, help="backend weights (default: shipped)")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    backend, classifier = load_mnist_backend(args.weights), shipped_classifier()
    uncond = backend.encode("")
    results = []
    for sigma in args.sigmas:
        kernel = 2 * round(3 * sigma) + 1

        def low(x: torch.Tensor, k: int = kernel, s: float = sigma) -> torch.Tensor:
            return gaussian_blur(x, [k, k], [s, s])

        for pair in args.scales:
            g_low, g_high = (float(v) for v in pair.split(":"))
            start, rows, near, far, both = time.perf_counter(), [], 0, 0, 0
            for lo, hi in PAIRS:
                pred = factorized(backend, [backend.encode(str(lo)), backend.encode(str(hi))],
                                  [low, lambda x, f=low: x - f(x)], uncond, [g_low, g_high])  # fmt: skip
                x = sample(pred, (args.seeds, *backend.image_shape), strided_timesteps(), backend.alphas_cumprod,
                           backend.variance_type, torch.Generator().manual_seed(0))  # fmt: skip
                img = ((x + 1) / 2).clamp(0, 1)
                with torch.no_grad():
                    up_close = classifier(img).argmax(1) == hi
                    afar = classifier(far_view(img)).argmax(1) == lo
                near, far, both = (
                    near + int(up_close.sum()),
                    far + int(afar.sum()),
                    both + int((up_close & afar).sum()),
                )
                rows += [img, far_view(img)]
            name = f"hybrid_sigma{sigma}_g{g_low:g}-{g_high:g}.png"
            save_grid(args.out / name, torch.cat(rows), nrow=args.seeds)
            results.append({"sigma": sigma, "kernel": kernel, "guidance_low": g_low, "guidance_high": g_high,
                            "hybrids": args.seeds * len(PAIRS), "near_reads_high": near, "far_reads_low": far,
                            "both": both, "figure": name, "seconds": round(time.perf_counter() - start, 1)})  # fmt: skip
            print(json.dumps(results[-1]), flush=True)
    print(json.dumps({"pairs_low_high": PAIRS, "date": dt.date.today().isoformat(), "torch": torch.__version__,
                      "results": results}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
