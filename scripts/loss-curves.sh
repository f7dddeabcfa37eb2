#!/usr/bin/env bash
# The same RecCNN training run twice, with burn's generic layers and with the CPU kernels
# (`--conv-backward generic` / `fast`), from the same start and seed: the loss curves must
# agree within float noise (scripts/compare-runs.py, windows of 50 steps). Also prints each
# run's seconds per step.
#   scripts/loss-curves.sh [STEPS] [OUT]     (default 200 steps, runs/loss-curves)
# Start: the shipped jpeg-q50 (RecCNN 32 x 10), one RecCNN stage at its quality.
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-200}
out=${2:-runs/loss-curves}
. scripts/lib.sh
setup_cli release
rm -rf "$out"
mkdir -p "$out"
for backward in generic fast; do
  start=$(date +%s.%N)
  target/release/cnncodec train --out "$out/$backward" --quality 50 --init jpeg-q50 \
    --stages 1 --first-stage rec --steps "$steps" --rec-lr 1e-4:1e-5 --seed 7 \
    --split train --batch 16 --patch 40 --conv-backward "$backward" >"$out/$backward.out" 2>&1
  end=$(date +%s.%N)
  python3 -c "print('$backward: ' + format(($end - $start) / $steps, '.3f') + ' s per step (whole run)')"
done
python3 scripts/compare-runs.py "$out/generic/train.log" "$out/fast/train.log" --window 50
