"""Write a run's model weights (EMA if kept) alone, as fp16 safetensors, with the run's config.

python scripts/export_weights.py RUN_DIR/checkpoint.safetensors OUT.safetensors
"""

from __future__ import annotations

import sys

from fundiff.training.weights import export_weights

if __name__ == "__main__":
    checkpoint, out = sys.argv[1], sys.argv[2]
    print(out, export_weights(checkpoint, out), "values")
