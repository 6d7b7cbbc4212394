"""Judge the MNIST diffusion backend with the shipped classifier; print JSON.

Draws N digits of each class with the strided sampler (990 to 0 by 30), by the
update rule in force (``--rule``; default the course's) and classifier-free
guidance, and reports the classifier's per-class accuracy on them.

    python scripts/evaluate_mnist_backend.py [--per-class 20] [--guidance 5] [--seed 0] [--rule writeup|ddpm]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time

import torch

from fundiff.backends.mnist_weights import load_mnist_backend
from fundiff.diffusion import rules
from fundiff.evaluation.metrics import per_class_accuracy, shipped_classifier
from fundiff.sampling.digits import sample_digits


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--per-class", type=int, default=20)
    p.add_argument("--guidance", type=float, default=5.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--weights", default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--rule", choices=rules.RULES, default=None, help="update rule (default: the course's)"
    )
    args = p.parse_args()
    backend = load_mnist_backend(args.weights, args.device)
    labels = torch.arange(10, device=backend.device).repeat_interleave(args.per_class)
    start = time.perf_counter()
    gen = torch.Generator(backend.device).manual_seed(args.seed)
    with rules.using(args.rule) as rule:
        images = sample_digits(backend, labels, args.guidance, gen)
    seconds = time.perf_counter() - start
    acc = per_class_accuracy(shipped_classifier(backend.device), images, labels)
    print(json.dumps({
        "model": "MNIST diffusion backend", "samples_per_class": args.per_class, "guidance": args.guidance,
        "sampler": f"strided, 990 to 0 by 30, {rules.describe(rule)}", "rule": rule, "seed": args.seed,
        "classifier_accuracy": round(acc.mean().item(), 4),
        "per_class_accuracy": [round(a, 3) for a in acc.tolist()],
        "sampling_seconds": round(seconds, 1), "device": str(backend.device), "torch": torch.__version__,
        "date": dt.date.today().isoformat(),
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
