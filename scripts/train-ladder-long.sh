#!/usr/bin/env bash
# The JPEG ladder's long runs (models/jpeg-qN.cnnmodel from the third ladder on): each model of
# the previous ladder (models/jpeg-qN.cnnmodel as of commit 583b144, taken from git) trained on
# at its own compact quality, stock jpegenc/jpegdec (islow) in the loop, on the CPU kernels:
# STEPS steps (default 8000; about 14 minutes each on a 2-core AVX-512 VM), batch 16 of 40x40,
# learning rate 2e-4 -> 1e-5, checkpointed every 250 steps, with the learning curve (dev-eval
# PSNR every 1000 steps) in runs/ladder-long/jpeg-qN/curve.csv. The ComCNN is kept, so every
# model still decodes the others' streams' sizes and the default streams.
# Re-running resumes each unfinished run from its checkpoint (start it detached:
# `setsid nohup scripts/train-ladder-long.sh > runs/ladder-long.log 2>&1 &`).
# Another round: BASE=<commit whose models/ to start from> OUT=<runs folder> STEPS=N
# LR=A:B SEED=S (seed S + N) SCALES=F,G (multi-scale sampling), for example the fourth ladder:
#   BASE=fdf408e OUT=runs/ladder-round2 STEPS=10000 LR=1e-4:1e-5 SEED=200 SCALES=1,0.5 \
#     scripts/train-ladder-long.sh 50 10 30 20 70
#   scripts/train-ladder-long.sh [QUALITY...]     (default: 50 30 10 20 70)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
setup_cli release
base="${BASE:-583b144}"
runs="${OUT:-runs/ladder-long}"
steps="${STEPS:-8000}"
lr="${LR:-2e-4:1e-5}"
seed="${SEED:-100}"
scales="${SCALES:-1}"
mkdir -p "$runs"
for q in ${@:-50 30 10 20 70}; do
  out="$runs/jpeg-q$q"
  start="$runs/jpeg-q$q-start.cnnmodel"
  model_at "$base" "jpeg-q$q" "$start"
  [ -f "$out/model.cnnmodel" ] && continue
  "$bin" train --out "$out" --quality "$q" --init "$start" --split train,train-video \
    --stages 1 --steps "$steps" --batch 16 --patch 40 --rec-lr "$lr" --seed "$((seed + q))" --scales "$scales" \
    --checkpoint-every 250 --curve-every 1000 --name "jpeg-q$q"
done
