#!/usr/bin/env bash
# Train every Part B run of the write-up with the write-up's recipes, on one GPU.
#
#   scripts/train_part_b.sh DATA_DIR OUT_DIR
#
# The runs are independent, so they run side by side on the one GPU: each is
# bound by kernel launches at these small batch sizes, and together they fill it.
# Wall times printed here are therefore not per-run benchmarks; for those see
# benchmarks/train_flow_class.py, which runs alone.
set -euo pipefail
data=${1:?usage: scripts/train_part_b.sh DATA_DIR OUT_DIR}
out=${2:?usage: scripts/train_part_b.sh DATA_DIR OUT_DIR}
mkdir -p "$out"
py=${PYTHON:-python3}

run() {  # name, then fundiff train arguments
  local name=$1; shift
  local t0=$SECONDS
  "$py" -m fundiff train "$@" --data-dir "$data" --out "$out/$name" --no-progress > "$out/$name.log" 2>&1
  echo "$name: exit 0 after $((SECONDS - t0)) s: fundiff train $*" | tee -a "$out/$name.log"
}

run denoiser denoiser &
run pure-noise pure-noise &
run flow-time flow-time &
run flow-class flow-class &
# The LR-scheduler ablation: the same recipe at a constant lr 1e-2, then two
# candidate optimisation changes that might recover the quality without a schedule.
run flow-class-constant flow-class --lr-schedule constant &
run flow-class-constant-ema flow-class --lr-schedule constant --ema-decay 0.999 &
run flow-class-constant-lr1e-3 flow-class --lr-schedule constant --lr 1e-3 &
wait
