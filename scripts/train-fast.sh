#!/usr/bin/env bash
# The CPU-class model `fast` (models/jpeg-q50-fast.cnnmodel), behind the ladder's ComCNN so it
# decodes the default streams, into runs/fast/, on the CPU (about 6 minutes here):
#  1. grown: the previous `fast` (16 x 3; models/jpeg-q50-fast.cnnmodel as of commit 583b144,
#     taken from git) grown to 16 features x 4 layers computing the same function (Net2Net),
#     then 6,000 RecCNN steps at compact quality 50 (1e-3 -> 1e-5);
#  2. jpeg-q50-fast: 24,000 more steps at quality 50 (3e-4 -> 1e-5).
# With the argument `own-comcnn` it also runs the experiment of docs/training.md: from step 1,
# a ComCNN stage through the small RecCNN (3,000 steps, codec as identity, 1e-4 -> 1e-5) and a
# RecCNN stage (3,000 steps, 3e-4 -> 1e-5) into runs/fast/own-comcnn (streams of its own).
# With `round2`: the fast of commit fdf408e (the result of steps 1-2) trained on for 60,000
# steps (2e-4 -> 1e-5) with multi-scale sampling (`--scales 1,0.5`) into runs/fast/round2,
# the shipped model from the fourth ladder on (about 11 minutes).
# Re-running resumes an unfinished run from its checkpoint.
#   scripts/train-fast.sh [own-comcnn|round2]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
setup_cli release
mkdir -p runs/fast
start=runs/fast/start.cnnmodel
model_at 583b144 jpeg-q50-fast "$start"
common=(--quality 50 --split train,train-video --batch 16 --patch 40 --checkpoint-every 250)
[ -f runs/fast/grown/model.cnnmodel ] || "$bin" train --out runs/fast/grown --init "$start" \
  --rec-init grow --features 16 --depth 4 --stages 1 --steps 6000 --rec-lr 1e-3:1e-5 --seed 161 \
  --curve-every 2000 --name jpeg-q50-fast-grown "${common[@]}"
[ -f runs/fast/jpeg-q50-fast/model.cnnmodel ] || "$bin" train --out runs/fast/jpeg-q50-fast \
  --init runs/fast/grown/model.cnnmodel --stages 1 --steps 24000 --rec-lr 3e-4:1e-5 --seed 163 \
  --curve-every 4000 --name jpeg-q50-fast "${common[@]}"
if [ "${1:-}" = own-comcnn ] && [ ! -f runs/fast/own-comcnn/model.cnnmodel ]; then
  "$bin" train --out runs/fast/own-comcnn --init runs/fast/grown/model.cnnmodel --first-stage com \
    --stages 2 --steps 3000 --com-lr 1e-4:1e-5 --rec-lr 3e-4:1e-5 --seed 162 --curve-every 1000 \
    --name jpeg-q50-fast "${common[@]}"
fi
if [ "${1:-}" = round2 ] && [ ! -f runs/fast/round2/model.cnnmodel ]; then
  start2=runs/fast/round2-start.cnnmodel
  model_at fdf408e jpeg-q50-fast "$start2"
  "$bin" train --out runs/fast/round2 --init "$start2" --stages 1 --steps 60000 \
    --rec-lr 2e-4:1e-5 --scales 1,0.5 --seed 165 --curve-every 10000 --name jpeg-q50-fast \
    "${common[@]}"
fi
