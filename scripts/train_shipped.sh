#!/usr/bin/env bash
# Train the models fundiff ships, side by side on one machine (one GPU is
# plenty), each with seed 0 and the flags below, and export each one's weights.
# Every run's log ends in a JSON line with its exact command, seconds and card,
# for its model card.
#
#   scripts/train_shipped.sh DATA_DIR OUT_DIR [KIND ...]     (default: all)
#   TRAIN_FLAGS="--limit 512 --epochs 1" scripts/train_shipped.sh ...   (a quick trial)
#
# Shipped flags, beyond the write-up's recipe (`fundiff train KIND`):
#   denoiser    --hidden 64       D=64, not 128, to keep the package's assets under 25 MB
#   pure-noise  --hidden 32       it learns a constant (the mean digit); a small net suffices
#   flow-time   --ema-decay 0.999 sampled with the weight average
#   flow-class  --ema-decay 0.999
#   diffusion-class, classifier: their recipes (fundiff/training/config.py)
set -euo pipefail
data=${1:?usage: scripts/train_shipped.sh DATA_DIR OUT_DIR [KIND ...]}
out=${2:?usage: scripts/train_shipped.sh DATA_DIR OUT_DIR [KIND ...]}
py=${PYTHON:-python3}
shift 2
kinds=("$@")
[ ${#kinds[@]} -gt 0 ] || kinds=(denoiser pure-noise flow-time flow-class diffusion-class classifier)

shipped_flags() {
  case $1 in
    denoiser) echo "--hidden 64" ;;
    pure-noise) echo "--hidden 32" ;;
    flow-time | flow-class) echo "--ema-decay 0.999" ;;
    diffusion-class | classifier) echo "" ;;
    *) echo "unknown kind $1" >&2; return 2 ;;
  esac
}

train_one() {
  local kind=$1 flags start end
  flags="$(shipped_flags "$kind") ${TRAIN_FLAGS:-}"
  start=$(date +%s.%N)
  # shellcheck disable=SC2086  # flags split on purpose
  "$py" -m fundiff train "$kind" --seed 0 $flags --data-dir "$data" --out "$out/$kind" --no-progress >"$out/$kind.log" 2>&1
  end=$(date +%s.%N)
  "$py" - "$kind" "$flags" "$start" "$end" "${#kinds[@]}" <<'PY' >>"$out/$kind.log"
import json, sys, torch
kind, flags, start, end, side_by_side = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
card = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
command = " ".join(["fundiff train", kind, "--seed 0", *flags.split()])
print(json.dumps({"kind": kind, "command": command, "seconds": round(end - start, 1), "card": card,
                  "torch": torch.__version__, "runs_side_by_side": side_by_side}))
PY
  "$py" scripts/export_weights.py "$out/$kind/checkpoint.safetensors" "$out/$kind.safetensors" >>"$out/$kind.log"
}

mkdir -p "$out"
for kind in "${kinds[@]}"; do shipped_flags "$kind" >/dev/null; done
pids=()
for kind in "${kinds[@]}"; do
  train_one "$kind" &
  pids+=($!)
done
status=0
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then
    echo "${kinds[$i]}: failed; see $out/${kinds[$i]}.log" >&2
    status=1
  fi
done
for kind in "${kinds[@]}"; do tail -n 2 "$out/$kind.log"; done
exit $status
