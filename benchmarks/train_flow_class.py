"""Benchmark: train flow-class with the write-up's recipe and print JSON figures.

Runs ``fundiff.training.loop.train`` itself (the code the CLI runs), in a temporary run
directory, with sample grids off so that only training is timed. Each epoch's
time includes what the trainer does at every epoch end (metrics, loss curve,
checkpoint). Prints one JSON object: device and card, torch version, date,
seconds per epoch, images per second and the final loss (mean over the last
epoch, and the last step's).

    python benchmarks/train_flow_class.py --device cuda --data-dir DIR
    python benchmarks/train_flow_class.py --device cpu --epochs 1 --data-dir DIR
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import tempfile
import time

import torch
from machine import cpu_name  # this script's folder, first on the path of ``python benchmarks/...``

from fundiff.device import resolve_device
from fundiff.training.config import recipe
from fundiff.training.loop import train


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--epochs", type=int, default=None, help="default: the recipe's 10")
    p.add_argument("--limit", type=int, default=None, help="first N training images (default all)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    device = resolve_device(args.device)
    config = recipe(
        "flow-class", epochs=args.epochs, limit=args.limit, seed=args.seed, sample_epochs=()
    )
    marks: list[float] = []
    with tempfile.TemporaryDirectory() as run_dir:
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        result = train(
            config, run_dir, device=device, data_dir=args.data_dir, progress=False,
            on_epoch_end=lambda epoch: marks.append(time.perf_counter()),
        )  # fmt: skip
    per_epoch = [b - a for a, b in zip([start, *marks[:-1]], marks, strict=True)]
    steps_per_epoch = len(result.losses) // config.epochs
    images = config.limit or 60000
    total = marks[-1] - start
    print(
        json.dumps(
            {
                "benchmark": "train flow-class, write-up recipe",
                "recipe": {
                    k: v
                    for k, v in config.to_dict().items()
                    if k in ("epochs", "batch_size", "lr", "hidden", "lr_schedule")
                },
                "device": device.type,
                "card": torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name(),
                "cpu_threads": torch.get_num_threads(),
                "torch": torch.__version__,
                "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "images_per_epoch": images,
                "seconds_per_epoch": [round(s, 3) for s in per_epoch],
                "median_seconds_per_epoch": round(statistics.median(per_epoch), 3),
                "total_seconds": round(total, 3),
                "images_per_second": round(images * config.epochs / total, 1),
                "final_loss_last_epoch_mean": round(
                    statistics.fmean(result.losses[-steps_per_epoch:]), 5
                ),
                "final_loss_last_step": round(result.losses[-1], 5),
                **(
                    {
                        "projected_seconds_per_60000_image_epoch": round(
                            60000 / (images * config.epochs / total), 1
                        )
                    }
                    if images != 60000
                    else {}
                ),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
