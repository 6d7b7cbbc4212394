#!/usr/bin/env bash
# Train the models fundiff ships beyond the write-up's Part B runs, one at a time
# on one GPU so that each model card can state its own training seconds:
#   - diffusion-class: the Part A MNIST backend (fundiff/backends/mnist.py);
#   - classifier: the judge of generated digits.
#
#   scripts/train_shipped.sh DATA_DIR OUT_DIR
set -euo pipefail
data=${1:?usage: scripts/train_shipped.sh DATA_DIR OUT_DIR}
out=${2:?usage: scripts/train_shipped.sh DATA_DIR OUT_DIR}
py=${PYTHON:-python3}
mkdir -p "$out"
for kind in diffusion-class classifier; do
  start=$(date +%s.%N)
  "$py" -m fundiff train "$kind" --seed 0 --data-dir "$data" --out "$out/$kind" --no-progress | tee "$out/$kind.log"
  end=$(date +%s.%N)
  "$py" - "$kind" "$start" "$end" <<'PY' | tee -a "$out/$kind.log"
import json, sys, torch
kind, start, end = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
card = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
print(json.dumps({"kind": kind, "command": f"fundiff train {kind} --seed 0", "seconds": round(end - start, 1),
                  "card": card, "torch": torch.__version__}))
PY
  "$py" scripts/export_weights.py "$out/$kind/checkpoint.safetensors" "$out/$kind.safetensors"
done
