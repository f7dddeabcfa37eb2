#!/usr/bin/env bash
# HEVC intra models (issue 20): the default model's ComCNN kept, its RecCNN trained on
# compact images coded by the real x265enc ! avdec_h265 (every frame a key frame) at each QP,
# STEPS steps (default 3,000), 2e-4 -> 1e-5, seed 500 + QP, on train + train-video, into
# runs/hevc/hevc-qpN. Detached and resumable (the same command continues from checkpoints):
#   setsid nohup scripts/train-hevc.sh > runs/hevc.log 2>&1 &
#   scripts/train-hevc.sh [QP...]      (default: 26 30 34 38 42)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
setup_cli release
steps="${STEPS:-3000}"
mkdir -p runs/hevc
for qp in ${@:-26 30 34 38 42}; do
  out="runs/hevc/hevc-qp$qp"
  [ -f "$out/model.cnnmodel" ] && continue
  "$bin" train --out "$out" --codec hevc --quality "$qp" --init jpeg-q50 --first-stage rec \
    --split train,train-video --stages 1 --steps "$steps" --batch 16 --patch 40 \
    --rec-lr 2e-4:1e-5 --seed "$((500 + qp))" --checkpoint-every 250 --name "hevc-qp$qp"
done
