#!/usr/bin/env bash
# Train models fundiff ships, one at a time, each with its recipe and seed 0, and
# export each one's weights; every run's log ends in a JSON line with its seconds
# and card, for the model card. By default:
#   - diffusion-class: the Part A MNIST backend (fundiff/backends/mnist.py);
#   - classifier: the judge of generated digits.
#
#   scripts/train_shipped.sh DATA_DIR OUT_DIR [KIND ...]
set -euo pipefail
data=${1:?usage: scripts/train_shipped.sh DATA_DIR OUT_DIR}
out=${2:?usage: scripts/train_shipped.sh DATA_DIR OUT_DIR}
py=${PYTHON:-python3}
shift 2
kinds=("$@")
[ ${#kinds[@]} -gt 0 ] || kinds=(diffusion-class classifier)
mkdir -p "$out"
for kind in "${kinds[@]}"; do
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
